"""The event contract's tables in docs/design.md, rendered from `contract.py`."""

from __future__ import annotations

from shopstream import contract
from shopstream.contract import Field


def reasons() -> str:
    """The dead-letter reason codes in evaluation order (the first failing rule wins)."""
    rows = ["| # | reason | when |", "|---|---|---|"]
    for n, reason in enumerate(contract.Reason, 1):
        rows.append(f"| {n} | `{reason.value}` | {contract.REASON_DESCRIPTIONS[reason]} |")
    return "\n".join(rows) + "\n"


def _fields(fields: tuple[Field, ...]) -> str:
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for f in fields:
        rows.append(
            f"| `{f.name}` | {f.sql_type} | {'yes' if f.required else 'no'} | {f.description} |"
        )
    return "\n".join(rows) + "\n"


def raw_fields() -> str:
    return _fields(contract.RAW_FIELDS)


def clean_fields() -> str:
    return _fields(contract.CLEAN_FIELDS)


def dead_letter_fields() -> str:
    return _fields(contract.DEAD_LETTER_FIELDS)


def tiers() -> str:
    """The customer tiers by all-time revenue, as one sentence.

    >>> tiers()
    'VIP ≥ 1000, Premium ≥ 500, Regular ≥ 100, else New\\n'
    """
    *ranked, (lowest, _) = contract.TIER_MIN_REVENUE.items()
    return ", ".join(f"{tier} ≥ {low}" for tier, low in ranked) + f", else {lowest}\n"
