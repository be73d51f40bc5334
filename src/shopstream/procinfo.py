"""Processes as /proc (Linux) shows them: alive or not, their trees, resident memory."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def children(pid: int) -> list[int]:
    """Direct children of `pid`."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process is gone
        return out
    for task in tasks:
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree(pids: Iterable[int]) -> set[int]:
    """`pids` and all their descendants."""
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += children(p)
    return seen


def rss_bytes(pid: int, anonymous: bool = False) -> int:
    """Resident set size of one process (0 if it is gone).

    `anonymous`: only what the process allocated itself (RssAnon + RssShmem), without the
    resident pages of files it maps (jars, shared libraries, the JVM's class archive), which
    are clean copies of the files that the kernel drops under memory pressure.
    """
    try:
        if not anonymous:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in lines)
        return sum(int(fields[k].split()[0]) for k in ("RssAnon", "RssShmem")) * 1024
    except (OSError, IndexError, ValueError, KeyError):
        return 0


def tree_rss_bytes(pids: Iterable[int], anonymous: bool = False) -> int:
    """Total RSS of the processes and all their descendants (see `rss_bytes`)."""
    return sum(rss_bytes(p, anonymous) for p in tree(pids))


class PeakRss:
    """Samples the RSS of process trees in a background thread and keeps the peak."""

    def __init__(self, roots: Iterable[int], every: float = 0.5, anonymous: bool = False) -> None:
        self.roots = list(roots)
        self.every = every
        self.anonymous = anonymous
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def add_root(self, pid: int) -> None:
        self.roots.append(pid)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            now = tree_rss_bytes(self.roots, self.anonymous)
            self.samples.append(now)
            self.peak = max(self.peak, now)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # After the command name: field 14 (utime) and 15 (stime) of proc(5), 0-based 11 and 12.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """Each live thread of a process: its name (`comm`, 15 characters) and CPU time so far.

    The JVM names its native threads after the Java ones ("Executor task l", "C2
    CompilerThre"), so this attributes a JVM's CPU without a profiler attached."""
    out: dict[int, tuple[str, float]] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue  # the thread ended in between
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return out


def command_line(pid: int) -> str:
    """The process's command line, arguments space-separated ('' if it is gone)."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""
