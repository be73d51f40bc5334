"""The world events are drawn from: currencies, customers and a product catalog.

- customers (`customers.Customers`): log-normal activity, a home currency and device;
- a catalog of products in categories, log-normal prices in the reporting currency,
  converted to each customer's currency at the configured rate and rounded there, so
  every amount is exact in minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from shopstream.bronze.customers import Customers, customer_id, id_matrix
from shopstream.bronze.text import ascii_rows

CATEGORIES: dict[str, float] = {  # category -> median price in the reporting currency
    "electronics": 120.0,
    "fashion": 45.0,
    "home": 60.0,
    "beauty": 25.0,
    "sports": 55.0,
    "books": 15.0,
    "toys": 30.0,
    "grocery": 8.0,
    "garden": 40.0,
    "automotive": 70.0,
}
CURRENCY_WEIGHTS: dict[str, float] = {
    "USD": 0.6, "EUR": 0.2, "GBP": 0.1, "CAD": 0.05, "AUD": 0.03, "JPY": 0.02,
}  # fmt: skip
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW"})  # priced in whole units


def _empty(dtype: type) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass
class World:
    """Currencies, customers and the catalog; arrays are indexed by customer or product."""

    rates: dict[str, Decimal]  # upper-cased code -> units of reporting currency
    currencies: list[str]  # the rate table's codes, sorted; `currency` columns index it
    currency_weights: np.ndarray  # share of customers per currency
    customers: Customers | None = None  # None: a fixed list of `customer_ids` (seed shape)
    customer_ids: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)
    product_category: list[str] = field(default_factory=list)
    product_weights: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    # price_cents[product, currency]: the shop's local price in minor units of the currency.
    price_cents: np.ndarray = field(default_factory=lambda: _empty(np.int64))

    @classmethod
    def without_catalog(
        cls, currency_rates: Mapping[str, Decimal], customer_ids: list[str]
    ) -> World:
        """A world of given customers and the rate table's currencies, nothing for sale."""
        rates = _upper_rates(currency_rates)
        currencies, weights = _weighted(CURRENCY_WEIGHTS, sorted(rates))
        return cls(rates, currencies, weights, customer_ids=customer_ids)

    @property
    def customer_count(self) -> int:
        """Customers so far (the base grows as first-time customers arrive)."""
        return self.customers.count if self.customers is not None else len(self.customer_ids)

    def customer_name(self, index: int) -> str:
        """The customer id of index `index`."""
        return self.customer_ids[index] if self.customers is None else customer_id(index)

    def customer_names(self, indexes: np.ndarray) -> list[str]:
        """The customer ids of many indexes at once."""
        if self.customers is None:
            return [self.customer_ids[i] for i in indexes.tolist()]
        # Ids follow from the index alone, so a world that did not grow (the truth's twin of a
        # generator running in a child process) still names the customers the child added.
        return ascii_rows(id_matrix(np.asarray(indexes)))

    @property
    def customer_currency(self) -> np.ndarray:
        """Home currency per customer (index into `currencies`)."""
        assert self.customers is not None, "a world without a customer base has no currencies"
        return self.customers.currency


def build_world(
    rng: np.random.Generator,
    currency_rates: Mapping[str, Decimal],
    *,
    customers: int,
    products: int,
    devices: tuple[str, ...],
    device_shares: tuple[float, ...],
    activity_sigma: float,
) -> World:
    """Customers and a priced catalog, drawn from `rng` (the draw order fixes the bytes)."""
    rates = _upper_rates(currency_rates)
    currencies, currency_weights = _weighted(CURRENCY_WEIGHTS, sorted(rates))
    base = Customers(
        rng,
        customers,
        currency_weights=currency_weights,
        device_shares=np.asarray(device_shares, dtype=np.float64),
        activity_sigma=activity_sigma,
    )
    categories = list(CATEGORIES)
    product_category = rng.integers(0, len(categories), size=products)
    median = np.array([CATEGORIES[name] for name in categories])[product_category]
    price = np.maximum(1.0, np.round(median * rng.lognormal(0.0, 0.6, size=products)))
    reference_cents = (price * 100 - 1).astype(np.int64)  # x.99 pricing, reporting currency
    product_weights = _zipf_weights(products, 1.0, rng)
    # The shop lists local prices: rounding to the currency's unit happens here, once.
    price_cents = np.empty((products, len(currencies)), dtype=np.int64)
    for column, currency in enumerate(currencies):
        local = reference_cents / float(rates[currency])
        if currency in ZERO_DECIMAL_CURRENCIES:
            local = np.maximum(1, np.round(local / 100)) * 100
        price_cents[:, column] = np.maximum(1, np.round(local)).astype(np.int64)

    return World(
        rates=rates,
        currencies=currencies,
        currency_weights=currency_weights,
        customers=base,
        devices=list(devices),
        product_ids=[f"SKU-{number:06d}" for number in range(1, products + 1)],
        product_category=[categories[index] for index in product_category],
        product_weights=product_weights,
        price_cents=price_cents,
    )


def _upper_rates(currency_rates: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {code.upper(): Decimal(rate) for code, rate in currency_rates.items()}


def _zipf_weights(count: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like probabilities over `count` items, ranks shuffled so id order says nothing."""
    weights = 1.0 / np.arange(1, count + 1, dtype=np.float64) ** exponent
    rng.shuffle(weights)
    return weights / weights.sum()


def _weighted(names: dict[str, float], allowed: list[str]) -> tuple[list[str], np.ndarray]:
    """Names restricted to `allowed` (unknown ones weighted like the smallest), normalized."""
    floor = min(names.values())
    picked = list(allowed)
    weights = np.array([names.get(name, floor) for name in picked], dtype=np.float64)
    return picked, weights / weights.sum()
