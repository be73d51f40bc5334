"""From a false-alarm budget to the per-window significance level of each check.

Budget: at most `false_alerts` expected false alerts per `days` days, over all rules.
A rule is checked once per window of `window_minutes`, so over the budget period there are
N = rules * days * 1440 / window_minutes checks. An alert opens only after `k` consecutive
significant windows; treating disjoint windows as independent under the null, a false open
needs k false positives in a row, probability alpha**k per start. Union bound:
    N * alpha**k <= false_alerts   =>   alpha = (false_alerts / N) ** (1 / k).
Example: 1 false alert / 30 days, 5 rules, 1-minute windows, k=2:
N = 5 * 30 * 1440 = 216,000; alpha = (1/216000)**0.5 = 2.15e-3 per window and rule.

A second, fast path opens on ONE window whose p-value is below alpha_1 = B1 / N (a dead
checkout gives p ~ 1e-50, no need to wait for a second minute). The budget is split
between the two paths (`split` to the fast path): B1 = split * B, Bk = (1 - split) * B.
With the defaults (split 0.5): alpha_1 = 2.3e-6, alpha_2 = (0.5/216000)**0.5 = 1.52e-3.
"""

from __future__ import annotations

MINUTES_PER_DAY = 1440


def per_window_alpha(
    false_alerts: float, days: float, rules: int, window_minutes: float, consecutive: int
) -> float:
    """The per-window, per-rule alpha that keeps expected false opens within the budget."""
    checks = rules * days * MINUTES_PER_DAY / window_minutes
    return float((false_alerts / checks) ** (1.0 / consecutive))


def split_alphas(
    false_alerts: float,
    days: float,
    rules: int,
    window_minutes: float,
    consecutive: int,
    split: float = 0.5,
) -> tuple[float, float]:
    """(alpha_1, alpha_k): the fast single-window path and the k-consecutive path."""
    fast = per_window_alpha(false_alerts * split, days, rules, window_minutes, 1)
    slow = per_window_alpha(false_alerts * (1 - split), days, rules, window_minutes, consecutive)
    return fast, slow
