"""The embedded default warehouse: one DuckDB file under SHOPSTREAM_HOME.

DuckDB lets one process open a file for writing. That process serves reads too: every read
gets its own cursor (its own connection to the same database, safe across threads) and
commits are serialized by a lock. Other processes open the file `read_only=True`, which
fails while a writer holds it; opening retries briefly, then raises `WarehouseLocked`.

Examples:
    >>> with DuckDBWarehouse(Path(".shopstream/warehouse.duckdb")) as wh:  # doctest: +SKIP
    ...     wh.init()
    ...     wh.query("SELECT * FROM kpis")
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow as pa

from shopstream.errors import ShopstreamError
from shopstream.warehouse.base import Cursor, Warehouse
from shopstream.warehouse.dialect import TABLES, VIEWS, Dialect
from shopstream.warehouse.exceptions import (
    QueryError,
    WarehouseError,
    WarehouseLocked,
    WarehouseNotInitialized,
    WriterBusy,
)
from shopstream.warehouse.lease import sidecar_holder

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 5.0
# DuckDB's default row group holds 122,880 rows, and the automatic checkpoint that completes
# one rewrites it inside the commit that crossed the WAL threshold: at 10k events/s Gold's
# commit grew by 0.4-0.9 s every ~13 s (bench e2e's p99). A checkpoint over 16,384-row
# groups stayed under 0.22 s in a replay of the same run. The size is an ATTACH option that
# the file does not keep, so the writer attaches it with the option at every open
# (`warehouse.duckdb_row_group_size`).
ROW_GROUP_SIZE = 16_384
_RESERVED_CATALOGS = {"memory", "temp", "system"}


@dataclass(frozen=True)
class EngineLimits:
    """What one DuckDB instance may take: memory (the buffer manager's) and spill space.

    The checkpoint figures are here because, like every setting, DuckDB's cannot change
    once the instance is locked (bench sql-load raises both). `checkpoint_wal_bytes` is the
    WAL size after which the writer checkpoints (`DuckDBWarehouse._after_commit`);
    `auto_checkpoint` is DuckDB's own `checkpoint_threshold`, kept far above it as a
    backstop only: DuckDB compares the threshold with the WAL *plus an estimate of the
    committing transaction's size*, and Gold's upserts made that estimate pass 16MB at
    every commit while the WAL grew by ~3 MB: each commit checkpointed, rewriting the row
    groups it had just updated (see `_after_commit` for the figures).
    """

    memory_limit: str = "2GB"
    max_temp_directory_size: str = "20GB"
    checkpoint_wal_bytes: int = 16 << 20
    auto_checkpoint: str = "1GB"
    threads: int | None = None  # None: DuckDB's default, one per core


def lock_down(conn: duckdb.DuckDBPyConnection, limits: EngineLimits) -> None:
    """Fix the instance's limits, then lock it: no file, URL or extension beyond its own.

    After this no connection of the instance (every cursor, the SQL endpoint's clients and
    Gold's writer alike) can read or write a file other than the database it has attached
    and its spill directory, install or load an extension, or change any setting:
    `read_text`, `glob`, `COPY ... TO` raise a PermissionException and every `SET`, and
    `enable_profiling`/`enable_logging`, "the configuration has been locked" (DuckDB
    2.0.1). What the writer needs still works: Arrow tables handed over with `register()`
    (Gold's batches; replacement scans of Python variables stop), spilling to the
    configured temp directory, checkpoints, DDL for migrations. So everything the writer
    sets is set before this, at open.
    """
    if limits.threads is not None:
        conn.execute(f"SET threads = {int(limits.threads)}")
    for name, value in (
        ("memory_limit", limits.memory_limit),
        ("max_temp_directory_size", limits.max_temp_directory_size),
        ("checkpoint_threshold", limits.auto_checkpoint),
        ("autoinstall_known_extensions", "false"),
        ("autoload_known_extensions", "false"),
        ("allow_community_extensions", "false"),
        ("enable_external_access", "false"),
        ("lock_configuration", "true"),
    ):
        conn.execute(f"SET {name} = '{value}'")


_BAD_SQL = (duckdb.ParserException, duckdb.CatalogException, duckdb.BinderException)


class WriterFirst:
    """Readers that opt in step aside while the writer writes: their next step waits for it.

    The SQL endpoint's clients share the writer's CPU cores and GIL. Gold's commit is short
    and must not stall (bench sql-load: 4 looping clients and a long scan made its commits
    3.5x slower on 2 cores), so a client's statement and each chunk of its rows start only
    when no commit is running, and the endpoint interrupts (and later re-runs) statements
    that a commit finds running.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._writing = 0
        self._on_write: list[Callable[[], None]] = []

    def on_write(self, hook: Callable[[], None], *, remove: bool = False) -> None:
        """Call `hook` when a write starts (readers use it to interrupt what they run)."""
        with self._cond:
            if remove:
                self._on_write.remove(hook)
            else:
                self._on_write.append(hook)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold readers back for the block."""
        with self._cond:
            self._writing += 1
            hooks = list(self._on_write)
        for hook in hooks:
            hook()
        try:
            yield
        finally:
            with self._cond:
                self._writing -= 1
                if not self._writing:
                    self._cond.notify_all()

    @property
    def busy(self) -> bool:
        """Whether a write runs now (a cheap check before `wait`)."""
        return self._writing > 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block while a write runs (at most `timeout` s); False if it still runs."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._writing, timeout)


class DuckDBWarehouse(Warehouse):
    """Warehouse in a DuckDB file; `read_only` for processes other than the writer."""

    kind: ClassVar[Dialect] = "duckdb"
    # A DELETE leaves the deleted rows in a temp table's storage (temp tables are never
    # checkpointed), so each commit's scans of the stage read every earlier batch's rows
    # too: after 10 commits the stage held 226,042 rows for 2,858 live ones and one upsert
    # took 50 ms of CPU instead of 12. Re-created tables hold only the batch: 80 commits of
    # 3,000 events after a 100,000-event history, 247 -> 187 ms of CPU and 187 -> 152 ms
    # of wall time per commit (2026-12-06, a probe of commit_batch alone).
    recreates_stage: ClassVar[bool] = True

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        row_group_size: int = ROW_GROUP_SIZE,
        limits: EngineLimits | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.read_only = read_only
        self.limits = limits or EngineLimits()
        self._cursor_lock = threading.Lock()
        self._conn = _connect(self.path, read_only, lock_timeout, row_group_size)
        try:
            lock_down(self._conn, self.limits)
        except BaseException:
            self._conn.close()
            raise
        if not read_only:
            _owner_only(self.path)
        # The writer's main database is an in-memory one with the file attached beside it
        # (see ROW_GROUP_SIZE), so each new connection must be pointed at the file.
        self._use: str | None = None if read_only else use_statement(self.path)
        self._wcur: duckdb.DuckDBPyConnection | None = None
        self.writes = WriterFirst()

    def target(self) -> str:
        """The database file."""
        return str(self.path)

    @contextmanager
    def _writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.read_only:
            raise WarehouseError(
                f"{self.path} is open read-only; only the process that writes the warehouse "
                "(Gold / `shopstream up`) can change it."
            )
        if self._closed:
            raise WarehouseError(f"warehouse {self.path} is closed.")
        # One long-lived writer cursor: its temp stage tables survive between batches.
        if self._wcur is None:
            self._wcur = self._new_cursor()
        with self.writes.writing():
            yield self._wcur

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to this database for one reader thread (the SQL endpoint's)."""
        if self._closed:
            raise WarehouseError(f"warehouse {self.path} is closed.")
        return self._new_cursor()

    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:
            cur = self._conn.cursor()
        if self._use is not None:
            cur.execute(self._use)
        return cur

    @contextmanager
    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._new_cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _load_stage(self, cur: Cursor, table: str, data: pa.Table) -> None:
        assert isinstance(cur, duckdb.DuckDBPyConnection)
        cols = ", ".join(data.column_names)
        cur.register("__shopstream_stage_src", data)
        try:
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM __shopstream_stage_src")
        finally:
            cur.unregister("__shopstream_stage_src")

    def _after_commit(self, cur: Cursor) -> None:
        """Checkpoint once the WAL holds `limits.checkpoint_wal_bytes`, not at every commit.

        DuckDB's own trigger fired at every Gold commit (see EngineLimits). Probe of
        commit_batch alone, 9,000-event batches after a 1M-event history (2026-12-06): a
        checkpoint per commit cost 60-110 ms each; one per ~6 commits (16 MB) 160-320 ms,
        and the whole commit went from 330 to 257 ms of CPU (docs/benchmarks.md). DuckDB
        refuses a checkpoint while a reader's snapshot predates a commit (an SQL client's
        long transaction): the batch stays committed and the next commit tries again.
        """
        try:
            wal = wal_path(self.path).stat().st_size
        except OSError:  # no WAL (nothing to checkpoint), or none we may look at
            return
        if wal < self.limits.checkpoint_wal_bytes:
            return
        try:
            cur.execute(f'CHECKPOINT "{catalog(self.path)}"')
        except duckdb.Error as err:
            log.debug("checkpoint of %s deferred to the next commit: %s", self.path, err)

    def _translate(self, err: Exception, action: str) -> ShopstreamError:
        if isinstance(err, ShopstreamError):
            return err
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = f" while {action}" if action else ""
        if isinstance(err, duckdb.CatalogException) and _mentions_our_table(first):
            return WarehouseNotInitialized(
                f"{first} in {self.path}{where}; create the tables with "
                "`shopstream warehouse init` (Gold does it on start)."
            )
        if isinstance(err, _BAD_SQL):
            return QueryError(f"invalid SQL{where}: {first}")
        return WarehouseError(f"DuckDB error{where} on {self.path}: {first}")

    def _close(self) -> None:
        try:
            if self._wcur is not None:
                self._wcur.close()
        finally:
            self._conn.close()


def _owner_only(path: Path) -> None:
    """The warehouse file and its WAL readable by the writing user only (the data is theirs;
    the SQL endpoint, with its password, is how others read it)."""
    for file in (path, wal_path(path)):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            return  # not ours to change: the open already proved we may write it


def wal_path(path: Path) -> Path:
    """The write-ahead log DuckDB keeps beside the database file.

    Examples:
        >>> wal_path(Path("/x/warehouse.duckdb")).name
        'warehouse.duckdb.wal'
    """
    return path.with_name(path.name + ".wal")


def remove_database(path: Path) -> None:
    """Delete a database file and its write-ahead log, where they exist (benchmarks' runs)."""
    for file in (path, wal_path(path)):
        file.unlink(missing_ok=True)


def _mentions_our_table(message: str) -> bool:
    """Does a catalog error name one of our tables or views (i.e. init never ran)?"""
    words = set(re.findall(r"\w+", message.lower()))
    return "exist" in message and bool(words & {*TABLES, *VIEWS})


def _lock_pid(message: str) -> int | None:
    """The PID in DuckDB's "Conflicting lock is held in <exe> (PID 123)" message (pure).

    Examples:
        >>> _lock_pid("Conflicting lock is held in /usr/bin/python3 (PID 4242) by user me.")
        4242
    """
    found = re.search(r"\(PID (\d+)\)", message)
    return int(found.group(1)) if found else None


def catalog(path: Path) -> str:
    """The name the writer attaches the file under: its stem, as a plain connect names it.

    Examples:
        >>> catalog(Path("/x/warehouse.duckdb")), catalog(Path("memory.db"))
        ('warehouse', 'warehouse')
    """
    stem = path.stem.replace('"', "")
    return "warehouse" if not stem or stem.lower() in _RESERVED_CATALOGS else stem


def use_statement(path: Path) -> str:
    """The `USE` that points a writer's connection at the attached file."""
    return f'USE "{catalog(path)}"'


def connect_file(
    path: Path, read_only: bool = False, row_group_size: int = ROW_GROUP_SIZE
) -> duckdb.DuckDBPyConnection:
    """One DuckDB connection to the file: read-only, or the writer's (see ROW_GROUP_SIZE).

    The writer's is an in-memory database with the file attached and in `USE`; its cursors
    start in the in-memory one and need `use_statement(path)`.
    """
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    # Spill files beside the warehouse, as a plain connect puts them (in-memory: ./.tmp).
    conn = duckdb.connect(":memory:", config={"temp_directory": f"{path}.tmp"})
    try:
        quoted = str(path).replace("'", "''")
        conn.execute(
            f"ATTACH '{quoted}' AS \"{catalog(path)}\" (ROW_GROUP_SIZE {int(row_group_size)})"
        )
        conn.execute(use_statement(path))
    except BaseException:
        conn.close()
        raise
    return conn


def _connect(
    path: Path, read_only: bool, lock_timeout: float, row_group_size: int
) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying while another process holds its lock."""
    if read_only and not path.exists():
        raise WarehouseNotInitialized(
            f"no warehouse at {path}; run `shopstream warehouse init` or start the pipeline "
            "(`shopstream up` / `shopstream gold`) first."
        )
    if not read_only:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout
    delay = 0.05
    while True:
        try:
            # No TimeZone setting: it needs the ICU extension, which may not be installable
            # offline; batches are normalized to naive UTC before they reach DuckDB instead.
            return connect_file(path, read_only, row_group_size)
        except duckdb.IOException as err:
            message = str(err)
            if "lock" not in message.lower():
                if "permission denied" in message.lower():
                    raise WarehouseError(
                        f"cannot open DuckDB file {path}: permission denied. Let the user "
                        "running shopstream read and write the file and its directory, or "
                        "point SHOPSTREAM_WAREHOUSE__DUCKDB_PATH elsewhere."
                    ) from None
                raise WarehouseError(f"cannot open DuckDB file {path}: {message}") from None
            writer = sidecar_holder(path, _lock_pid(message))
            if writer is not None:
                raise WriterBusy(
                    f"another shopstream writer is running against {path}: "
                    f"{writer.describe()}. Stop it first (DuckDB allows one writing "
                    "process), or read through it: its dashboard serves every reader."
                ) from None
            if time.monotonic() >= deadline:
                holder = message.split("Conflicting lock is held in", 1)[-1].strip()
                holder = f" (held by {holder.splitlines()[0]})" if holder != message else ""
                mode = "read-only" if read_only else "for writing"
                raise WarehouseLocked(
                    f"cannot open {path} {mode}: another process is writing it{holder}. "
                    "DuckDB allows one writing process: read through that process (its "
                    "dashboard, or its SQL endpoint, which `shopstream sql` uses when "
                    "SHOPSTREAM_SQL__ENABLED is on), stop it, or use Snowflake."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except (duckdb.ConnectionException, duckdb.ResourceInUseException) as err:
            raise WarehouseError(
                f"cannot open {path}: {str(err).splitlines()[0]}. This process already has it "
                "open with other settings; reuse that Warehouse object."
            ) from None
