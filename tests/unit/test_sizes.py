"""Sizes a stranger can read: no module over 600 lines, no function over 120.

Counted from the source (ast), a function from its `def` line to its last line, so a long
signature counts too: typed option declarations move to module constants instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import shopstream

SRC = Path(shopstream.__file__).resolve().parent
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 120


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_no_function_is_over_120_lines() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SRC)}:{node.name}"] = lines
    assert not long, long


def test_the_limits_see_real_modules() -> None:
    assert len(_modules()) > 50  # a wrong SRC would pass the tests above vacuously
