"""The benchmark tables of docs/benchmarks.md and README.md, rendered from bench/results.

One `Spec` per benchmark says where its section is and how its headline, target and
verdict read from its JSON; every number in a table is read from a result file, so a
re-run benchmark changes the docs by `shopstream docs build`, and nothing else can.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopstream.docs.bench_results import (
    NOT_RECORDED,
    Result,
    date_text,
    number_text,
    recorded,
)
from shopstream.docs.blocks import cell, span
from shopstream.docs.links import slug

GIB = 1024**3


@dataclass(frozen=True)
class Spec:
    """How one benchmark's results read in the docs."""

    heading: str  # its section in docs/benchmarks.md
    command: str
    headline: Callable[[Result], str]
    target: Callable[[Result], str]
    met: Callable[[Result], bool | None]


def _n(value: float | None, suffix: str = "") -> str:
    return number_text(value, suffix=suffix)


def _producer(r: Result) -> str:
    ours, perf = r["ours"], r.get("kafka_producer_perf")
    text = (
        f"**{_n(ours['events_per_s'])} events/s**, "
        f"{ours['delivered']:,} of {ours['sent']:,} delivered"
    )
    if perf:
        same = r["kafka_producer_perf_same_payload"]
        text += (
            f"; ProducerPerformance {_n(perf['events_per_s'])}/s at the same "
            f"{perf['record_size']}-byte record size (ratio **{r['ratio_vs_kafka_perf']:.2f}**), "
            f"{_n(same['events_per_s'])}/s replaying our payloads "
            f"(ratio {r['ratio_vs_kafka_perf_same_payload']:.2f})"
        )
    return text


def _produce_cli(r: Result) -> str:
    ours = r["ours"]
    runs = ", ".join(_n(x["events_per_s"]) for x in r["runs"]["ours"])
    text = (
        f"**{_n(ours['events_per_s'])} events/s** exec to exit ({ours['wall_s']} s, of which "
        f"{ours['sending_s']} s sending; runs {runs}), delivered {ours['delivered']:,}"
    )
    perf = r.get("kafka_producer_perf")
    if perf:
        text += (
            f"; ProducerPerformance {_n(perf['wall_events_per_s'])}/s exec to exit (its own "
            f"figure {_n(perf['events_per_s'])}/s): ratio **{r['ratio_vs_kafka_perf_wall']:.2f}**"
        )
    per_round = r.get("ratio_per_round")
    if per_round:
        text += " best of each; per round " + ", ".join(f"{x:.2f}" for x in per_round)
    return text


def _silver(r: Result) -> str:
    batches = r["silver"]["batches"]
    full = max(b["input"] for b in batches) // 2  # the last batch holds the few left over
    later = [b["events_per_s"] for b in batches[1:] if b["input"] >= full] or [0]
    first = batches[0]["events_per_s"]
    return (
        f"**{_n(r['silver']['events_per_s'])} events/s** vs {_n(r['pass_through']['events_per_s'])}"
        f"/s for a Kafka→Kafka pass-through (ratio **{r['silver_vs_pass_through']:.2f}**); "
        f"batches after the first {span(_n(min(later)), _n(max(later)))}/s, the first "
        f"{_n(first)}/s; raw = clean + dead_letter: {_yes(r['reconciles'])}"
    )


def _gold_commits(r: Result) -> tuple[float, float]:
    full = [b["commit_ms"] / 1000 for b in r["batches"] if b["input_rows"] > 1000] or [0.0]
    return min(full), max(full)


def _gold(r: Result) -> str:
    low, high = _gold_commits(r)
    runs = r.get("runs", [])
    each = ", ".join(_n(x["gold_clean_events_per_s"]) for x in runs)
    slowest = f", the slowest of {len(runs)} runs: {each}" if runs else ""
    return (
        f"**{_n(r['gold_clean_events_per_s'])} clean events/s** ({r['clean_events']:,} in "
        f"{r['gold_seconds']} s{slowest}); commits {span(f'{low:.1f}', f'{high:.1f}')} s per "
        f"batch; warehouse equal to the ground truth: {_yes(r['exact'])}"
    )


def _history(r: Result) -> str:
    totals = " / ".join(f"{x['total_commit_ms'] / 1000:.2f} s" for x in r["runs"])
    stored = " / ".join(_events(x["history_events"]) for x in r["runs"])
    return (
        f"total commit time of the same {len(r['batches'])} batches **{totals}** on {stored} "
        f"stored events: spread **{r['spread']:.1%}**; exact: {_yes(r['exact'])}"
    )


def _sql_load(r: Result) -> str:
    queries = sum(c["queries"] for load in r["client_load"] for c in load)
    return (
        f"total commit time **{r['total_commit_ms_quiet'] / 1000:.2f} s without clients, "
        f"{r['total_commit_ms_with_clients'] / 1000:.2f} s with them: {r['slowdown']:+.1%}**; "
        f"{queries:,} client statements answered; same results: {_yes(r['same_results'])}"
    )


def _cli(r: Result) -> str:
    median, labels = r["median_s"], {"version": "`--version`", "help": "`--help`",
                                     "sql_file": "`sql` on the file"}  # fmt: skip
    others = ", ".join(f"{label} {median[name]:.2f} s" for name, label in labels.items())
    return (
        f"`sql` through a running endpoint **{median['sql_endpoint']:.2f} s** (median of "
        f"{r['runs']}, {r['min_s']['sql_endpoint']:.2f}-{r['max_s']['sql_endpoint']:.2f} s); "
        f"{others}; niceness {r.get('niceness', 0)}"
    )


def e2e_latency(r: Result) -> str:
    """An end-to-end result's latency in a few words: after steady state, or, when no run
    reached it, from the cold start on (what a reader would otherwise not see)."""
    lat = r["latency"]
    if lat.get("count"):
        return f"p50 {lat['p50_s']} s, p99 {lat['p99_s']} s"
    starts = [x.get("latency_from_start") or {} for x in r.get("runs") or [r]]
    p50, p99 = (_span([x[k] for x in starts if k in x]) for k in ("p50_s", "p99_s"))
    return f"no steady state (from the start: p50 {p50} s, p99 {p99} s)"


def _span(values: list[float]) -> str:
    """'a-b' over `values`, one figure when they are all equal (pure)."""
    if not values:
        return "?"
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def _e2e(r: Result) -> str:
    lat = r["latency"]
    if not lat.get("count"):
        figures = e2e_latency(r)
    else:
        figures = (
            f"p50 **{lat['p50_s']} s**, p95 {lat['p95_s']} s, p99 **{lat['p99_s']} s** "
            f"(max {lat['max_s']} s) over {lat['count']:,} events"
        )
    runs = r.get("runs")
    if runs:  # a cold-start result: its worst run, and each run's time to steady state
        steady = ", ".join("never" if x["time_to_steady_s"] is None else
                           f"{x['time_to_steady_s']:g} s" for x in runs)  # fmt: skip
        which = "worst of" if lat.get("count") else "none steady in"
        figures = f"{which} {len(runs)} cold starts: {figures}; steady after {steady}"
    return f"{r['mode']} on `{r['spark_master']}`: {figures}; peak RSS **{r['peak_rss_gib']} GiB**"


def _e2e_target(r: Result) -> str:
    t = r.get("targets") or {}
    if not t:
        return NOT_RECORDED
    steady = f"steady ≤ {t['time_to_steady_s']:g} s, " if "time_to_steady_s" in t else ""
    return (
        f"{steady}p50 ≤ {t['p50_s']:g} s, p99 ≤ {t['p99_s']:g} s, "
        f"RSS ≤ {t['rss_bytes'] / GIB:g} GiB"
    )


def _scale(r: Result) -> str:
    by: dict[str, list[str]] = {}
    for x in r["runs"]:
        by.setdefault(x["config"], []).append(_n(x["events_per_s"]))
    parts = "; ".join(f"{config}: {' / '.join(rates)}" for config, rates in by.items())
    cpu = [x["events_per_executor_cpu_s"] for x in r["runs"] if x["events_per_executor_cpu_s"]]
    partitions = " / ".join(str(p) for p in dict.fromkeys(x["partitions"] for x in r["runs"]))
    return (
        f"events/s on {partitions} partitions: {parts}; {span(_n(min(cpu)), _n(max(cpu)))} events "
        f"per executor CPU-second; every run reconciles: {_yes(r['reconciles'])}"
    )


def _soak(r: Result) -> str:
    status = r["final_status"]
    peak_brokers = max((s.get("rss_brokers_bytes") or 0) for s in r["samples"])
    return (
        f"{status['raw']:,} events: raw, clean ({status['clean']:,}), unique "
        f"({status['unique']:,}), duplicates ({status['duplicates']:,}), dead letters "
        f"({status['dead_letter']['total']:,}) and dead letters by reason as `status` reported "
        f"them, each equal to the truth: {_yes(r['vs_truth']['exact'])}; "
        f"{r['warehouse_vs_truth']['rows']:,} sampled warehouse rows exact: "
        f"{_yes(r['warehouse_vs_truth']['exact'])}; {r['status_failures']} failed status polls; "
        f"peak RSS of `up` **{r['peak_rss_up_bytes'] / GIB:.2f} GiB**, of the brokers "
        f"{peak_brokers / GIB:.2f} GiB; freshness median {_freshness_median(r):.2f} s"
    )


def _freshness_median(r: Result) -> float:
    values = [s["freshness_s"] for s in r["samples"] if s.get("freshness_s") is not None]
    return statistics.median(values) if values else float("nan")


def _events(n: int) -> str:
    """3M, 10M, 0 ...

    >>> _events(0), _events(10_000_000), _events(2_500_000)
    ('0', '10M', '2.5M')
    """
    return f"{n / 1e6:g}M" if n else "0"


def _yes(flag: Any) -> str:
    return "yes" if flag else "**no**"


def _at_least(r: Result) -> str:
    return f"≥ {r['target_events_per_s']:,}/s"


def _ratio_each_round(r: Result) -> str:
    if "target_ratio_vs_kafka_perf_wall" not in r:  # results from before the ratio target
        return _at_least(r)
    return f"≥ {r['target_ratio_vs_kafka_perf_wall']:.2f}x ProducerPerformance, each round"


def _cost(r: Result) -> str:
    parts = []
    for rate, v in r["verdicts"].items():
        anchor = v.get("pass_through_cores")
        vs = f" (pass-through {anchor:.2f})" if anchor is not None else ""
        parts.append(f"{int(rate):,}/s: **{v['cores']:.2f} cores**{vs}")
    return "; ".join(parts) or "no rate measured"


def _cost_target(r: Result) -> str:
    return "; ".join(
        f"{int(rate):,}/s ≤ {v['target_cores']:g}" for rate, v in r["verdicts"].items()
    )


def _reads(r: Result) -> str:
    parts = [
        f"{_events(x['history_events'])} events: slowest read {x['slowest_read_ms']:.1f} ms "
        f"(`{x['slowest_read']}`), scan of silver_events {x['anchor_ms']:.0f} ms"
        for x in r["sizes"]
    ]
    largest = [x for x in r["sizes"] if x["history_events"] == r["largest_history_events"]]
    if largest:
        parts[-1] = f"**{parts[-1]}**"
    return "; ".join(parts) + ("" if r.get("complete", True) else " (interrupted)")


def reads_table(results: dict[str, Result]) -> str:
    """`bench reads`: one row per panel or view, its median ms at each history size."""
    r = results.get("reads")
    if r is None:
        return f"No `bench/results/reads.json`: {NOT_RECORDED}. Run `shopstream bench reads`.\n"
    sizes = r["sizes"]
    head = " | ".join(f"{_events(x['history_events'])} events" for x in sizes)
    rows = [f"| read | {head} |", "|---|" + "---|" * len(sizes)]
    for name in sizes[0]["median_ms"] if sizes else []:
        cells = " | ".join(f"{x['median_ms'].get(name, float('nan')):.1f} ms" for x in sizes)
        rows.append(f"| {cell(name)} | {cells} |")
    return "\n".join(rows) + "\n"


def _incidents(r: Result) -> str:
    parts = [
        f"{x['kind']}: " + (f"**{x['detect_s']:.0f} s**" if x["detected"] else "**missed**")
        for x in r.get("incidents", [])
    ]
    parts.append(f"false alerts **{len(r.get('false_alerts', []))}**")
    return "; ".join(parts) + ("" if r.get("complete", True) else " (interrupted)")


def incidents_table(results: dict[str, Result]) -> str:
    """`bench incidents`: one row per incident, its rule, time to detect, side effects."""
    r = results.get("incidents")
    if r is None:
        command = "Run `shopstream bench incidents`"
        return f"No `bench/results/incidents.json`: {NOT_RECORDED}. {command}.\n"
    rows = [
        "| incident | rule | detected after | resolved after its end | also opened |",
        "|---|---|---|---|---|",
    ]
    for x in r.get("incidents", []):
        took = f"{x['detect_s']:.0f} s" if x["detected"] else "missed"
        after = x.get("resolved_after_end_s")
        resolved = f"{after:.0f} s" if after is not None else "—"
        side = ", ".join(x["side_effects"]) or "—"
        rows.append(f"| `{x['spec']}` | {x['rule']} | {took} | {resolved} | {side} |")
    return "\n".join(rows) + "\n"


_E2E = "End to end (`bench e2e`)"
SPECS: dict[str, Spec] = {
    "producer": Spec("Producer (`bench producer`)", "bench producer", _producer, _at_least,
                     lambda r: r.get("meets_target")),
    "produce-cli": Spec("The produce command (`bench produce-cli`)", "bench produce-cli",
                        _produce_cli, _ratio_each_round, lambda r: r.get("meets_target")),
    "silver": Spec("Silver (`bench silver`)", "bench silver", _silver, _at_least,
                   lambda r: r.get("meets_target")),
    "gold": Spec("Gold (`bench gold`)", "bench gold", _gold, _at_least,
                 lambda r: r.get("meets_target")),
    "gold-history": Spec("Gold's commit over a growing history (`bench gold`)", "bench gold",
                         _history, lambda r: f"spread ≤ {r['max_spread']:.0%}",
                         lambda r: bool(r.get("flat") and r.get("exact"))),
    "sql-load": Spec("Commits under SQL load (`bench sql-load`)", "bench sql-load", _sql_load,
                     lambda r: f"≤ {r['max_slowdown']:+.0%}", lambda r: r.get("meets_target")),
    "cli": Spec("The command line's answer time (`bench cli`)", "bench cli", _cli,
                lambda r: f"`sql` via the endpoint ≤ {r['target_s']:g} s",
                lambda r: r.get("meets_target")),
    "e2e": Spec(_E2E, "bench e2e", _e2e, _e2e_target, lambda r: r.get("meets_target")),
    "e2e-realtime": Spec(_E2E, "bench e2e --real-time", _e2e, _e2e_target,
                         lambda r: r.get("meets_target")),
    "e2e-realtime-warmup30": Spec(_E2E, "bench e2e --real-time --warmup 30", _e2e, _e2e_target,
                                  lambda r: r.get("meets_target")),
    "e2e-microbatch": Spec(_E2E, "bench e2e --micro-batch", _e2e, _e2e_target,
                           lambda r: r.get("meets_target")),
    "scale": Spec("Scaling out: where the limit is here (`bench scale`)", "bench scale", _scale,
                  lambda r: "none (analysis)", lambda r: None),
    "reads": Spec("Reads as history grows (`bench reads`)", "bench reads", _reads,
                  lambda r: f"every read ≤ {r['target_ms']:g} ms at the largest history",
                  lambda r: r.get("meets_target")),
    "incidents": Spec("Business alerts (`bench incidents`)", "bench incidents", _incidents,
                      lambda r: "checkout outage ≤ 60 s; 0 false alerts",
                      lambda r: r.get("meets_target")),
    "cost": Spec("Cost per event (`bench cost`)", "bench cost", _cost, _cost_target,
                 lambda r: r.get("meets_target")),
    "soak": Spec("Soak: faults under load for 30 minutes (`bench soak`)", "bench soak", _soak,
                 lambda r: "exact totals", lambda r: bool(r.get("exact"))),
}  # fmt: skip


def ordered(results: dict[str, Result]) -> dict[str, Result]:
    """Results in the order of SPECS (the docs' order), unknown files last."""
    rank = {stem: n for n, stem in enumerate(SPECS)}
    return dict(sorted(results.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "—"}[met]


def summary(results: dict[str, Result], *, by_file: bool = False) -> str:
    """One row per result file: when, on what load, against which ProducerPerformance.

    Rows name the command and link to its section, or (`by_file`) name the file.
    """
    first = "file" if by_file else "benchmark"
    rows = [
        f"| {first} | recorded | 1-min load | ProducerPerformance | result | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for stem, result in ordered(results).items():
        spec = SPECS.get(stem)
        rec = recorded(result)
        name = f"`{stem}.json`"
        if spec is None:
            headline, target, met = "no renderer yet", NOT_RECORDED, None
        else:
            name = name if by_file else f"[`{spec.command}`](#{slug(spec.heading)})"
            headline, target, met = spec.headline(result), spec.target(result), spec.met(result)
        cells = (
            name,
            date_text(rec.date),
            number_text(rec.load_avg_1m, "{:.1f}"),
            number_text(rec.producer_performance, suffix="/s"),
            headline,
            target,
            _verdict(met),
        )
        rows.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def section(stem: str) -> Callable[[dict[str, Result]], str]:
    """The renderer of one benchmark's own table (its files, one row each)."""

    def render(results: dict[str, Result]) -> str:
        if stem not in results:
            command = SPECS[stem].command
            return f"No `bench/results/{stem}.json`: {NOT_RECORDED}. Run `shopstream {command}`.\n"
        return summary({stem: results[stem]}, by_file=True)

    return render


def e2e_runs(results: dict[str, Result]) -> str:
    """Every end-to-end result, one row each (modes, warm-ups and trigger differ)."""
    rows = [
        "| file | recorded | 1-min load | Silver | warm-up | Gold trigger | latency, RSS | target "
        "| |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for stem, r in ordered(results).items():
        if r.get("benchmark") != "e2e":
            continue
        rec = recorded(r)
        cells = (
            f"`{stem}.json`",
            date_text(rec.date),
            number_text(rec.load_avg_1m, "{:.1f}"),
            f"{r['mode']}, `{r['spark_master']}`",
            f"{r['warmup_s']:g} s",
            f"{r['trigger_seconds']:g} s",
            _e2e(r).split(": ", 1)[1],
            _e2e_target(r),
            _verdict(r.get("meets_target")),
        )
        rows.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def scale_runs(results: dict[str, Result]) -> str:
    """`bench scale`: one row per configuration and partition count."""
    r = results.get("scale")
    if r is None:
        return f"No `bench/results/scale.json`: {NOT_RECORDED}.\n"
    rows = [
        "| configuration | raw partitions | events/s | best batch | executor CPU-s "
        "| events per executor CPU-s | 1-min load (start, end) | reconciles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in r["runs"]:
        load = ", ".join(f"{v:.1f}" for v in x.get("load_average_1m") or []) or NOT_RECORDED
        rows.append(
            f"| {x['config']} | {x['partitions']} | {_n(x['events_per_s'])} | "
            f"{_n(x['best_batch_events_per_s'])} | {x['executor_cpu_s']} | "
            f"{_n(x['events_per_executor_cpu_s'])} | {load} | {_yes(x['reconciles'])} |"
        )
    return "\n".join(rows) + "\n"


def headline(results: dict[str, Result]) -> str:
    """README's four figures, linked to where docs/benchmarks.md explains them."""
    lines = []
    for stem, label in (
        ("producer", "produce"),
        ("silver", "Silver"),
        ("gold", "Gold into DuckDB"),
        ("e2e", "end to end at 10k events/s"),
        ("soak", "30-minute soak with crashes"),
    ):
        r = results.get(stem)
        if r is None:
            lines.append(f"- {label}: {NOT_RECORDED}")
            continue
        spec = SPECS[stem]
        link = f"docs/benchmarks.md#{slug(spec.heading)}"
        lines.append(f"- {label}: [{_short(stem, r)}]({link}) ({date_text(recorded(r).date)[:10]})")
    return "\n".join(lines) + "\n"


def _short(stem: str, r: Result) -> str:
    if stem == "producer":
        return f"{_n(r['ours']['events_per_s'])} events/s"
    if stem == "silver":
        return f"{_n(r['silver']['events_per_s'])} events/s"
    if stem == "gold":
        return f"{_n(r['gold_clean_events_per_s'])} clean events/s"
    if stem == "e2e":
        return f"{e2e_latency(r)}, peak RSS {r['peak_rss_gib']} GiB"
    exact = "every figure equal to the truth" if r.get("exact") else "figures differ from the truth"
    return f"{r['final_status']['raw']:,} events, {exact}"
