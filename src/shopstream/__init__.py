"""shopstream: real-time e-commerce analytics."""

__version__ = "0.1.0"
