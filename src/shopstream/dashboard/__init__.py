"""The live dashboard: FastAPI app, JSON API, /health, /metrics and a static page."""

from shopstream.dashboard.app import create_app

__all__ = ["create_app"]
