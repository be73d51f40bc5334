"""`docs/configuration.md`, rendered from the settings models in `config.py`.

Every setting's name, environment variable, TOML key, type, bounds, default and
description come from its pydantic field, so a setting is described once, where it is
declared, and the reference cannot miss one.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from shopstream.config import CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, Settings
from shopstream.docs.blocks import cell

ENV_PREFIX = "SHOPSTREAM_"


@dataclass(frozen=True)
class Setting:
    """One leaf setting: where it lives and how it is spelled in each source."""

    path: tuple[str, ...]  # TOML spelling: sections, then the key
    field: FieldInfo

    @property
    def key(self) -> str:
        """Dotted name, e.g. `kafka.bootstrap_servers` (`bootstrap_servers` under [kafka])."""
        return ".".join(self.path)

    @property
    def env(self) -> str:
        """Its environment variable, e.g. `SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS`."""
        return ENV_PREFIX + "__".join(self.path).upper()

    @property
    def section(self) -> str:
        return ".".join(self.path[:-1])

    @property
    def toml(self) -> str:
        """Its TOML spelling, e.g. `[kafka] bootstrap_servers`."""
        return f"[{self.section}] {self.path[-1]}" if self.section else self.path[-1]


def settings(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> Iterator[Setting]:
    """Every leaf setting of `model`, depth first, in declaration order."""
    for name, field in model.model_fields.items():
        path = (*prefix, field.alias or name)
        if _is_section(field.annotation):
            yield from settings(field.annotation, path)
        else:
            yield Setting(path, field)


def sections(
    model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted section name, model) for the root ('') and every nested section."""
    yield ".".join(prefix), model
    for name, field in model.model_fields.items():
        if _is_section(field.annotation):
            yield from sections(field.annotation, (*prefix, field.alias or name))


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def type_text(field: FieldInfo) -> str:
    """The field's type in words, with its bounds, e.g. `integer, 0 to 65535`.

    >>> from pydantic import Field
    >>> from pydantic.fields import FieldInfo
    >>> type_text(FieldInfo.from_annotated_attribute(int, Field(3, ge=1)))
    'integer, ≥ 1'
    """
    words = _type_words(field.annotation)
    bounds = _bounds(field.metadata)
    return f"{words}, {bounds}" if bounds else words


_WORDS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    Decimal: "decimal",
    SecretStr: "secret string",
}


def _type_words(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(
            _type_words(a) for a in typing.get_args(annotation) if a is not type(None)
        )
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(annotation))
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"table of {_type_words(key)} → {_type_words(value)}"
    return _WORDS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(metadata: list[Any]) -> str:
    low = high = None
    parts = []
    for m in metadata:
        if isinstance(m, at.Ge):
            low = f"≥ {m.ge}"
        elif isinstance(m, at.Gt):
            low = f"> {m.gt}"
        elif isinstance(m, at.Le):
            high = f"≤ {m.le}"
        elif isinstance(m, at.MinLen):
            parts.append("non-empty" if m.min_length == 1 else f"≥ {m.min_length} characters")
        elif getattr(m, "pattern", None):
            parts.append(f"matching `{m.pattern}`")
    if low and high and low.startswith("≥"):
        parts.insert(0, f"{low[2:]} to {high[2:]}")
    else:
        parts[:0] = [b for b in (low, high) if b]
    return ", ".join(parts)


def default_text(field: FieldInfo) -> str:
    """The default as a reader would type it; `unset` for None."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, dict):
        return ", ".join(f"`{k}` {v}" for k, v in value.items())
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _table(rows: list[Setting]) -> list[str]:
    out = [
        "| setting | TOML key | environment variable | type | default | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for s in rows:
        cells = (
            f"`{s.key}`",
            f"`{s.toml}`",
            f"`{s.env}`",
            type_text(s.field),
            default_text(s.field),
            s.field.description or "",
        )
        out.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return out


def _heading(section: str) -> str:
    return f"`[{section}]`" if section else "Top level"


def render() -> str:
    """The whole of docs/configuration.md."""
    all_settings = list(settings())
    lines = [*_INTRO.format(config_env=CONFIG_FILE_ENV, config_file=DEFAULT_CONFIG_FILE)
             .splitlines()]  # fmt: skip
    lines += ["", "## Sections", ""]
    for name, _model in sections():
        title = _heading(name)
        lines.append(f"- [{title}](#{_slug(title)})")
    for name, model in sections():
        rows = [s for s in all_settings if s.section == name]
        if not rows:
            continue
        doc = (model.__doc__ or "").strip().splitlines()[0] if model is not Settings else ""
        lines += ["", f"## {_heading(name)}", ""]
        if doc and not doc.startswith("Usage docs"):
            lines += [doc, ""]
        lines += _table(rows)
    return "\n".join(lines) + "\n"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading (see `links.slug`)."""
    from shopstream.docs.links import slug

    return slug(heading)


_INTRO = """\
<!-- generated by `shopstream docs build` from src/shopstream/config.py; do not edit -->
# Configuration

Every setting of shopstream, generated from `src/shopstream/config.py` (each field's
description is written there, once). Settings are typed and checked when a command starts:
a bad value stops it with one line naming the setting and how to fix it, exit code 2.

Where a value comes from, first match wins: a command's flag (e.g. `--home`, `--port`),
the environment variable, the TOML file, the default. The TOML file is `./{config_file}`,
or the file named by `{config_env}`. A setting `kafka.security_protocol` is the key
`security_protocol` under `[kafka]` in the file, and `SHOPSTREAM_KAFKA__SECURITY_PROTOCOL`
in the environment (sections joined by `__`):

```toml
home = "/var/lib/shopstream"

[kafka]
bootstrap_servers = "broker1:9092,broker2:9092"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "shopstream"

[spark]
master = "spark://spark-master:7077"

[warehouse.snowflake]
account = "myorg-myaccount"

[pipeline.currency_rates]
USD = 1
EUR = "1.08"
```

A table setting (`pipeline.currency_rates`) is a TOML table, or JSON in the environment:
`SHOPSTREAM_PIPELINE__CURRENCY_RATES='{{"USD": 1, "EUR": 1.08}}'`. A secret string
(passwords, keys) never appears in output, logs, errors or the settings' repr; give it
through the environment from a secret store rather than in the file.

Everything local lives under `home`: the local broker's data (`<home>/kafka`, unless
`kafka.data_dir`), checkpoints (`<home>/checkpoints`), logs (`<home>/logs`) and the DuckDB
file (`<home>/warehouse.duckdb`, unless `warehouse.duckdb_path`). Two homes never interfere,
and every port may be `0` (a free one is picked and printed).
"""
