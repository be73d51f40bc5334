"""The stall rule: a stage's facts in, ok/idle/stalled/dead/unknown and a reason out."""

from __future__ import annotations

import pytest

from shopstream.status.health import StageFacts, judge_stage

STALL = 30.0


@pytest.mark.parametrize(
    ("facts", "state", "words"),
    [
        (StageFacts(lag=0, last_progress_age=1.0), "ok", "caught up"),
        (StageFacts(lag=0, last_progress_age=300.0), "idle", "no new input"),
        (StageFacts(lag=0), "idle", "no new input"),
        (StageFacts(lag=50, last_progress_age=2.0), "ok", "50 records behind"),
        (StageFacts(lag=50, last_progress_age=31.0), "stalled", "no commit for 31s"),
        (StageFacts(lag=50, last_progress_age=30.0), "stalled", "limit 30s"),
        (StageFacts(lag=7), "stalled", "ever committed"),
        (StageFacts(lag=7, running_for=5.0), "ok", "7 records behind"),
        (StageFacts(lag=7, running_for=45.0), "stalled", "no commit for 45s"),
        (StageFacts(lag=7, last_progress_age=600.0, running_for=5.0), "ok", "7 records behind"),
        (StageFacts(lag=0, active=False), "dead", "not running"),
        (StageFacts(lag=0, active=False, error="boom"), "dead", "boom"),
        (StageFacts(lag=None, last_progress_age=1.0), "unknown", "Kafka unreachable"),
    ],
)
def test_stall_rule(facts: StageFacts, state: str, words: str) -> None:
    verdict = judge_stage(facts, STALL)
    assert verdict.state == state
    assert words in verdict.reason
    assert verdict.healthy == (state in ("ok", "idle"))
