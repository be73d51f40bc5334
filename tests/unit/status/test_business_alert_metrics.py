"""/metrics carries the business alerts of the warehouse's `alerts` table, one series per
rule of RULES (what deploy/prometheus/alerts.yml fires on), read with one bounded query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash_data import T0, insert_alert
from prometheus_client import generate_latest
from prometheus_text import samples

from shopstream.alerts.rules import RULES
from shopstream.config import Settings
from shopstream.status import KafkaSnapshot, build_status
from shopstream.status.prometheus import make_registry
from shopstream.status.sources import business_alerts
from shopstream.warehouse import Warehouse

OPEN = "shopstream_business_alert_open"
OPENED = "shopstream_business_alerts_opened_total"


def scrape(settings: Settings, wh: Warehouse) -> dict[Any, float]:
    """The /metrics page of a status built on `wh`, Kafka unreachable."""
    doc = build_status(settings, warehouse=wh, kafka=KafkaSnapshot(False, error="down"))
    return samples(generate_latest(make_registry(lambda: doc)).decode())


def by_rule(got: dict[Any, float], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in got.items() if n == name}


def test_every_rule_has_a_series_at_zero_before_any_alert(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    got = scrape(offline_settings, filled_wh)
    assert by_rule(got, OPEN) == {
        (("alertname", r.name), ("severity", r.severity)): 0.0 for r in RULES
    }
    assert by_rule(got, OPENED) == {(("alertname", r.name),): 0.0 for r in RULES}


def test_open_episodes_are_1_and_every_episode_counts_as_opened(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    h = timedelta(hours=1)
    insert_alert(filled_wh, "CheckoutOutage", T0, resolved_at=T0 + h)
    insert_alert(filled_wh, "CheckoutOutage", T0 + 2 * h)
    insert_alert(filled_wh, "BadRelease", T0, resolved_at=T0 + h)
    got = scrape(offline_settings, filled_wh)
    assert got[(OPEN, (("alertname", "CheckoutOutage"), ("severity", "critical")))] == 1.0
    assert got[(OPEN, (("alertname", "BadRelease"), ("severity", "warning")))] == 0.0
    assert got[(OPENED, (("alertname", "CheckoutOutage"),))] == 2.0
    assert got[(OPENED, (("alertname", "BadRelease"),))] == 1.0
    assert got[(OPENED, (("alertname", "TrafficDrop"),))] == 0.0
    # The same figures in the status document (/api/status, `shopstream status --json`).
    doc = build_status(offline_settings, warehouse=filled_wh, kafka=KafkaSnapshot(False))
    assert doc["business_alerts"]["CheckoutOutage"] == {
        "severity": "critical",
        "open": 1,
        "opened": 2,
    }


def test_rows_of_unknown_rules_are_not_exported(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    filled_wh.execute(
        "INSERT INTO alerts VALUES ('Retired', 'critical', 's', TIMESTAMP '2026-11-24 09:00:00', "
        "NULL, 1, 0, 0.001, TIMESTAMP '2026-11-24 09:01:00', TIMESTAMP '2026-11-24 09:01:00')"
    )
    got = scrape(offline_settings, filled_wh)
    assert {dict(labels)["alertname"] for labels in by_rule(got, OPEN)} == {r.name for r in RULES}


def test_no_series_while_the_warehouse_does_not_answer(offline_settings: Settings) -> None:
    doc = build_status(offline_settings, warehouse=None, kafka=KafkaSnapshot(False))
    assert doc["business_alerts"] is None
    got = samples(generate_latest(make_registry(lambda: doc)).decode())
    assert by_rule(got, OPEN) == {} and by_rule(got, OPENED) == {}


def test_the_read_is_the_same_on_both_warehouses(any_wh: Warehouse) -> None:
    insert_alert(any_wh, "PaymentFailures", T0)
    insert_alert(any_wh, "TrafficDrop", T0, resolved_at=T0 + timedelta(minutes=4))
    got = {rule: (v["open"], v["opened"]) for rule, v in business_alerts(any_wh).items()}
    assert got == {
        "CheckoutOutage": (0, 0),
        "PaymentFailures": (1, 1),
        "BadRelease": (0, 0),
        "TrafficSpike": (0, 0),
        "TrafficDrop": (0, 1),
    }
    assert business_alerts(any_wh)["BadRelease"]["severity"] == "warning"


def test_the_terminal_status_names_the_open_alerts(
    offline_settings: Settings, filled_wh: Warehouse, capsys: Any
) -> None:
    from shopstream.cli.dashboard import print_status

    def line() -> str:
        doc = build_status(offline_settings, warehouse=filled_wh, kafka=KafkaSnapshot(False))
        print_status(doc)
        out = capsys.readouterr().out
        return next(x for x in out.splitlines() if x.startswith("business alerts:"))

    assert line() == "business alerts: none open (0 opened so far)"
    insert_alert(filled_wh, "CheckoutOutage", T0)
    insert_alert(filled_wh, "BadRelease", T0, resolved_at=T0 + timedelta(minutes=5))
    assert line() == "business alerts: CheckoutOutage (critical) open (2 opened so far)"
