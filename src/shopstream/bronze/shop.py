"""The shop's session model: who visits, on which device, and how far each session goes.

The published figures are settings (`config.GeneratorSettings`, sources in
docs/generator.md); this module turns them into per-device arrays the session planner
draws from. A session is a funnel:

- page views: 1 for a bounce (`bounce_rate`), else 2 or more (geometric), so the mean is
  `mean_page_views` on every device;
- a cart: a share of sessions adds products they viewed to the cart (`cart_rate`, from
  the device's published conversion and abandonment: conversion / (1 - abandonment));
  returning customers add `returning_cart_lift` times as often as first-time ones;
- a purchase: a cart is bought (every line of it, one checkout) with 1 - `cart_abandonment`.

Times within a session, in seconds (assumptions, see docs/generator.md): page views
`VIEW_GAP_S` apart on average, an add-to-cart `CART_DELAY_S` after its view, checkout
`CHECKOUT_MIN_S` + exponential(`CHECKOUT_S`) after the session's last view or cart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.config import GeneratorSettings

VIEW_GAP_S = 30.0  # ~5 views in a median 127 s session (Contentsquare 2024)
CART_DELAY_S = 15.0
CHECKOUT_MIN_S = 20.0
CHECKOUT_S = 60.0
HOME_DEVICE_SHARE = 0.8  # a returning customer's session is on their usual device
MAX_VIEWS = 60
QUANTITY_SHARES = (0.62, 0.22, 0.09, 0.05, 0.02)  # units per cart line, 1..5


@dataclass(frozen=True)
class ShopModel:
    """Per-device funnel figures (tuples aligned with `devices`) and the customer mix."""

    devices: tuple[str, ...]
    device_shares: tuple[float, ...]
    bounce_rate: tuple[float, ...]
    cart_rate: tuple[float, ...]  # share of sessions with an add-to-cart
    cart_abandonment: tuple[float, ...]  # share of carts not bought
    new_customer_share: float
    returning_cart_lift: float
    activity_sigma: float
    mean_page_views: float
    mean_cart_lines: float

    @classmethod
    def from_settings(
        cls,
        settings: GeneratorSettings,
        *,
        mean_views: float | None = None,
        cart_rate: float | None = None,
        purchase_rate: float | None = None,
    ) -> ShopModel:
        """The settings' shop; the three flags, when given, set every device alike."""
        devices = tuple(settings.device_shares)
        abandonment = tuple(
            1 - purchase_rate if purchase_rate is not None else settings.cart_abandonment[d]
            for d in devices
        )
        carts = tuple(
            cart_rate
            if cart_rate is not None
            else settings.conversion_rate[d] / max(1e-12, 1 - settings.cart_abandonment[d])
            for d in devices
        )
        return cls(
            devices=devices,
            device_shares=tuple(settings.device_shares[d] for d in devices),
            bounce_rate=tuple(settings.bounce_rate[d] for d in devices),
            cart_rate=carts,
            cart_abandonment=abandonment,
            new_customer_share=settings.new_customer_share,
            returning_cart_lift=settings.returning_cart_lift,
            activity_sigma=settings.activity_sigma,
            mean_page_views=mean_views if mean_views is not None else settings.mean_page_views,
            mean_cart_lines=settings.mean_cart_lines,
        )

    @classmethod
    def default(cls) -> ShopModel:
        """The shop of the default settings."""
        from shopstream.config import GeneratorSettings

        return cls.from_settings(GeneratorSettings())

    def __post_init__(self) -> None:
        sizes = {len(getattr(self, f.name)) for f in fields(self) if f.type.startswith("tuple")}
        if sizes != {len(self.devices)} or not self.devices:
            raise ConfigError("every device table must name the same devices")
        for name in ("bounce_rate", "cart_rate", "cart_abandonment", "device_shares"):
            if any(not 0.0 <= v <= 1.0 for v in getattr(self, name)):
                flag = {"cart_rate": "--cart-rate", "cart_abandonment": "--purchase-rate"}
                raise ConfigError(f"{flag.get(name, name)} must be between 0 and 1")
        if self.mean_page_views < 1.0:
            raise ConfigError("--mean-views must be at least 1")
        if abs(sum(self.device_shares) - 1.0) > 1e-6:
            raise ConfigError("device shares must add up to 1")
        engaged = 1.0 - self.bounce
        for device, carts, room in zip(self.devices, self.cart_rate, engaged, strict=True):
            if carts > room + 1e-12:
                raise ConfigError(
                    f"--cart-rate {carts:g}: at most {room:.3f} of {device} sessions can add to "
                    f"cart (the others bounce); lower it or raise --mean-views"
                )

    @cached_property
    def bounce(self) -> np.ndarray:
        """Share of one-view sessions per device: the rate, or more when views are few."""
        floor = max(0.0, 2.0 - self.mean_page_views)  # mean views < 2 needs more bounces
        return np.clip(np.maximum(np.array(self.bounce_rate), floor), 0.0, 1.0)

    @cached_property
    def extra_views(self) -> np.ndarray:
        """Mean views after the first, of sessions that do not bounce (>= 1)."""
        engaged = np.maximum(1.0 - self.bounce, 1e-12)
        return np.maximum(1.0, (self.mean_page_views - 1.0) / engaged)

    @cached_property
    def cart_if_engaged(self) -> np.ndarray:
        """P(cart | the session did not bounce) per device."""
        return np.array(self.cart_rate) / np.maximum(1.0 - self.bounce, 1e-12)

    @cached_property
    def cart_lift(self) -> tuple[float, float]:
        """Factors on the cart rate for (first-time, returning) sessions; their mix is 1."""
        new = self.new_customer_share
        first_time = 1.0 / (new + (1.0 - new) * self.returning_cart_lift)
        return first_time, first_time * self.returning_cart_lift

    @cached_property
    def events_per_session(self) -> float:
        """Expected rows per session (views + carts + purchases), spacing session starts."""
        shares, carts = np.array(self.device_shares), np.array(self.cart_rate)
        bought = 1.0 - np.array(self.cart_abandonment)
        lines = float(np.sum(shares * carts * (1.0 + bought))) * self.mean_cart_lines
        return self.mean_page_views + lines

    def device_index(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.devices)}
