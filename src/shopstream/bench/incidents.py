"""Business alerts end to end: how fast each incident is detected, how often normal traffic
raises one.

One `up --no-generator` (its alert checks beside Gold, default settings) fed by `shopstream
produce` at 1,000 events/s with the default day/night curve: a normal stretch first (the
false-alarm window: `normal_minutes`, from a cold start), then each incident kind in turn,
`incident_minutes` long, `gap_minutes` apart (an alert resolves after 3 settled normal
minutes). The incident windows come from the generator's truth file; the alerts from the
warehouse's `alerts` table once `up` has stopped. Time to detect = the alert's
`detected_at` minus its incident's start (event time = send time in a live run).

An alert counts for an incident when its rule is the incident's (KIND_RULE) and it started
between the incident's start - 1 min and its end + the gap; an alert of another rule in that
span is a side effect (payment failures also lower conversion; a bad release also lowers
clean traffic), listed but not false; any other alert is false.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream.bench.cli_home import CliHome, stop_gracefully
from shopstream.bench.common import bench_meta, write_result
from shopstream.bench.cost import producer_performance
from shopstream.bronze.incidents import IncidentKind
from shopstream.config import Settings

KIND_RULE = {
    IncidentKind.CHECKOUT_OUTAGE: "CheckoutOutage",
    IncidentKind.PAYMENT_FAILURES: "PaymentFailures",
    IncidentKind.BAD_RELEASE: "BadRelease",
    IncidentKind.TRAFFIC_SPIKE: "TrafficSpike",
    IncidentKind.TRAFFIC_DROP: "TrafficDrop",
}
TARGET_DETECT_S = {IncidentKind.CHECKOUT_OUTAGE.value: 60.0}  # issue 22's target
TARGET_FALSE_ALERTS = 0


@dataclass(frozen=True)
class IncidentsOptions:
    rate: int = 1_000
    normal_minutes: float = 35.0  # > one 20-minute shop day + 10 trailing: the traffic rule runs
    incident_minutes: float = 2.0
    gap_minutes: float = 5.0
    kinds: tuple[str, ...] = field(default_factory=lambda: tuple(k.value for k in KIND_RULE))
    seed: int = 1
    keep: bool = False

    def schedule(self) -> list[tuple[str, float, float]]:
        """(kind, start s, duration s) from the generator's start."""
        step = (self.incident_minutes + self.gap_minutes) * 60
        first = self.normal_minutes * 60
        return [(k, first + i * step, self.incident_minutes * 60) for i, k in enumerate(self.kinds)]

    def total_s(self) -> float:
        return (
            self.normal_minutes * 60
            + len(self.kinds) * (self.incident_minutes + self.gap_minutes) * 60
        )


def _wait_up(home: CliHome, up: Any, stop: threading.Event, timeout: float = 300) -> None:
    """Until `up` prints its ready banner (Spark started, Gold running)."""
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if up.poll() is not None:
            raise RuntimeError(f"up exited: {home.log_tail('up')}")
        if any("generator" in line for line in home.log_tail("up", 40)):
            return
        stop.wait(1.0)
    if not stop.is_set():
        raise RuntimeError(f"up not ready after {timeout:.0f} s: {home.log_tail('up')}")


def _alerts(home: CliHome) -> list[dict[str, Any]]:
    from shopstream.config import load_settings
    from shopstream.warehouse import open_warehouse

    with open_warehouse(load_settings(home=home.home), read_only=True) as wh:
        return wh.query("SELECT * FROM alerts ORDER BY detected_at")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def score(
    incidents: list[dict[str, Any]], alerts: list[dict[str, Any]], gap_s: float
) -> dict[str, Any]:
    """Per incident its detection; the alerts no incident explains (pure)."""
    rows, explained = [], set()
    for inc in incidents:
        start, end = _when(inc["event_time"]["start"]), _when(inc["event_time"]["end"])
        span = (start - timedelta(minutes=1), end + timedelta(seconds=gap_s))
        inside = [i for i, a in enumerate(alerts) if span[0] <= a["started_at"] <= span[1]]
        rule = KIND_RULE[IncidentKind(inc["kind"])]
        hits = [alerts[i] for i in inside if alerts[i]["rule"] == rule]
        explained.update(inside)
        first = min(hits, key=lambda a: a["detected_at"]) if hits else None
        rows.append(
            {
                "kind": inc["kind"],
                "spec": inc["spec"],
                "rule": rule,
                "start": start.isoformat(),
                "detected": first is not None,
                "detect_s": (first["detected_at"] - start).total_seconds() if first else None,
                "resolved_after_end_s": (first["resolved_at"] - end).total_seconds()
                if first and first["resolved_at"]
                else None,
                "side_effects": sorted({alerts[i]["rule"] for i in inside} - {rule}),
            }
        )
    false = [a for i, a in enumerate(alerts) if i not in explained]
    return {"incidents": rows, "false_alerts": [_plain(a) for a in false]}


def _plain(alert: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in alert.items()}


def _met(scored: dict[str, Any]) -> bool:
    ok = len(scored["false_alerts"]) <= TARGET_FALSE_ALERTS
    for row in scored["incidents"]:
        limit = TARGET_DETECT_S.get(row["kind"])
        ok = ok and row["detected"] and (limit is None or row["detect_s"] <= limit)
    return ok


def _drive(home: CliHome, options: IncidentsOptions, stop: threading.Event, say: Any) -> None:
    """`up`, then the generator with the schedule until it ends; `up` stops after a gap."""
    up = home.start("up", "up", "--no-generator", "--port", "0")
    producer = None
    try:
        _wait_up(home, up, stop)
        specs = [f"{k}@{s:.0f}s+{d:.0f}s" for k, s, d in options.schedule()]
        producer = home.start(
            "produce",
            *("produce", "--rate", str(options.rate), "--duration", f"{options.total_s():.0f}"),
            *("--seed", str(options.seed), "--truth", str(home.home / "truth.json")),
            *(a for spec in specs for a in ("--incident", spec)),
        )
        say(f"generator started: {options.total_s() / 60:.0f} min, incidents {', '.join(specs)}")
        t0 = time.monotonic()
        while not stop.is_set() and producer.poll() is None:
            stop.wait(60)
            say(f"  {(time.monotonic() - t0) / 60:.0f} of {options.total_s() / 60:.0f} min")
        if producer.poll() not in (0, None):
            raise RuntimeError(f"produce failed: {home.log_tail('produce')}")
        stop.wait(90)  # the last settled minutes are checked
    finally:
        if producer is not None and producer.poll() is None:
            stop_gracefully(producer)
        stop_gracefully(up)


def run(
    settings: Settings, options: IncidentsOptions, out_dir: Path, stop: threading.Event, say: Any
) -> dict[str, Any]:
    """The run; incidents.json + incidents.png under `out_dir`."""
    from shopstream.bronze.truth import read_truth

    home = CliHome(settings.files.bench(f"incidents-{uuid.uuid4().hex[:8]}"), logs="logs",
                   brokers=1)  # fmt: skip
    load_before, perf = os.getloadavg()[0], None
    result: dict[str, Any] = {"options": asdict(options), "complete": False}
    try:
        started = home.run("kafka", "start", timeout=180)
        if started.returncode != 0:
            raise RuntimeError(f"kafka start failed: {started.stderr.strip()[-300:]}")
        perf = producer_performance(home)
        say(f"ProducerPerformance {perf:,.0f} records/s")
        _drive(home, options, stop, say)
        truth = read_truth(home.home / "truth.json")
        result |= score(truth["incidents"], _alerts(home), options.gap_minutes * 60)
        result["complete"] = not stop.is_set()
    finally:
        home.run("kafka", "stop", timeout=120)
        if not options.keep:
            shutil.rmtree(home.home, ignore_errors=True)
    result["targets"] = {"detect_s": TARGET_DETECT_S, "false_alerts": TARGET_FALSE_ALERTS}
    result["meets_target"] = result["complete"] and _met(result)
    meta = bench_meta(load_avg_1m=load_before, producer_performance_records_per_s=perf)
    write_result("incidents", result, out_dir, plot, meta)
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """Seconds to detect per incident kind (red: the target), false alerts in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.get("incidents", [])
    fig, ax = plt.subplots(figsize=(7, 4))
    values = [r["detect_s"] if r["detect_s"] is not None else 0.0 for r in rows]
    bars = ax.bar([r["kind"] for r in rows], values)
    for bar, r in zip(bars, rows, strict=True):
        label = f"{r['detect_s']:.0f} s" if r["detected"] else "missed"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center")
    for i, r in enumerate(rows):
        if (limit := TARGET_DETECT_S.get(r["kind"])) is not None:
            ax.hlines(limit, i - 0.4, i + 0.4, colors="red", linestyles="dashed")
    ax.set_ylabel("seconds from incident start to alert")
    n = len(result.get("false_alerts", []))
    ax.set_title(f"bench incidents: time to detect; {n} false alert(s) in the run")
    fig.autofmt_xdate(rotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
