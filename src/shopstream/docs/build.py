"""Which Markdown files hold which generated parts, and writing or checking them all.

`shopstream docs build` rewrites docs/configuration.md whole and every generated block of
README.md and docs/*.md in place; `--check` writes nothing and names what is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shopstream.docs import bench_tables, config_ref, contract_ref, gold_ref, sizing
from shopstream.docs.bench_results import RESULTS_DIR, Result, load_results
from shopstream.docs.blocks import render_blocks
from shopstream.errors import DocsError

CONFIGURATION = Path("docs") / "configuration.md"


@dataclass(frozen=True)
class Sources:
    """Where the generated parts come from: the repository root and its results."""

    root: Path

    @property
    def results_dir(self) -> Path:
        return self.root / RESULTS_DIR


def renderers(sources: Sources) -> dict[str, Callable[[], str]]:
    """Block name -> a function rendering its body now."""
    results = load_results(sources.results_dir)

    def bench(fn: Callable[[dict[str, Result]], str]) -> Callable[[], str]:
        return lambda: fn(results)

    out: dict[str, Callable[[], str]] = {
        "bench-summary": bench(bench_tables.summary),
        "bench-headline": bench(bench_tables.headline),
        "bench-e2e-runs": bench(bench_tables.e2e_runs),
        "bench-scale-runs": bench(bench_tables.scale_runs),
        "bench-reads-table": bench(bench_tables.reads_table),
        "bench-incidents-table": bench(bench_tables.incidents_table),
        "sizing": bench(sizing.sizing),
        "contract-reasons": contract_ref.reasons,
        "contract-raw-fields": contract_ref.raw_fields,
        "contract-clean-fields": contract_ref.clean_fields,
        "contract-dead-letter-fields": contract_ref.dead_letter_fields,
        "contract-tiers": contract_ref.tiers,
        "gold-tables": gold_ref.gold_tables,
    }
    for stem in bench_tables.SPECS:
        name = f"bench-{stem}"
        if name in out:
            raise DocsError(f"generated block {name} is declared twice")
        out[name] = bench(bench_tables.section(stem))
    return out


def markdown_files(root: Path) -> list[Path]:
    """README.md and docs/*.md: every file that may hold generated blocks."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def rendered(root: Path) -> dict[Path, str]:
    """path -> the text it should hold now, for every file with generated parts."""
    sources = Sources(root)
    fns = renderers(sources)
    out = {root / CONFIGURATION: config_ref.render()}
    for path in markdown_files(root):
        if path == root / CONFIGURATION or not path.exists():
            continue
        text = path.read_text()
        new = render_blocks(text, fns, str(path.relative_to(root)))
        if new != text or "<!-- generated:" in text:
            out[path] = new
    return out


def stale(root: Path) -> list[Path]:
    """Files whose text differs from what `build` would write."""
    return [p for p, text in rendered(root).items() if not p.exists() or p.read_text() != text]


def build(root: Path) -> list[Path]:
    """Write every generated part; returns the files that changed."""
    changed = []
    for path, text in rendered(root).items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed
