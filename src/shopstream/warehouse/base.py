"""The `Warehouse` contract shared by DuckDB and Snowflake, and the exactly-once commit.

The commit algorithm lives here once; each backend supplies cursors, a bulk stage loader
and error translation. See docs/design.md, "Exactly once into the warehouse".

Backends subclass `Warehouse`; `factory.open_warehouse` picks one from the settings.

Examples:
    >>> with open_warehouse(settings) as wh:  # doctest: +SKIP
    ...     wh.init()
    ...     result = wh.commit_batch(events, dead_letters, BatchMeta("gold", qid, batch_id))
    ...     rows = wh.query("SELECT * FROM kpis")
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from shopstream.contract import DEFAULT_LATENESS_HORIZON, TOTAL_SQL_TYPE
from shopstream.errors import ShopstreamError, Transient
from shopstream.faults import pause_at
from shopstream.gold_tables.model import GoldTable
from shopstream.gold_tables.render import upsert_steps
from shopstream.gold_tables.tables import GOLD_TABLES
from shopstream.warehouse.batch import (
    DEAD_LETTER_KEY,
    DEAD_LETTERS_SCHEMA,
    EVENTS_SCHEMA,
    SOURCE_KEY,
    BatchMeta,
    BatchResult,
    conform,
    first_per_key,
    utcnow,
)
from shopstream.warehouse.dedup import dead_letters_since, events_since, sources_since
from shopstream.warehouse.dialect import (
    COLUMN_ADDITIONS,
    COLUMN_RENAMES,
    DEAD_LETTER_SUMMARY_STEPS,
    TABLES,
    WIDENED_TOTALS,
    Dialect,
    add_column_statement,
    commit_statements,
    expected_columns,
    needs_widening,
    rename_column_statement,
    schema_statements,
    table_columns_query,
    widen_total_statement,
)
from shopstream.warehouse.exceptions import (
    CommitFailed,
    CommitRetryable,
    WarehouseError,
    WarehouseSchemaError,
)


class Cursor(Protocol):
    """The DB-API subset both backends' cursors provide."""

    description: Any

    def execute(self, sql: str, params: Sequence[Any] | None = ...) -> Any: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...


class Warehouse(ABC):
    """A place Gold commits micro-batches to and the dashboard reads views from.

    Thread-safe: commits are serialized by a lock; reads may come from any thread.
    """

    kind: ClassVar[Dialect]
    # The aggregate tables upserted from each batch's new events (gold_tables/tables.py);
    # a test may set its own declarations before init.
    gold_tables: tuple[GoldTable, ...] = GOLD_TABLES
    # Whether each commit drops and re-creates the stage tables instead of deleting their rows.
    recreates_stage: ClassVar[bool] = False

    def __init__(self) -> None:
        self._write_lock = threading.RLock()
        self._closed = False
        self._stage_ready = False
        # (lease name, holder id, TTL) while this process holds the writer lease (lease.py):
        # every commit re-checks it inside its transaction, so a writer whose lease was
        # taken over commits nothing.
        self.fence: tuple[str, str, timedelta] | None = None
        # A pause point inside the commit (shopstream.faults): open_warehouse sets it from
        # `faults.pause_in_commit`; None (always, in normal use) never pauses.
        self.pause_in_commit: Path | None = None

    # ---- backend primitives -------------------------------------------------------------

    @abstractmethod
    def _writer(self) -> Any:
        """Context manager: the cursor that writes (the caller holds the write lock)."""

    @abstractmethod
    def _reader(self) -> Any:
        """Context manager: a cursor for one read, usable from any thread."""

    @abstractmethod
    def _load_stage(self, cur: Cursor, table: str, data: pa.Table) -> None:
        """Bulk-load `data` (columns in stage-table order) into an empty temp stage table."""

    @abstractmethod
    def _translate(self, err: Exception, action: str) -> ShopstreamError:
        """Turn a driver exception into a user-facing warehouse error (no secrets)."""

    @abstractmethod
    def target(self) -> str:
        """Where this warehouse is, for messages (file path or account/database.schema)."""

    @abstractmethod
    def _close(self) -> None:
        """Release connections."""

    def _after_commit(self, cur: Cursor) -> None:
        """Upkeep after a batch is durable (DuckDB: its checkpoint); must not raise."""
        return None

    # ---- public API ---------------------------------------------------------------------

    def init(self) -> list[str]:
        """Migrate, create tables (if absent) and (re)create views; safe to run any number of
        times. Returns the migrations applied (`table.old -> new`), usually none."""
        with self._write_lock, self._writer() as cur:
            try:
                applied = self._rename_columns(cur)
                applied += self._widen_totals(cur)
                statements = schema_statements(self.kind, self.gold_tables)
                views = [st for st in statements if not st.startswith("CREATE TABLE")]
                for stmt in statements:
                    if stmt not in views:
                        cur.execute(stmt)
                applied += self._add_columns(cur)
                # Before the views, which would fail on a foreign table less clearly.
                self._check_columns(cur)
                for stmt in views:
                    if not _filled_backfill(cur, stmt):
                        cur.execute(stmt)
            except Exception as err:
                raise self._translate(err, "initializing the warehouse") from err
        return applied

    def commit_batch(
        self,
        events: pa.Table,
        dead_letters: pa.Table | None,
        meta: BatchMeta,
        *,
        horizon: timedelta = DEFAULT_LATENESS_HORIZON,
    ) -> BatchResult:
        """Commit one micro-batch exactly once, in one transaction; replays add nothing.

        `horizon` is Silver's lateness horizon: with the batch's own times it bounds which
        stored rows the new-event check reads (see warehouse/dedup.py for why that is exact).
        """
        t0 = time.perf_counter()
        input_rows = events.num_rows if meta.input_rows is None else meta.input_rows
        clean = conform(events, EVENTS_SCHEMA, "events")
        # Each raw record once: copies Silver re-sent in the same batch share a source.
        sources = first_per_key(clean.select(list(SOURCE_KEY)), SOURCE_KEY)
        # Gold dedups within the batch already; doing it again keeps the PK safe regardless.
        ev = first_per_key(clean, ("event_id",))
        dl_read = conform(dead_letters, DEAD_LETTERS_SCHEMA, "dead_letters")
        dl = first_per_key(dl_read, DEAD_LETTER_KEY)
        sql = commit_statements(self.kind, self.gold_tables)
        with self._write_lock, self._writer() as cur:
            in_txn = False
            try:
                self._stage(cur, sql, ev, dl, sources)
                cur.execute("BEGIN")
                in_txn = True
                replay = _scalar(cur, sql["find_batch"], [meta.query_id, meta.batch_id]) > 0
                now = utcnow()
                new_sources = 0
                if sources.num_rows:
                    cur.execute(sql["mark_existing_sources"], [sources_since(sources)])
                    new_sources = _scalar(cur, sql["count_new_sources"])
                if new_sources:
                    cur.execute(sql["insert_clean_sources"], [meta.batch_id])
                new_events = 0
                if ev.num_rows:
                    cur.execute(sql["mark_existing_events"], [events_since(ev, horizon)])
                    new_events = _scalar(cur, sql["count_new_events"])
                if new_events:
                    cur.execute(sql["insert_silver_events"], [now, meta.batch_id])
                    # UPDATE existing keys first, then INSERT the missing ones: the other
                    # order would add the new keys' figures twice.
                    for target in self.gold_tables:
                        for step, takes_now in upsert_steps(target, self.kind):
                            cur.execute(sql[step], [now] if takes_now else [])
                new_dl = 0
                if dl.num_rows:
                    cur.execute(sql["mark_existing_dead_letters"], [dead_letters_since(dl)])
                    new_dl = _scalar(cur, sql["count_new_dead_letters"])
                if new_dl:
                    cur.execute(sql["insert_dead_letters"], [now, meta.batch_id])
                    for step, takes_now in DEAD_LETTER_SUMMARY_STEPS:
                        cur.execute(sql[step], [now] if takes_now else [])
                if self.fence is not None:
                    self._check_fence(cur)
                # Both timings end here, after every write but before COMMIT (the row that
                # records them is part of the transaction, so the COMMIT itself is never in it).
                commit_ms = (time.perf_counter() - t0) * 1000.0
                written = utcnow()
                pause_at(self.pause_in_commit)
                if replay:
                    cur.execute(
                        sql["mark_replay"],
                        [new_events, new_events, new_dl, now, meta.query_id, meta.batch_id],
                    )
                else:
                    started = meta.started_at_utc
                    cur.execute(
                        sql["insert_batch"],
                        [
                            meta.query_name,
                            meta.query_id,
                            meta.batch_id,
                            meta.offsets_json(meta.start_offsets),
                            meta.offsets_json(meta.end_offsets),
                            input_rows,
                            ev.num_rows,
                            new_events,
                            input_rows - new_events,
                            dl_read.num_rows,
                            new_dl,
                            started,
                            now,
                            max((written - started).total_seconds() * 1000.0, 0.0),
                            commit_ms,
                        ],
                    )
                cur.execute("COMMIT")
                in_txn = False
            except Exception as err:
                if in_txn:
                    self._rollback(cur)
                if isinstance(err, ShopstreamError) and not isinstance(err, WarehouseError):
                    raise
                cause = err if isinstance(err, ShopstreamError) else self._translate(err, "")
                # Replaying a batch is always safe, so a transient cause stays retryable.
                failure = CommitRetryable if isinstance(cause, Transient) else CommitFailed
                raise failure(
                    f"commit of {meta.query_name} batch {meta.batch_id} to {self.target()} "
                    f"failed and was rolled back (nothing was written): {cause}",
                    query_id=meta.query_id,
                    batch_id=meta.batch_id,
                ) from err
            self._after_commit(cur)
        return BatchResult(
            query_id=meta.query_id,
            batch_id=meta.batch_id,
            input_rows=input_rows,
            staged_rows=ev.num_rows,
            new_events=new_events,
            duplicates=new_sources - new_events,
            dead_letters=dl_read.num_rows,
            new_dead_letters=new_dl,
            redelivered=(input_rows - new_sources) + (dl_read.num_rows - new_dl),
            replay=replay,
            commit_ms=(time.perf_counter() - t0) * 1000.0,
        )

    def record_data_loss(
        self, query_name: str, query_id: str, batch_id: int, lost_records: int, detail: str
    ) -> bool:
        """Record an accepted retention gap in `pipeline_batches`; False if already recorded.

        `query_id`/`batch_id` are the stage's query and the batch that skips the gap, so the
        same gap found again (a rerun before that batch committed) is recorded once.
        """
        sql = commit_statements(self.kind)
        loss_id = f"data-loss:{query_id}"
        with self._write_lock, self._writer() as cur:
            try:
                if _scalar(cur, sql["find_batch"], [loss_id, batch_id]):
                    return False
                now = utcnow()
                cur.execute(
                    sql["insert_data_loss"],
                    [query_name, loss_id, batch_id, now, now, lost_records, detail],
                )
            except Exception as err:
                raise self._translate(err, "recording the data loss") from err
        return True

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one writing statement on the writer's session, under the write lock."""
        with self._write_lock, self._writer() as cur:
            try:
                cur.execute(sql, params) if params else cur.execute(sql)
            except Exception as err:
                raise self._translate(err, "writing the warehouse") from err

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run one SQL statement; rows as dicts keyed by lower-case column names."""
        names, rows = self._run(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def query_rows(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one SQL statement; (column names, row tuples) — cheaper for tables and CSV."""
        return self._run(sql, params)

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run one SQL statement; the result as an arrow table."""
        names, rows = self._run(sql, params)
        if not rows:
            return pa.table({n: pa.array([], pa.null()) for n in names})
        return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])

    def table_counts(self) -> dict[str, int]:
        """Row count of every warehouse table."""
        union = " UNION ALL ".join(f"SELECT '{t}' AS name, COUNT(*) AS n FROM {t}" for t in TABLES)
        return {r["name"]: int(r["n"]) for r in self.query(union)}

    def last_batch(self) -> dict[str, Any] | None:
        """The most recently committed pipeline batch, if any."""
        rows = self.query(
            "SELECT query_name, query_id, batch_id, input_rows, new_events, duplicates, "
            "new_dead_letters, replays, committed_at, commit_ms "
            "FROM pipeline_batches ORDER BY committed_at DESC, batch_id DESC LIMIT 1"
        )
        return rows[0] if rows else None

    def health(self) -> dict[str, Any]:
        """Reachability, table row counts and the last batch; never raises."""
        try:
            return {
                "kind": self.kind,
                "target": self.target(),
                "ok": True,
                "tables": self.table_counts(),
                "last_batch": self.last_batch(),
            }
        except ShopstreamError as err:
            return {"kind": self.kind, "target": self.target(), "ok": False, "error": str(err)}

    def close(self) -> None:
        """Close connections; idempotent."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Warehouse:
        """Use as a context manager; closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the warehouse."""
        self.close()

    def __repr__(self) -> str:
        """Class and target only: never credentials."""
        return f"{type(self).__name__}({self.target()!r})"

    # ---- helpers ------------------------------------------------------------------------

    def _stage(
        self, cur: Cursor, sql: dict[str, str], ev: pa.Table, dl: pa.Table, sources: pa.Table
    ) -> None:
        """Load the batch into the session's temp stage tables, every row flagged new.

        The tables live as long as the writer session and are emptied for each batch, or
        dropped and created again where the engine keeps deleted rows (`recreates_stage`).
        """
        stages = {"events": ev, "sources": sources, "dead_letters": dl}
        for name, table in stages.items():
            if self.recreates_stage:
                cur.execute(sql[f"drop_stage_{name}"])
            if self.recreates_stage or not self._stage_ready:
                cur.execute(sql[f"create_stage_{name}"])
            else:
                cur.execute(sql[f"clear_stage_{name}"])
            if table.num_rows:
                self._load_stage(cur, f"stage_{name}", _with_is_new(table))
        self._stage_ready = True

    def _rename_columns(self, cur: Cursor) -> list[str]:
        """Apply the COLUMN_RENAMES whose old column still exists (see dialect.py).

        Each rename is its own statement (Snowflake commits DDL at once anyway); one that
        was applied is skipped next time, so an interrupted migration resumes.
        """
        applied = []
        columns: dict[str, set[str]] = {}
        for table, old, new in COLUMN_RENAMES:
            if table not in columns:
                cur.execute(table_columns_query(self.kind), [table])
                columns[table] = {row[0] for row in cur.fetchall()}
            if old in columns[table] and new not in columns[table]:
                cur.execute(rename_column_statement(self.kind, table, old, new))
                columns[table] = (columns[table] - {old}) | {new}
                applied.append(f"{table}.{old} -> {new}")
        return applied

    def _add_columns(self, cur: Cursor) -> list[str]:
        """Add the COLUMN_ADDITIONS a table created before them lacks (see dialect.py)."""
        applied = []
        for table, column, sql_type in COLUMN_ADDITIONS:
            cur.execute(table_columns_query(self.kind), [table])
            if column not in {row[0] for row in cur.fetchall()}:
                cur.execute(add_column_statement(self.kind, table, column, sql_type))
                applied.append(f"{table} + {column}")
        return applied

    def _check_columns(self, cur: Cursor) -> None:
        """Every table has the columns schema.sql gives it, or a one-line error naming the fix.

        CREATE TABLE IF NOT EXISTS keeps a same-named table someone else made; without this
        check Gold would fail on it at every batch, forever.
        """
        for table, wanted in expected_columns(self.gold_tables).items():
            cur.execute(table_columns_query(self.kind), [table])
            missing = sorted(wanted - {row[0] for row in cur.fetchall()})
            if missing:
                raise WarehouseSchemaError(
                    f"table {table} in {self.target()} lacks column(s) {', '.join(missing)}: "
                    "it was not made by this version of shopstream. Rename or drop it and "
                    "run `shopstream warehouse init`, or point shopstream at another "
                    "database/schema."
                )

    def _widen_totals(self, cur: Cursor) -> list[str]:
        """Widen money totals created as DECIMAL(18,2) to the contract's type (WIDENED_TOTALS).

        Runs before the views are recreated, so they are rebuilt over the wider columns.
        """
        applied = []
        for table, column in WIDENED_TOTALS:
            cur.execute(table_columns_query(self.kind), [table])
            precision = {row[0]: row[1] for row in cur.fetchall()}.get(column)
            if needs_widening(precision):
                cur.execute(widen_total_statement(self.kind, table, column))
                applied.append(f"{table}.{column} -> {TOTAL_SQL_TYPE}")
        return applied

    def _check_fence(self, cur: Cursor) -> None:
        """Inside the commit's transaction: still the lease holder? Renew, or refuse."""
        from shopstream.warehouse.dialect import lease_statements
        from shopstream.warehouse.exceptions import LeaseLost

        assert self.fence is not None
        sql = lease_statements(self.kind)
        name, holder, ttl = self.fence
        if not _scalar(cur, sql["held"], [name, holder]):
            raise LeaseLost(
                f"this writer's lease on {self.target()} was taken over by another writer "
                "(it was not renewed within warehouse.lease_ttl_seconds); stopping without "
                "committing. Run one Gold per warehouse; restart this one once the other stops."
            )
        now = utcnow()
        cur.execute(sql["renew"], [now, now + ttl, name, holder])

    def _rollback(self, cur: Cursor) -> None:
        # A failed rollback must not hide the original error; the server drops the
        # transaction with the session anyway.
        with contextlib.suppress(Exception):
            cur.execute("ROLLBACK")

    def _run(
        self, sql: str, params: Sequence[Any] | None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        if self._closed:
            raise WarehouseError(f"warehouse {self.target()} is closed.")
        with self._reader() as cur:
            try:
                cur.execute(sql, params) if params else cur.execute(sql)
                if cur.description is None:
                    return [], []
                names = [d[0].lower() for d in cur.description]
                return names, [tuple(r) for r in cur.fetchall()]
            except Exception as err:
                raise self._translate(err, "running the query") from err


def _with_is_new(table: pa.Table) -> pa.Table:
    """`table` plus the stage flag column, every row starting as new."""
    return table.append_column("is_new", pa.array([True] * table.num_rows, pa.bool_()))


_INSERT_INTO = re.compile(r"INSERT INTO (\w+)", re.IGNORECASE)


def _filled_backfill(cur: Cursor, stmt: str) -> bool:
    """Is `stmt` one of schema.sql's backfills (its only INSERTs) into a table with rows?

    Each backfill guards itself with NOT EXISTS, but both engines still scan the history
    to find out (clean_sources' took 0.35 s at 10M events, at every start); a row of the
    target is one cheap lookup.
    """
    target = _INSERT_INTO.match(stmt)
    return (
        bool(target)
        and _scalar(cur, f"SELECT COUNT(*) FROM (SELECT 1 FROM {target[1]} LIMIT 1) AS t") > 0
    )


def _scalar(cur: Cursor, sql: str, params: Sequence[Any] | None = None) -> int:
    """First column of the first row as int (0 when there is none)."""
    cur.execute(sql, params) if params else cur.execute(sql)
    row = cur.fetchone()
    return int(row[0]) if row else 0
