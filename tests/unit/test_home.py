"""The home's files are named in shopstream/home.py only, and land where the settings say."""

from __future__ import annotations

import ast
from pathlib import Path

import shopstream
from shopstream.config import load_settings
from shopstream.home import Home

SRC = Path(shopstream.__file__).resolve().parent
HOME_MODULE = SRC / "home.py"


def _literals(tree: ast.AST) -> set[str]:
    """String constants that are not docstrings nor parts of f-strings."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    }


def _file_names() -> set[str]:
    """The names home.py gives files (`sql.json`, `sql-password`), not its directories."""
    return {s for s in _literals(ast.parse(HOME_MODULE.read_text())) if "." in s or "-" in s}


def test_home_names_the_files_it_is_checked_for() -> None:
    # The check below is only as good as this list: it must hold the names people spell.
    assert {"cluster.json", "sql.json", "sql-password", "warehouse-outage.json"} <= _file_names()


def test_no_other_module_spells_a_file_of_the_home() -> None:
    names = _file_names()
    found = {
        f"{path.relative_to(SRC)}: {name!r}"
        for path in sorted(SRC.rglob("*.py"))
        if path != HOME_MODULE
        for name in _literals(ast.parse(path.read_text())) & names
    }
    assert found == set(), "name these files in shopstream/home.py"


def test_settings_move_the_cluster_and_the_warehouse_out_of_the_home(tmp_path: Path) -> None:
    s = load_settings(
        home=tmp_path / "h",
        kafka={"data_dir": str(tmp_path / "k")},
        warehouse={"duckdb_path": str(tmp_path / "w.duckdb")},
    )
    files = Home.of(s)
    assert files.kafka_state == tmp_path / "k" / "cluster.json"
    assert files.duckdb == s.duckdb_path == tmp_path / "w.duckdb"
    assert files.sql_endpoint.parent == files.checkpoints.parent == s.state_dir == tmp_path / "h"
