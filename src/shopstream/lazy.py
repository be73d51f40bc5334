"""A package's names loaded from their modules on first use (PEP 562 `__getattr__`).

`shopstream sql` through a running endpoint needs two small modules; importing a package's
every module up front cost ~0.3 s of its start (pyarrow, sqlglot, DuckDB).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The package's `__getattr__`: `name` from `<package>.<homes[name]>`, kept once loaded."""

    def __getattr__(name: str) -> Any:
        module = homes.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
