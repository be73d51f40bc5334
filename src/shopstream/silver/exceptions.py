"""Errors of the Silver stage."""

from __future__ import annotations

from shopstream.errors import ConfigError, ShopstreamError, Terminal


class SilverError(ShopstreamError):
    """Something in the Silver stage failed."""


class SilverQueryFailed(SilverError, Terminal):
    """The streaming query stopped with an error (bad input never causes this)."""


class RealTimeSlotsError(SilverError, ConfigError):
    """Real-time Mode was asked for with fewer task slots than input partitions."""
