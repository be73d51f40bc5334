"""Generated blocks inside hand-written Markdown: find them, replace their bodies.

A block is an HTML comment pair, invisible on GitHub::

    <!-- generated: bench-summary (shopstream docs build; do not edit) -->
    ...rendered Markdown...
    <!-- end generated: bench-summary -->

The name selects the renderer; the text around the pair stays the author's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from shopstream.errors import DocsError

EN_DASH = "\u2013"  # a range, 0.8\u20131.0 s (ruff flags the literal character as ambiguous)
TIMES = "\u00d7"

BEGIN = "<!-- generated: {name} (shopstream docs build; do not edit) -->"
END = "<!-- end generated: {name} -->"
_BLOCK = re.compile(
    r"^<!-- generated: (?P<name>[a-z0-9-]+) \(shopstream docs build; do not edit\) -->\n"
    r"(?P<body>.*?)"
    r"^<!-- end generated: (?P=name) -->$",
    re.M | re.S,
)


def block_names(text: str) -> list[str]:
    """The names of the generated blocks in `text`, in order.

    >>> block_names(wrap("a", "x") + "\\n" + wrap("b", "y"))
    ['a', 'b']
    """
    return [m["name"] for m in _BLOCK.finditer(text)]


def block_bodies(text: str) -> dict[str, str]:
    """name -> the body a block holds now (without its marker lines)."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(text)}


def wrap(name: str, body: str) -> str:
    """A whole block: markers around `body` (which ends with a newline)."""
    body = body if body.endswith("\n") else body + "\n"
    return f"{BEGIN.format(name=name)}\n{body}{END.format(name=name)}"


def render_blocks(text: str, renderers: Mapping[str, Callable[[], str]], where: str) -> str:
    """`text` with every block's body replaced by what its renderer returns now.

    >>> render_blocks(wrap("n", "old"), {"n": lambda: "new"}, "x.md").splitlines()[1]
    'new'
    """
    unknown = [n for n in block_names(text) if n not in renderers]
    if unknown:
        raise DocsError(
            f"{where}: no renderer for generated block(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(renderers))}"
        )
    return _BLOCK.sub(lambda m: wrap(m["name"], renderers[m["name"]]()), text)


def cell(text: str) -> str:
    r"""Table-cell text: pipes escaped, and `<`/`>` outside code spans as entities (GitHub
    would drop `<home>` as an unknown HTML tag).

    >>> print(cell("default <home>/kafka, `a|b <c>`"))
    default &lt;home&gt;/kafka, `a\|b <c>`
    """
    parts = text.replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def span(low: str, high: str) -> str:
    """A range as the docs write it.

    >>> span("0.8", "1.0 s")
    '0.8\u20131.0 s'
    """
    return f"{low}{EN_DASH}{high}"
