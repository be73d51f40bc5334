"""Tail probabilities without scipy: exact binomial tails in log space, normal tails.

Each tail is summed on its short side (away from the mean), from the observed count until
the terms are negligible: a few hundred terms even for a minute of 60,000 events.
"""

from __future__ import annotations

import math


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _tail_from(k: int, n: int, p: float, direction: int) -> float:
    """Sum pmf from k away from the mode (direction -1 down, +1 up) until negligible.

    Called only on the side of the mode where terms shrink monotonically, so stopping at a
    term below 1e-18 of the first loses less than that relative amount.
    """
    first = _log_binom_pmf(k, n, p)
    total, i = 1.0, k + direction
    while 0 <= i <= n:
        ratio = math.exp(_log_binom_pmf(i, n, p) - first)
        total += ratio
        if ratio < 1e-18:
            break
        i += direction
    return math.exp(first) * total


def binom_lower_tail(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if n <= 0 or k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    if k > n * p:  # k is past the mean: the short side is the upper tail
        return max(0.0, 1.0 - binom_upper_tail(k + 1, n, p))
    return min(1.0, _tail_from(k, n, p, -1))


def binom_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    if k < n * p:
        return max(0.0, 1.0 - binom_lower_tail(k - 1, n, p))
    return min(1.0, _tail_from(k, n, p, +1))


def normal_upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z.

    >>> normal_upper_tail(0.0)
    0.5
    """
    return 0.5 * math.erfc(z / math.sqrt(2.0))
