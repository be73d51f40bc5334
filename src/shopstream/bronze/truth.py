"""Ground truth: what a correct pipeline must end with, from the generator's own classification.

`TruthBuilder.add(batch)` is called with every batch as it is sent (or the prefix that
was sent when a run stops); `result()` returns the truth document. Money is exact: amounts
are integer minor units, the reporting conversion is rational arithmetic rounded half-up,
and totals are written as decimal strings ("123.45").

Truth JSON shape (contract v1; extend, don't rename):

    {
      "contract_version": 1,
      "seed": 42,                         # null when unseeded
      "generator": {...},                 # the config that produced the bytes
      "generated_at": "2026-11-25T16:00:00.000Z",
      "reporting_currency": "USD",
      "raw": N,                           # messages sent
      "clean": N,                         # valid messages, duplicates included
      "unique": N,                        # distinct valid events (= clean - duplicates)
      "duplicates": N,                    # valid messages whose event_id was already sent
      "dead_letter": {"total": N, "by_reason": {"malformed_json": N, ...every code}},
      "by_event_type": {"PAGE_VIEW": N, "ADD_TO_CART": N, "PURCHASE": N},   # unique
      "revenue_total": "123.45",          # sum of reporting_amount over unique PURCHASEs
      "customers_active": N,
      "event_time": {"min": iso, "max": iso},                              # unique valid
      "customer_daily_metrics": [{"customer_id", "event_date": "YYYY-MM-DD", "page_views",
          "add_to_cart_count", "purchase_count", "total_revenue": "12.34"}],  # sorted by id, date
      "hourly_metrics": [{"event_hour": "YYYY-MM-DDTHH:00:00Z", "page_views",
          "add_to_cart_count", "purchase_count", "total_revenue"}],
      "product_metrics": [{"product_id", "category", "page_views", "add_to_cart_count",
          "purchase_count", "units_sold", "total_revenue"}],
      "category_metrics": [{"category", ...same counters...}],
      "keys": {"null": N, "by_key": {"CUST_00000001": N, ...}},  # raw messages per Kafka key
      "noise": {"malformed_json": N, ..., "duplicate": N},     # what was injected
      "customers": {"configured": N, "at_run_start": N, "at_end": N},  # the growing base
      "sessions": {...},     # totals and a table per session_id: `truth_shop.SessionTruth`
      "incidents": [...]     # each incident's window: see `truth_shop.IncidentTruth`
    }

With a `.parquet` path, `customer_daily_metrics` goes to that Parquet file (event_date
DATE, total_revenue DECIMAL(18,2)) and everything else to the same name with `.json`.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from shopstream.bronze.batch import ADD_TO_CART, HOUR_MS, PAGE_VIEW, PURCHASE, EventBatch
from shopstream.bronze.generator import EventGenerator
from shopstream.bronze.noise import Noise
from shopstream.bronze.truth_shop import IncidentTruth, SessionTruth
from shopstream.contract import CONTRACT_VERSION, EVENT_TYPES, REASONS
from shopstream.gold_tables.model import GoldTable
from shopstream.gold_tables.tables import CUSTOMER_DAILY
from shopstream.gold_tables.truth import GoldTruth, format_money

_COUNTERS = ("page_views", "add_to_cart_count", "purchase_count", "units_sold", "revenue_cents")


def half_up_cents(cents: int, rate: Decimal) -> int:
    """round_half_up(cents * rate) for cents >= 0, exactly (rate as a fraction p/q)."""
    p, q = rate.as_integer_ratio()
    return (2 * cents * p + q) // (2 * q)


def reporting_cents(
    cents: np.ndarray, currency: np.ndarray, currencies: list[str], rates: dict[str, Decimal]
) -> np.ndarray:
    """Reporting-currency cents per row; exact, computed once per distinct (currency, amount)."""
    if len(cents) == 0:
        return np.zeros(0, dtype=np.int64)
    # One key per (currency, amount): amounts stay far below 2**40 cents.
    key = (currency.astype(np.int64) << 40) | cents.astype(np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    values = [half_up_cents(k & ((1 << 40) - 1), rates[currencies[k >> 40]]) for k in uniq.tolist()]
    return np.asarray(values, dtype=np.int64)[inverse.ravel()]


def _iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _group(keys: np.ndarray, etype: np.ndarray, qty: np.ndarray, rev: np.ndarray) -> tuple:
    """(unique keys, counters[5, k]) for rows grouped by `keys`."""
    uk, inv = np.unique(keys, return_inverse=True)
    inv = inv.ravel()
    k = len(uk)
    purchase = etype == PURCHASE
    out = np.stack(
        (
            np.bincount(inv, weights=etype == PAGE_VIEW, minlength=k),
            np.bincount(inv, weights=etype == ADD_TO_CART, minlength=k),
            np.bincount(inv, weights=purchase, minlength=k),
            np.bincount(inv, weights=np.where(purchase, qty, 0), minlength=k),
            # float64 sums of integer cents are exact below 2**53 (~90 trillion).
            np.bincount(inv, weights=np.where(purchase, rev, 0), minlength=k),
        )
    ).astype(np.int64)
    return uk, out


class _Agg:
    """Partial aggregates per batch, merged once at the end (vectorized, no per-row Python)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: np.ndarray, etype: np.ndarray, qty: np.ndarray, rev: np.ndarray) -> None:
        if len(keys):
            self.parts.append(_group(keys, etype, qty, rev))

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.parts:
            return np.zeros(0, dtype=np.int64), np.zeros((5, 0), dtype=np.int64)
        keys = np.concatenate([k for k, _ in self.parts])
        vals = np.concatenate([v for _, v in self.parts], axis=1)
        uk, inv = np.unique(keys, return_inverse=True)
        out = np.stack(
            [np.bincount(inv.ravel(), weights=vals[r], minlength=len(uk)) for r in range(5)]
        ).astype(np.int64)
        self.parts = [(uk, out)]
        return uk, out


def _counters(vals: np.ndarray, j: int, units: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "page_views": int(vals[0, j]),
        "add_to_cart_count": int(vals[1, j]),
        "purchase_count": int(vals[2, j]),
    }
    if units:
        row["units_sold"] = int(vals[3, j])
    row["total_revenue"] = format_money(int(vals[4, j]))
    return row


class TruthBuilder:
    """Accumulates the ground truth of everything a generator produced and was sent.

    `customer_daily_metrics` is the truth of that Gold table's declaration
    (gold_tables/tables.py); a test may pass a modified declaration, and `also` other
    declared tables whose truth it wants (in `gold`, by table name; not in the document).
    """

    def __init__(
        self,
        generator: EventGenerator,
        customer_daily: GoldTable = CUSTOMER_DAILY,
        also: tuple[GoldTable, ...] = (),
    ) -> None:
        self.gen = generator
        self.raw = 0
        self.clean = 0
        self.duplicates = 0
        self.by_reason = np.zeros(len(REASONS), dtype=np.int64)
        self.noise = np.zeros(len(Noise), dtype=np.int64)
        self.key_counts = np.zeros(generator.world.customer_count, dtype=np.int64)
        self.null_keys = 0
        self.ts_min: int | None = None
        self.ts_max: int | None = None
        self._daily = GoldTruth(customer_daily)
        self.gold = {t.name: GoldTruth(t) for t in also}
        self._hourly, self._product = _Agg(), _Agg()
        self.by_type = np.zeros(len(EVENT_TYPES), dtype=np.int64)
        self.revenue_cents = 0
        self.sessions = SessionTruth()
        self.incidents = IncidentTruth(generator.windows, live=generator.clock is None)
        # (at run start, at the end) when another process generated the batches: set it from
        # `ProcessSource.customer_base`, as `generator` itself never drew them.
        self.customer_base: tuple[int | None, int] | None = None

    def add(self, batch: EventBatch) -> None:
        """Account for every row of `batch` (all of them were sent)."""
        n = len(batch)
        self.raw += n
        invalid = batch.reason >= 0
        self.by_reason += np.bincount(batch.reason[invalid], minlength=len(REASONS))
        self.clean += int(n - invalid.sum())
        self.duplicates += int(batch.duplicate.sum())
        original = ~batch.duplicate
        injected = batch.noise[(batch.noise >= 0) & original]
        self.noise += np.bincount(injected, minlength=len(Noise))
        keyed = batch.customer >= 0
        counts = np.bincount(batch.customer[keyed], minlength=len(self.key_counts))
        if len(counts) > len(self.key_counts):  # first-time customers joined the base
            grown = np.zeros(len(counts), dtype=np.int64)
            grown[: len(self.key_counts)] = self.key_counts
            self.key_counts = grown
        self.key_counts += counts
        self.null_keys += int(n - keyed.sum())

        m = ~invalid & original  # the unique valid events
        self.incidents.add(batch, m)
        if not m.any():
            return
        ts, etype = batch.ts_ms[m], batch.event_type[m]
        cust, qty, prod = batch.customer[m], batch.quantity[m], batch.product[m]
        lo, hi = int(ts.min()), int(ts.max())
        self.ts_min = lo if self.ts_min is None else min(self.ts_min, lo)
        self.ts_max = hi if self.ts_max is None else max(self.ts_max, hi)
        rev = np.zeros(len(ts), dtype=np.int64)
        buy = etype == PURCHASE
        world = self.gen.world
        rev[buy] = reporting_cents(
            batch.cents[m][buy], batch.currency[m][buy], world.currencies, world.rates
        )
        self.by_type += np.bincount(etype, minlength=len(EVENT_TYPES))
        self.revenue_cents += int(rev.sum())
        rows = {
            "event_type": etype,
            "ts_ms": ts,
            "customer": cust.astype(np.int64),
            "product": prod,
            "session": batch.session[m],
            "device": batch.device[m],
            "quantity": qty,
            "revenue_cents": rev,
        }
        self._daily.add(rows)
        for table in self.gold.values():
            table.add(rows)
        self._hourly.add(ts // HOUR_MS, etype, qty, rev)
        has_prod = prod >= 0
        self._product.add(prod[has_prod], etype[has_prod], qty[has_prod], rev[has_prod])
        self.sessions.add(batch, m, rev)

    def result(self) -> dict[str, Any]:
        """The truth document (see the module docstring)."""
        gen, cfg = self.gen, self.gen.config
        world = gen.world
        daily = self._daily.rows({"customer": world.customer_names})
        (customers, *_), _ = self._daily.merged()
        hk, hv = self._hourly.merged()
        hourly = [
            {"event_hour": _iso_ms(int(h) * HOUR_MS)[:19] + "Z", **_counters(hv, j, False)}
            for j, h in enumerate(hk.tolist())
        ]
        pk, pv = self._product.merged()
        products = [
            {
                "product_id": gen.world.product_ids[p],
                "category": gen.world.product_category[p],
                **_counters(pv, j, True),
            }
            for j, p in enumerate(pk.tolist())
        ]
        categories: dict[str, np.ndarray] = {}
        for j, p in enumerate(pk.tolist()):
            c = gen.world.product_category[p]
            categories[c] = categories.get(c, 0) + pv[:, j]
        cat_rows = [
            {"category": c, **_counters(v[:, None], 0, True)} for c, v in sorted(categories.items())
        ]
        by_type = {t: int(self.by_type[i]) for i, t in enumerate(EVENT_TYPES)}
        unique = self.clean - self.duplicates
        noise = {k.name.lower(): int(self.noise[k]) for k in Noise}
        noise["duplicate"] = self.duplicates
        return {
            "contract_version": CONTRACT_VERSION,
            "seed": cfg.seed,
            "generator": _config_json(cfg),
            "generated_at": _iso_ms(gen.started_ms),
            "reporting_currency": _reporting_currency(gen),
            "raw": self.raw,
            "clean": self.clean,
            "unique": unique,
            "duplicates": self.duplicates,
            "dead_letter": {
                "total": int(self.by_reason.sum()),
                "by_reason": {r: int(self.by_reason[i]) for i, r in enumerate(REASONS)},
            },
            "by_event_type": by_type,
            "revenue_total": format_money(self.revenue_cents),
            "customers_active": len(np.unique(customers)),
            "event_time": {
                "min": None if self.ts_min is None else _iso_ms(self.ts_min),
                "max": None if self.ts_max is None else _iso_ms(self.ts_max),
            },
            "customer_daily_metrics": daily,
            "hourly_metrics": hourly,
            "product_metrics": products,
            "category_metrics": cat_rows,
            "keys": {
                "null": self.null_keys,
                "by_key": dict(
                    zip(
                        world.customer_names(np.flatnonzero(self.key_counts)),
                        self.key_counts[self.key_counts > 0].tolist(),
                        strict=True,
                    )
                ),
            },
            "noise": noise,
            **self._shop_sections(),
        }

    def _shop_sections(self) -> dict[str, Any]:
        """The shop model's truth (sessions, customers, incidents), kept in `truth_shop`."""
        gen, world = self.gen, self.gen.world
        base, planner = world.customers, gen.planner
        at_run_start = planner.customers_at_run_start if planner is not None else None
        at_end = world.customer_count
        if self.customer_base is not None:  # the batches came from another process
            at_run_start, at_end = self.customer_base
        return {
            # Configured, then with the first-time customers of the sessions in flight when
            # the run started (the shop was already open), then at the end.
            "customers": {
                "configured": base.configured if base is not None else world.customer_count,
                "at_run_start": at_run_start or world.customer_count,
                "at_end": at_end,
            },
            "sessions": self.sessions.result(world.customer_names, world.devices),
            "incidents": self.incidents.result(),
        }


def _reporting_currency(gen: EventGenerator) -> str:
    """The currency whose rate is 1 (USD by default)."""
    ones = [c for c, r in gen.world.rates.items() if r == 1]
    return "USD" if "USD" in ones or not ones else ones[0]


def _config_json(cfg: Any) -> dict[str, Any]:
    out = dataclasses.asdict(cfg)
    out["currency_rates"] = {k: str(v) for k, v in cfg.currency_rates.items()}
    return out


def write_truth(
    truth: dict[str, Any], path: Path, customer_daily: GoldTable = CUSTOMER_DAILY
) -> list[Path]:
    """Write the truth as JSON, or Parquet rows + JSON summary for a `.parquet` path.

    With `.parquet`, `customer_daily_metrics` goes to that file (its columns are the
    declaration's: dates as DATE, money as DECIMAL(18,2)), the sessions table to
    `<name>.sessions.parquet` and everything else to `<name>.json`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".parquet":
        path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
        return [path]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = _daily_arrow(truth["customer_daily_metrics"], customer_daily)
    pq.write_table(table, path)
    sessions_path = _sessions_parquet(path)
    pq.write_table(pa.table(truth["sessions"]["table"]), sessions_path)
    summary = {k: v for k, v in truth.items() if k != "customer_daily_metrics"}
    summary["customer_daily_metrics_parquet"] = path.name
    summary["sessions"] = {k: v for k, v in truth["sessions"].items() if k != "table"}
    summary["sessions"]["table_parquet"] = sessions_path.name
    side = path.with_suffix(".json")
    side.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return [path, sessions_path, side]


def _daily_arrow(rows: list[dict[str, Any]], declared: GoldTable) -> Any:
    """The customer_daily_metrics truth rows as an arrow table typed from the declaration."""
    import pyarrow as pa

    kinds = {k.name: k.kind for k in declared.keys}
    kinds |= {m.name: m.kind for m in declared.measures if m.truth is not None}
    kinds |= {d.name: d.kind for d in declared.derived}
    columns = {}
    for name, kind in kinds.items():
        values = [r[name] for r in rows]
        if kind == "date":
            columns[name] = pa.array([date.fromisoformat(v) for v in values], pa.date32())
        elif kind == "money":
            columns[name] = pa.array([Decimal(v) for v in values], pa.decimal128(18, 2))
        elif kind == "int":
            columns[name] = pa.array(values, pa.int64())
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def _sessions_parquet(path: Path) -> Path:
    return path.with_name(path.stem + ".sessions.parquet")


def read_truth(path: Path) -> dict[str, Any]:
    """Load a truth file written by `write_truth` (either form)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        truth = orjson.loads(path.with_suffix(".json").read_bytes())
        rows = pq.read_table(path).to_pylist()
        # Back to the JSON form: dates and money (Decimal) as text.
        truth["customer_daily_metrics"] = [
            {k: str(v) if isinstance(v, (date, Decimal)) else v for k, v in r.items()} for r in rows
        ]
        sessions = truth["sessions"]
        if sessions.pop("table_parquet", None):
            sessions["table"] = pq.read_table(_sessions_parquet(path)).to_pydict()
        return truth
    return orjson.loads(path.read_bytes())


def compute_truth(generator: EventGenerator, total: int, batch_size: int = 65_536) -> tuple:
    """Generate `total` rows and their truth in memory: (batches, truth). For tests and tools."""
    builder = TruthBuilder(generator)
    batches = []
    for batch in generator.batches(total, batch_size):
        builder.add(batch)
        batches.append(batch)
    return batches, builder.result()
