"""The import graph: no cycles, and nothing imports a layer above it (docs/design.md).

Imports are read from the source (ast), including those inside functions: a lazy import
is still a dependency, it only moves the failure from import time to call time.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import shopstream

SRC = Path(shopstream.__file__).resolve().parent

# layer -> (level, the top-level modules and packages of `shopstream` in it).
# A module may import its own layer and any layer on a LOWER level: never a higher level,
# nor another layer on its own level (siblings stay independent: runtime runs stages and
# status, presentation such as the dashboard is composed above it, by the CLI).
LAYERS: dict[str, tuple[int, tuple[str, ...]]] = {
    # kafka/, spark/ and home.py (every file of the home) are what every stage stands on.
    "foundation": (
        0,
        (
            "shopstream",
            "alert_settings",
            "contract",
            "config",
            "errors",
            "faults",
            "gold_tables",  # declarations only: read by bronze's truth and the warehouse
            "home",
            "lazy",
            "kafka",
            "ports",
            "procinfo",
            "spark",
        ),
    ),
    "bronze": (1, ("bronze",)),
    "silver": (1, ("silver",)),
    "warehouse": (1, ("warehouse",)),
    "alerts": (2, ("alerts",)),  # reads the warehouse's minutes, records its alerts table
    "gold": (2, ("gold",)),  # commits into the warehouse
    "sql endpoint": (2, ("sqlendpoint",)),  # serves the writer's warehouse to BI clients
    "status": (3, ("status",)),
    "dashboard": (4, ("dashboard",)),
    "runtime": (4, ("runtime",)),
    "entry points": (5, ("cli", "bench", "docs", "__main__")),
}
LAYER_OF = {top: layer for layer, (_, tops) in LAYERS.items() for top in tops}


def _module_name(path: Path) -> str:
    parts = ["shopstream", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_checking: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under `node`, flagged when it sits in an `if TYPE_CHECKING:` block."""
    for child in ast.iter_child_nodes(node):
        inside = type_checking or (isinstance(child, ast.If) and _is_type_checking(child))
        yield child, inside
        yield from _walk(child, inside)


def imports(module: str) -> Iterator[tuple[str, bool]]:
    """(imported shopstream module, only for type checking) for each import in `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, type_only in _walk(ast.parse(path.read_text()), False):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            # `from pkg import sub` imports the submodule; `from mod import name`, the module.
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for name in names:
            if name == "shopstream" or name.startswith("shopstream."):
                yield name, type_only


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_module_has_a_layer() -> None:
    assert {_top(m) for m in MODULES} - LAYER_OF.keys() == set()


def test_every_listed_module_exists() -> None:
    """A layer naming a module that is gone would check nothing while reading as a rule."""
    assert LAYER_OF.keys() - {_top(m) for m in MODULES} == set()


def test_no_import_cycle_between_modules() -> None:
    # TYPE_CHECKING imports never run, so they cannot form a cycle at import time; a module
    # that imports itself (to reach its own attributes) is no cycle either.
    graph = {m: {t for t, type_only in imports(m) if not type_only and t != m} for m in MODULES}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None


def test_no_module_imports_a_layer_above_or_beside_it() -> None:
    violations = set()
    for module in MODULES:
        layer = LAYER_OF[_top(module)]
        level = LAYERS[layer][0]
        for target, _ in imports(module):
            target_layer = LAYER_OF.get(_top(target), "?")
            if target_layer != layer and LAYERS.get(target_layer, (99,))[0] >= level:
                violations.add(f"{module} ({layer}) imports {target} ({target_layer})")
    assert not violations, "\n".join(sorted(violations))


def test_the_checks_see_imports_inside_functions() -> None:
    # The cycle check is only as good as its parser: lazy imports must be found.
    found = {t for t, _ in imports("shopstream.cli.warehouse")}
    assert "shopstream.warehouse" in found


def test_test_files_have_unique_names() -> None:
    """pytest imports test modules by basename (no packages): two of a name cannot run together."""
    tests = Path(__file__).resolve().parents[1]
    names = Counter(p.name for p in tests.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
