"""Errors of the Silver stage."""

from __future__ import annotations

from shopstream.errors import ConfigError, ShopstreamError


class SilverError(ShopstreamError):
    """Something in the Silver stage failed."""


class RealTimeSlotsError(SilverError, ConfigError):
    """Real-time Mode was asked for with fewer task slots than input partitions."""
