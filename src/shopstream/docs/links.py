"""Relative links in Markdown: GitHub's heading anchors, and links that do not resolve.

Used by the docs test (every relative link in README.md and docs/*.md must reach a file
inside the repository, and its `#anchor` a heading of that file) and by the renderers
that link to headings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
# [text](target) and ![alt](target); the target stops at whitespace or ')'.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> slug("Scaling out: where the limit is here (`bench scale`)")
    'scaling-out-where-the-limit-is-here-bench-scale'
    >>> slug("`[warehouse.snowflake]`")
    'warehousesnowflake'
    """
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown text defines: its headings (GitHub numbers repeats) and <a id>."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(text):
        found.update(_HTML_ANCHOR.findall(line))
        m = _HEADING.match(line)
        if not m:
            continue
        base = slug(m[2])
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(text: str) -> Iterator[tuple[int, str]]:
    """(line number, target) of every Markdown link and image outside code."""
    for number, line in _prose_lines(text):
        for m in _LINK.finditer(_INLINE_CODE.sub("", line)):
            yield number, m[1]


def broken_links(md: Path, root: Path) -> list[str]:
    """Relative links of `md` that leave `root`, name no existing file, or no anchor in it."""
    problems = []
    for number, target in links(md.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        where = f"{md.relative_to(root)}:{number}: {target}"
        path_part, _, anchor = target.partition("#")
        dest = (md.parent / path_part).resolve() if path_part else md.resolve()
        if not dest.is_relative_to(root.resolve()):
            problems.append(f"{where} leaves the repository")
        elif not dest.exists():
            problems.append(f"{where} names no file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
            problems.append(f"{where} names no heading of {dest.name}")
    return problems
