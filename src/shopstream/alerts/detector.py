"""Pure evaluation of the rules on per-minute metrics, and the open/resolve state machine.

Input: minute rows (event-time minute -> counts), only minutes older than the lateness
allowance (the caller cuts them), so pipeline lag never reads as a drop. Every test is a
tail probability under "nothing changed", compared with the budget's alpha (budget.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from shopstream.alerts.rules import Rule
from shopstream.alerts.stats import binom_lower_tail, binom_upper_tail, normal_upper_tail

Minute = Mapping[str, float]  # must hold "minute" (int, epoch minutes) and the counts


@dataclass(frozen=True)
class Verdict:
    rule: str
    minute: int
    expected: float
    observed: float
    p_value: float
    significant: bool


@dataclass(frozen=True)
class AlertState:
    rule: str
    open: bool = False
    since_minute: int | None = None
    run: int = 0  # consecutive significant (closed) or normal (open) windows so far
    expected: float = 0.0
    observed: float = 0.0
    p_value: float = 1.0
    resolved_minute: int | None = None


def _sum(rows: Sequence[Minute], cols: Sequence[str]) -> float:
    return float(sum(r.get(c, 0.0) for r in rows for c in cols))


def _conditional(
    rule: Rule, now: Minute, trailing: Sequence[Minute]
) -> tuple[int, int, float, float]:
    """The exact conditional test of two Poisson rates (now vs trailing, per unit of whole).

    Under "same rate", given K parts in both, the parts now are Binomial(K, w) with w the
    share of the whole that falls now. Unlike a test at the trailing ratio, this accounts for
    the trailing ratio's own noise (a quiet night has few purchases to estimate it from).

    The tail is taken on counts divided by the trailing minutes' dispersion phi
    (quasi-Poisson: Pearson's X^2 per degree of freedom, at least 1): purchases come in
    sessions, not one by one, and the share of shoppers at checkout drifts with the day's
    curve, so a minute's count varies more than Poisson. Before this, a smoke run of
    `bench incidents` opened a false CheckoutOutage on 313 purchases against 371 expected
    (p = 5e-5, twice in a row). Expected and observed stay the raw counts.
    """
    n_now, n_tr = _sum([now], rule.whole), _sum(trailing, rule.whole)
    k_now, k_tr = int(_sum([now], [rule.part])), int(_sum(trailing, [rule.part]))
    w = n_now / (n_now + n_tr) if n_now + n_tr > 0 else 0.0
    return k_now, k_now + k_tr, w, dispersion(rule, trailing)


def dispersion(rule: Rule, trailing: Sequence[Minute]) -> float:
    """Pearson's X^2 / (m - 1) of the trailing minutes' parts given their wholes, >= 1.

    >>> rows = [{"k": k, "n": 100.0} for k in (10, 10, 10, 10)]
    >>> dispersion(Rule("r", "share_rise", "k", ("n",), "warning", ""), rows)
    1.0
    """
    wholes = [_sum([r], rule.whole) for r in trailing]
    parts = [float(r.get(rule.part, 0.0)) for r in trailing]
    total_n, total_k = sum(wholes), sum(parts)
    if len(trailing) < 2 or total_n <= 0 or total_k <= 0:
        return 1.0
    rate = total_k / total_n
    x2 = sum((k - n * rate) ** 2 / (n * rate) for k, n in zip(parts, wholes, strict=True) if n > 0)
    return max(1.0, x2 / (len(trailing) - 1))


def conversion_drop(
    rule: Rule, now: Minute, trailing: Sequence[Minute], alpha: float
) -> Verdict | None:
    """Lower tail: too few successes (purchases) now for the trials (views + carts) now."""
    k, total, w, phi = _conditional(rule, now, trailing)
    if total == 0 or w == 0.0:
        return None
    p = binom_lower_tail(round(k / phi), round(total / phi), w)
    return Verdict(rule.name, int(now["minute"]), total * w, k, p, p < alpha)


def share_rise(rule: Rule, now: Minute, trailing: Sequence[Minute], alpha: float) -> Verdict:
    """Upper tail: too many parts (dead letters of one reason) now for the whole now."""
    k, total, w, phi = _conditional(rule, now, trailing)
    p = binom_upper_tail(round(k / phi), round(total / phi), w)
    return Verdict(rule.name, int(now["minute"]), total * w, k, p, p < alpha)


def _linear_forecast(values: Sequence[float]) -> tuple[float, float]:
    """One-step forecast of a least-squares line and its residual variance."""
    n = len(values)
    xs = range(n)
    mx, my = (n - 1) / 2.0, statistics.fmean(values)
    sxx = sum((x - mx) ** 2 for x in xs) or 1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / sxx
    resid = [y - (my + slope * (x - mx)) for x, y in zip(xs, values, strict=True)]
    var = sum(r * r for r in resid) / max(1, n - 2)
    return my + slope * (n - mx), var


def level_shift(
    rule: Rule,
    now: Minute,
    history: Mapping[int, Minute],
    trailing: Sequence[Minute],
    cycle_minutes: int,
    alpha: float,
) -> Verdict | None:
    """One-sided z of the count against a time-of-day baseline, with overdispersion: the
    upper tail for a `level_rise` rule, the lower for a `level_drop` one.

    Baseline: the mean of the same phase in previous cycles (day/night), scaled by how the
    trailing minutes compare with their own previous-cycle phases (the shop's level today);
    with flat traffic (cycle 0), a line through the trailing minutes; with a curve but less
    than one cycle (+ trailing) of history, no verdict (a trailing level would be biased).
    Variance: the larger of Poisson noise (this minute's and the baseline's) and the residual
    variance of the trailing minutes around their baseline (overdispersion).
    """
    minute, obs = int(now["minute"]), float(now.get(rule.part, 0.0))
    values = [float(r.get(rule.part, 0.0)) for r in trailing]
    if len(values) < 5:
        return None
    same = [history[m] for m in _phases(minute, cycle_minutes, history)]
    if same and all(_phases(int(r["minute"]), cycle_minutes, history) for r in trailing):
        base = statistics.fmean(float(r.get(rule.part, 0.0)) for r in same)
        prev = [_phase_mean(r, rule.part, history, cycle_minutes) for r in trailing]
        # median ratio: one odd trailing minute does not move today's level
        ratios = [v / p for v, p in zip(values, prev, strict=True) if p > 0]
        scale = statistics.median(ratios) if ratios else 1.0
        mu = base * scale
        resid = [v - p * scale for v, p in zip(values, prev, strict=True)]
        # floor: Poisson noise of this minute plus that of the baseline (a mean of phases)
        floor = base * scale * (1.0 + scale / len(same))
        var = max(floor, sum(x * x for x in resid) / max(1, len(resid) - 1))
    elif cycle_minutes <= 0:  # flat traffic configured: a trailing line is the baseline
        mu, var = _linear_forecast(values)
    else:  # a day curve but not one full day seen yet: a trailing level would be biased
        return None
    mu = max(mu, 1.0)
    z = (obs - mu) / math.sqrt(max(mu, var))
    p = normal_upper_tail(z if rule.test == "level_rise" else -z)
    return Verdict(rule.name, minute, mu, obs, p, p < alpha)


def _phases(minute: int, cycle: int, history: Mapping[int, Minute]) -> list[int]:
    if cycle <= 0:
        return []
    return [m for j in range(1, 8) if (m := minute - j * cycle) in history]


def _phase_mean(row: Minute, col: str, history: Mapping[int, Minute], cycle: int) -> float:
    ms = _phases(int(row["minute"]), cycle, history)
    return statistics.fmean(float(history[m].get(col, 0.0)) for m in ms)


def step(
    state: AlertState,
    verdict: Verdict | None,
    k_open: int,
    m_resolve: int,
    alpha_fast: float = 0.0,
) -> AlertState:
    """Advance one rule's state by one window: open after k significant windows, or at once
    on one window with p < alpha_fast (budget.split_alphas); resolve after m normal ones."""
    if verdict is None:
        return state
    nums = {"expected": verdict.expected, "observed": verdict.observed}
    if not state.open:
        run = state.run + 1 if verdict.significant else 0
        since = (state.since_minute if state.run else verdict.minute) if run else None
        if run >= k_open or (verdict.significant and verdict.p_value < alpha_fast):
            return AlertState(
                state.rule, True, since, 0, **nums, p_value=verdict.p_value, resolved_minute=None
            )
        return replace(state, run=run, since_minute=since, resolved_minute=state.resolved_minute)
    if verdict.significant:
        return replace(state, run=0, p_value=min(state.p_value, verdict.p_value), **nums)
    run = state.run + 1
    if run >= m_resolve:
        return replace(state, open=False, run=0, resolved_minute=verdict.minute)
    return replace(state, run=run)


@dataclass
class Clean:
    """One rule's minutes so far that it did not find significant, in order and by minute:
    its baselines. Kept incrementally, so a replay costs O(minutes), not O(minutes^2)."""

    rows: list[Minute] = field(default_factory=list)
    by_minute: dict[int, Minute] = field(default_factory=dict)

    def add(self, row: Minute) -> None:
        self.rows.append(row)
        self.by_minute[int(row["minute"])] = row


def judge(
    rule: Rule, now: Minute, clean: Clean, trailing_minutes: int, cycle_minutes: int, alpha: float
) -> Verdict | None:
    """The rule's verdict on `now` against the `trailing_minutes` clean ones before it."""
    trailing = clean.rows[-trailing_minutes:]
    if not trailing:
        return None
    if rule.test == "conversion_drop":
        return conversion_drop(rule, now, trailing, alpha)
    if rule.test == "share_rise":
        return share_rise(rule, now, trailing, alpha)
    return level_shift(rule, now, clean.by_minute, trailing, cycle_minutes, alpha)


def _baselines(
    rules: Sequence[Rule], clean: dict[str, Clean]
) -> dict[tuple[tuple[str, ...], tuple[Rule, ...]], Clean]:
    """One baseline per measured series (part, whole), shared by the rules that test it.

    A minute abnormal for either traffic rule stays out of both baselines: a spike kept in
    TrafficDrop's would raise tomorrow's time-of-day baseline for that phase (a 3x minute
    among 7 days' phases lifts their mean by 29%) and open a false drop a day later."""
    series: dict[tuple[str, ...], list[Rule]] = {}
    for r in rules:
        series.setdefault((r.part, *r.whole), []).append(r)
    groups = {}
    for key, members in series.items():
        base = next((clean[r.name] for r in members if r.name in clean), Clean())
        for r in members:
            clean[r.name] = base
        groups[(key, tuple(members))] = base
    return groups


def run_series(
    rules: Sequence[Rule],
    rows: Sequence[Minute],
    *,
    alpha: float,
    trailing_minutes: int,
    cycle_minutes: int,
    k_open: int,
    m_resolve: int,
    alpha_fast: float = 0.0,
    clean: dict[str, Clean] | None = None,
    start: int = 0,
    open_since: Mapping[str, int] | None = None,
) -> tuple[dict[str, AlertState], list[tuple[str, int, int | None]]]:
    """Replay a series minute by minute; returns final states and (rule, opened, resolved).

    Deterministic: the live evaluator replays the recent minutes each interval, so its state
    needs no storage beyond the alerts table (which records what was announced). Minutes a
    rule finds significant stay out of its series' baseline (`_baselines`), so an incident
    never becomes its own "normal" (nor tomorrow's time-of-day baseline); `clean`, if given,
    is filled with each rule's baseline minutes (the monitor's peek reads them).

    Rows before `start` are history: baseline only, not checked (a live check replays a
    bounded span). `open_since` names, per rule, the start of an episode still open from
    before (the alerts table): its history minutes from then on stay out of the baseline,
    and the replay begins with the episode open, as the checks that announced it left it.
    """
    open_since = open_since or {}
    states = {
        r.name: AlertState(r.name, True, open_since[r.name]) if r.name in open_since and start
        else AlertState(r.name)
        for r in rules
    }  # fmt: skip
    clean = clean if clean is not None else {}
    groups = _baselines(rules, clean)
    for row in rows[:start]:
        for key, base in groups.items():
            if all(int(row["minute"]) < open_since.get(r.name, 1 << 62) for r in key[1]):
                base.add(row)
    episodes: list[tuple[str, int, int | None]] = []
    for row in rows[start:]:
        verdicts = {
            r.name: judge(r, row, clean[r.name], trailing_minutes, cycle_minutes, alpha)
            for r in rules
        }
        for (_, members), base in groups.items():
            if not any((v := verdicts[r.name]) is not None and v.significant for r in members):
                base.add(row)
        for rule in rules:
            before = states[rule.name]
            after = step(before, verdicts[rule.name], k_open, m_resolve, alpha_fast)
            if after.open and not before.open:
                episodes.append((rule.name, int(after.since_minute or 0), None))
            if before.open and not after.open:
                j = max(j for j, e in enumerate(episodes) if e[0] == rule.name)
                episodes[j] = (rule.name, episodes[j][1], after.resolved_minute)
            states[rule.name] = after
    return states, episodes
