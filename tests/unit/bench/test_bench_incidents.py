"""`bench incidents`' scoring (pure): which alert detects which incident, what is false."""

from __future__ import annotations

from datetime import datetime, timedelta

from shopstream.bench.incidents import IncidentsOptions, _met, score

T = datetime(2026, 12, 2, 12, 0, 0)


def _incident(kind: str, start: datetime, minutes: float = 2) -> dict:
    end = start + timedelta(minutes=minutes)
    return {
        "kind": kind,
        "spec": f"{kind}@x",
        "event_time": {"start": start.isoformat() + "Z", "end": end.isoformat() + "Z"},
    }


def _alert(rule: str, started: datetime, detected_s: float, resolved: datetime | None) -> dict:
    return {
        "rule": rule,
        "started_at": started,
        "detected_at": started + timedelta(seconds=detected_s),
        "resolved_at": resolved,
    }


def test_an_alert_of_the_incidents_rule_detects_it_others_are_side_effects_or_false() -> None:
    outage = T + timedelta(minutes=40)
    incidents = [
        _incident("checkout_outage", outage),
        _incident("traffic_drop", T + timedelta(hours=1)),
    ]
    alerts = [
        _alert("TrafficDrop", T + timedelta(minutes=5), 30, T + timedelta(minutes=9)),  # false
        _alert("CheckoutOutage", outage, 21, outage + timedelta(minutes=5)),
        _alert("PaymentFailures", outage + timedelta(minutes=1), 5, None),  # side effect
    ]
    scored = score(incidents, alerts, gap_s=300)
    first, second = scored["incidents"]
    assert first["detected"] and first["detect_s"] == 21
    assert first["resolved_after_end_s"] == 180 and first["side_effects"] == ["PaymentFailures"]
    assert not second["detected"] and second["detect_s"] is None
    assert [a["rule"] for a in scored["false_alerts"]] == ["TrafficDrop"]
    assert not _met(scored)
    assert _met({"incidents": [first], "false_alerts": []})
    assert not _met({"incidents": [{**first, "detect_s": 61}], "false_alerts": []})


def test_the_schedule_follows_the_normal_stretch_one_incident_per_step() -> None:
    options = IncidentsOptions(normal_minutes=35, incident_minutes=2, gap_minutes=5,
                               kinds=("checkout_outage", "traffic_spike"))  # fmt: skip
    assert options.schedule() == [("checkout_outage", 2100, 120), ("traffic_spike", 2520, 120)]
    assert options.total_s() == 2100 + 2 * 420
