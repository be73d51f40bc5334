"""`shopstream docs build | screenshot`: the docs parts derived from code and results."""

from __future__ import annotations

from pathlib import Path

import typer

from shopstream.cli.common import console
from shopstream.errors import ConfigError

docs_app = typer.Typer(help="Docs derived from the code: settings reference, benchmark tables.")

RootOption = typer.Option(
    Path("."), "--root", help="The repository checkout (README.md, docs/, bench/results/)."
)


def _checkout(root: Path) -> Path:
    if not (root / "README.md").is_file() or not (root / "docs").is_dir():
        raise ConfigError(
            f"{root.resolve()} is not a shopstream checkout (no README.md and docs/): "
            "run this from the repository's root or pass --root"
        )
    return root


@docs_app.command("build")
def build(
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 naming each file that is out of date."
    ),
    root: Path = RootOption,
) -> None:
    """Write the generated docs: settings reference, benchmark and contract tables.

    docs/configuration.md comes from config.py; the tables between generated markers in
    README.md and docs/*.md from bench/results/*.json and contract.py.
    """
    from shopstream.docs import build as docs

    root = _checkout(root)
    if check:
        old = docs.stale(root)
        for path in old:
            console.print(f"out of date: {path.relative_to(root)}")
        if old:
            console.print("run `shopstream docs build` and commit the result")
            raise typer.Exit(1)
        console.print("docs are up to date")
        return
    changed = docs.build(root)
    for path in changed:
        console.print(f"wrote {path.relative_to(root)}")
    if not changed:
        console.print("docs were up to date")


@docs_app.command("screenshot")
def screenshot(
    url: str = typer.Option(
        ..., "--url", help="A running dashboard, e.g. the one `shopstream up` prints."
    ),
    out: Path = typer.Option(Path("docs/img/dashboard.png"), "--out", help="PNG to write."),
) -> None:
    """The README's picture of the dashboard (Playwright + Debian's chromium)."""
    from shopstream.docs.screenshot import take

    path = take(url, out)
    console.print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def register(app: typer.Typer) -> None:
    """Add the `docs` group to the root app."""
    app.add_typer(docs_app, name="docs")
