"""Status fixtures: the known dataset in a real DuckDB warehouse, Kafka unreachable."""

from dash_data import filled_wh, offline_settings

__all__ = ["filled_wh", "offline_settings"]
