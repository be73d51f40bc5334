"""docs/operations.md's sizing table and rules of thumb, derived from bench/results.

The same result files as docs/benchmarks.md, read by the same helpers, so the operator
guide cannot quote a figure the benchmarks no longer show. "Per core" divides a figure by
the host's cores: Spark shared them with the broker, so it is a conservative figure.
"""

from __future__ import annotations

import math
import textwrap

from shopstream.docs.bench_results import NOT_RECORDED, Result, date_text, number_text, recorded
from shopstream.docs.bench_tables import SPECS, e2e_latency
from shopstream.docs.blocks import TIMES, span
from shopstream.docs.links import slug

HEADROOM = 1.5  # catch-up after a stop: the backlog must drain while new events arrive


def _cpus(r: Result) -> int:
    return int((r.get("host") or {}).get("cpus") or 1)


def _rate_row(
    label: str, r: Result | None, path: tuple[str, ...], unit: str, source: str
) -> tuple[str, float | None]:
    if r is None:
        return f"| {label} | {NOT_RECORDED} | — | `{source}` |", None
    value = r
    for key in path:
        value = value[key]
    per_core = significant(value / _cpus(r))
    when = date_text(recorded(r).date)
    row = (
        f"| {label} | {number_text(value)} {unit} | ~{number_text(per_core, '{:,.0f}')}/s | "
        f"`{source}` `{'.'.join(path)}`, {when} |"
    )
    return row, per_core


def _latency_row(label: str, r: Result | None, source: str) -> str:
    if r is None:
        return f"| {label} | {NOT_RECORDED} | — | `{source}` |"
    return (
        f"| {label} | {e2e_latency(r)}, RSS {r['peak_rss_gib']} GiB | — "
        f"| `{source}`, {date_text(recorded(r).date)} |"
    )


def sizing(results: dict[str, Result]) -> str:
    """The sizing table, then the rules of thumb computed from it."""
    get = results.get
    rows = [
        "| stage | measured | per core (conservative) | source |",
        "|---|---|---|---|",
    ]
    producer, _ = _rate_row(
        "producer (generator + librdkafka, acks=all, idempotent)", get("producer"),
        ("ours", "events_per_s"), "events/s", "producer.json",
    )  # fmt: skip
    silver, silver_core = _rate_row(
        "Silver `--available-now` (parse, 12 rules, Kafka → Kafka)", get("silver"),
        ("silver", "events_per_s"), "events/s", "silver.json",
    )  # fmt: skip
    copy, _ = _rate_row(
        "Kafka → Kafka copy, same sink settings (Silver's ceiling)", get("silver"),
        ("pass_through", "events_per_s"), "events/s", "silver.json",
    )  # fmt: skip
    gold, gold_core = _rate_row(
        "Gold (Kafka → Arrow → one DuckDB transaction per batch)", get("gold"),
        ("gold_clean_events_per_s",), "clean events/s", "gold.json",
    )  # fmt: skip
    rows += [producer, silver, copy, gold, _scale_row(get("scale"))]
    rows.append(
        _latency_row("end to end at 10,000 events/s, `up`'s default mode", get("e2e"), "e2e.json")
    )
    rows.append(
        _latency_row(
            "end to end at 10,000 events/s, micro-batch",
            get("e2e-microbatch"),
            "e2e-microbatch.json",
        )
    )
    return "\n".join(rows) + "\n\n" + _rules(results, silver_core, gold_core)


def _scale_row(r: Result | None) -> str:
    label = "Silver per executor core, standalone cluster (`bench scale`)"
    if r is None:
        return f"| {label} | {NOT_RECORDED} | — | `scale.json` |"
    cpu = [x["events_per_executor_cpu_s"] for x in r["runs"] if x["events_per_executor_cpu_s"]]
    low, high = number_text(min(cpu)), number_text(max(cpu))
    return (
        f"| {label} | {span(low, high)} events per executor CPU-second | {span(low, high)}/s | "
        f"`scale.json` `runs[].events_per_executor_cpu_s`, {date_text(recorded(r).date)} |"
    )


def significant(x: float, digits: int = 3) -> float:
    """`x` to `digits` significant digits: a rule of thumb is no more exact than that.

    >>> significant(55_005.05), significant(219_629.0)
    (55000.0, 220000.0)
    """
    if x == 0:
        return 0.0
    return float(round(x, digits - 1 - math.floor(math.log10(abs(x)))))


def _bullet(text: str) -> str:
    return textwrap.fill(
        text, width=90, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


def _cores(rate: float, silver_core: float, gold_core: float) -> str:
    """Whole cores for `rate`, with headroom.

    >>> _cores(10_000, 55_000, 47_000), _cores(50_000, 55_000, 47_000)
    ('1 core', '3 cores')
    """
    n = max(1, math.ceil(HEADROOM * (rate / silver_core + rate / gold_core)))
    return f"{n} core" if n == 1 else f"{n} cores"


def _rules(results: dict[str, Result], silver_core: float | None, gold_core: float | None) -> str:
    lines = []
    if silver_core and gold_core:
        lines.append(
            f"- Executor cores for a sustained rate R: `R / {silver_core:,.0f}` for Silver plus "
            f"`R / {gold_core:,.0f}` for Gold, times {HEADROOM} of headroom for catch-up after "
            f"a stop: 10,000 events/s need ~{_cores(10_000, silver_core, gold_core)}, "
            f"50,000 events/s ~{_cores(50_000, silver_core, gold_core)}."
        )
    producer, gold = results.get("producer"), results.get("gold")
    if producer:
        size = producer["ours"]["record_size_avg"]
        lines.append(
            f"- Records average {size:g} bytes (`producer.json`). The driver holds one Gold "
            f"batch as Arrow, about `spark.max_offsets_per_trigger` {TIMES} {size:g} bytes; "
            f"at R events/s raw_events takes `R {TIMES} {size:g} {TIMES} 7 days` of disk per "
            "replica with Kafka's default 168 h retention, clean_events about the same."
        )
    if gold:
        commits = [b["commit_ms"] / 1000 for b in gold["batches"] if b["input_rows"] > 1000]
        biggest = max(b["input_rows"] for b in gold["batches"])
        lines.append(
            "- DuckDB commits one batch at a time on one machine "
            f"({span(f'{min(commits):.1f}', f'{max(commits):.1f}')} s of a {biggest:,}-record "
            "batch are the transaction; "
            f"`gold.json`); beyond ~{gold['gold_clean_events_per_s'] // 1000 * 1000:,.0f} "
            "events/s, Gold's rate here, use Snowflake."
        )
    link = f"benchmarks.md#{slug(SPECS['scale'].heading)}"
    wrapped = [_bullet(line) for line in lines]  # a link stays on one line (link checks)
    wrapped.append(f"- How Silver scales with cores and partitions: [bench scale]({link}).")
    return "\n".join(wrapped) + "\n"
