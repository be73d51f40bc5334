"""The docs belong to the project: generated parts are current, links and commands resolve.

- docs/configuration.md is what `shopstream docs build` renders from config.py now, and
  names every setting with its environment variable and TOML key;
- every generated block (benchmark tables from bench/results, the sizing table, contract
  tables) equals what the renderers give from today's files;
- every relative link of README.md and docs/*.md reaches a file inside the repository,
  and its #anchor a heading of that file;
- every `shopstream ...` command the docs show exists, with the flags they give it;
- no file points outside the repository (to the design doc it once borrowed).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main

from shopstream.cli import app
from shopstream.contract import REASON_DESCRIPTIONS, REASONS, Reason
from shopstream.docs import build, config_ref
from shopstream.docs.bench_results import NOT_RECORDED, load_results
from shopstream.docs.bench_tables import SPECS, summary
from shopstream.docs.blocks import block_bodies, block_names, wrap
from shopstream.docs.links import anchors, broken_links, links

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARKDOWN = build.markdown_files(ROOT)
CONFIGURATION = ROOT / build.CONFIGURATION


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- generated parts -----------------------------------------------------------------------


def test_configuration_reference_is_what_the_generator_writes_now() -> None:
    assert CONFIGURATION.read_text() == config_ref.render(), (
        "docs/configuration.md is stale: run `shopstream docs build`"
    )


def test_every_setting_is_described_and_documented() -> None:
    doc = CONFIGURATION.read_text()
    settings = list(config_ref.settings())
    assert len(settings) > 50  # the walk reached the nested sections
    for s in settings:
        assert s.field.description, f"{s.key} has no description= in config.py"
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{s.key}` |")), "")
        assert f"`{s.env}`" in row and f"`{s.toml}`" in row, f"{s.key} is not documented"


@pytest.mark.parametrize("path", [p for p in MARKDOWN if p != CONFIGURATION], ids=_name)
def test_generated_blocks_are_what_the_renderers_give_now(path: Path) -> None:
    expected = build.rendered(ROOT).get(path)
    if expected is None:
        assert not block_names(path.read_text())
        return
    assert path.read_text() == expected, f"{_name(path)} is stale: run `shopstream docs build`"


def test_every_benchmark_result_has_a_row_in_the_summary() -> None:
    text = (DOCS / "benchmarks.md").read_text()
    assert set(load_results(ROOT / "bench" / "results")) <= SPECS.keys()
    table = block_bodies(text)["bench-summary"]
    assert table == summary(load_results(ROOT / "bench" / "results"))
    assert table.count("\n") == 2 + len(list((ROOT / "bench" / "results").glob("*.json")))


def test_the_benchmark_figures_appear_where_they_are_quoted() -> None:
    # The README, the benchmarks and the operator guide quote one producer figure: the file's.
    results = load_results(ROOT / "bench" / "results")
    figure = f"{results['producer']['ours']['events_per_s']:,.0f}"
    for doc in (README, DOCS / "benchmarks.md", DOCS / "operations.md"):
        assert figure in doc.read_text(), doc.name


def test_a_result_without_its_facts_reads_not_recorded() -> None:
    bare = {"benchmark": "gold", "gold_clean_events_per_s": 1.0, "clean_events": 1,
            "gold_seconds": 1.0, "batches": [], "exact": True, "target_events_per_s": 2,
            "meets_target": False}  # fmt: skip
    row = summary({"gold": bare}).splitlines()[2]
    # date, load and ProducerPerformance: none invented
    assert row.split(" | ")[1:4] == [NOT_RECORDED] * 3


def test_an_unknown_block_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(wrap("no-such-table", "x") + "\n")
    with pytest.raises(Exception, match="no renderer for generated block"):
        build.rendered(tmp_path)


# --- the contract as the docs state it -----------------------------------------------------


def test_the_design_doc_states_the_reason_codes_as_the_contract_declares_them() -> None:
    text = (DOCS / "design.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `([a-z_]+)` \| (.+?) \|$", text, re.M)
    assert [code for _, code, _ in rows] == list(REASONS)
    assert [int(n) for n, _, _ in rows] == list(range(1, len(REASONS) + 1))
    for _, code, description in rows:
        assert description == REASON_DESCRIPTIONS[Reason(code)]


# --- links ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MARKDOWN, ids=_name)
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    assert broken_links(path, ROOT) == []


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n")
    md = tmp_path / "b.md"
    md.write_text(
        "[ok](a.md#two-words) [file](missing.md) [anchor](a.md#nope) [up](../x.md) "
        "[self](#local) `[code](missing.md)`\n\n## Local\n\n```\n[fenced](missing.md)\n```\n"
    )
    problems = broken_links(md, tmp_path)
    assert [p.split(": ", 1)[1].split(" ")[0] for p in problems] == [
        "missing.md",
        "a.md#nope",
        "../x.md",
    ]
    assert anchors((tmp_path / "a.md").read_text()) == {"title", "two-words"}
    assert [t for _, t in links(md.read_text())][-1] == "#local"


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = README.read_text()
    assert len(text.encode()) <= 12 * 1024
    title, fence, first, second, close = [line for line in text.splitlines() if line][:5]
    assert title.startswith("# ") and fence == "```" and close == "```"
    assert (first, second) == ("make run", "make test")
    assert "docs/img/dashboard.png" in text and (DOCS / "img" / "dashboard.png").is_file()


# --- commands ------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"`(shopstream [^`]+)`")


def _shown_commands(text: str) -> list[str]:
    """Every `shopstream ...` invocation in inline code or at the start of a code line."""
    found = [m.replace("\\|", "|") for m in _CODE_SPAN.findall(text)]
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            # `shopstream up`, `  shopstream process`, or after VAR=value prefixes
            m = re.match(r"^\s*(?:[A-Z_]+=\S+\s+)*(shopstream\s.*?)(?:\s+#.*)?$", line)
            if m:
                found.append(m[1])
    return found


def _resolve(invocation: str, root: Any) -> tuple[Any, list[str]]:
    """The command an invocation names, and the command words it followed."""
    words = invocation.split()[1:]
    command, path = root, []
    for word in words:
        # Typer vendors click: a group is whatever has subcommands.
        if not hasattr(command, "commands") or not re.fullmatch(r"[a-z][a-z-|]*", word):
            break
        if "|" in word:  # `bench producer|silver|...`: each alternative must exist
            missing = [w for w in word.split("|") if w not in command.commands]
            assert not missing, f"`{invocation}`: no command {missing} under {path}"
            return command.commands[word.split("|")[0]], [*path, word]
        sub = command.commands.get(word)
        assert sub is not None, f"`{invocation}`: no command `{' '.join([*path, word])}`"
        command, path = sub, [*path, word]
    assert path, f"`{invocation}` names no command"
    return command, path


def _options(command: Any) -> set[str]:
    return {"--help", "-h"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("path", MARKDOWN, ids=_name)
def test_every_command_shown_exists_with_its_flags(path: Path) -> None:
    root = typer.main.get_command(app)
    shown = _shown_commands(path.read_text())
    if path == README:
        assert len(shown) >= 15, shown  # the command table was read
    for invocation in shown:
        command, words = _resolve(invocation, root)
        rest = invocation.split(None, len(words) + 1)[len(words) + 1 :]
        flags = re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", " ".join(rest))
        unknown = [f for f in flags if f not in _options(command)]
        assert not unknown, f"`{invocation}`: `shopstream {' '.join(words)}` has no {unknown}"


# --- nothing points outside ----------------------------------------------------------------

# Spelled in pieces, so this file does not match itself.
OUTSIDE = ("../" + "shared", "DESIGN" + ".md")


def test_no_file_points_outside_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    offenders = []
    for name in listed:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".jar", ".parquet"}:
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert offenders == []
