"""Stage health: a pure function from what is known about a stage to a verdict.

A stage is *stalled* when input is waiting for it and it has not committed for
`pipeline.stall_seconds`; *dead* when its live query terminated; *unknown* when its input
offsets cannot be read. A pipeline that looks healthy while not moving is the worst
failure a user can meet, so anything unknown is reported as not healthy.

Examples:
    >>> judge_stage(StageFacts(lag=0, last_progress_age=3.0), stall_seconds=30).state
    'ok'
    >>> judge_stage(StageFacts(lag=10, last_progress_age=60.0), stall_seconds=30).state
    'stalled'
    >>> judge_stage(StageFacts(lag=None), stall_seconds=30).healthy
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["ok", "idle", "stalled", "dead", "unknown"]
STATES: tuple[State, ...] = ("ok", "idle", "stalled", "dead", "unknown")
HEALTHY_STATES = frozenset({"ok", "idle"})


@dataclass(frozen=True)
class StageFacts:
    """What is known about one stage at one moment; None = not known."""

    lag: int | None
    last_progress_age: float | None = None
    running_for: float | None = None
    active: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class StageHealth:
    """A stage's verdict: state and a sentence saying why."""

    state: State
    reason: str

    @property
    def healthy(self) -> bool:
        """Whether this state is fine for a user (moving, or nothing to do)."""
        return self.state in HEALTHY_STATES


def judge_stage(facts: StageFacts, stall_seconds: float) -> StageHealth:
    """The stall rule: stalled = input waiting and no commit for `stall_seconds`."""
    if facts.error:
        return StageHealth("dead", f"query terminated with an error: {facts.error}")
    if facts.active is False:
        return StageHealth("dead", "query is not running (stopped)")
    if facts.lag is None:
        return StageHealth("unknown", "input offsets unknown (Kafka unreachable)")
    age = facts.last_progress_age
    if facts.lag > 0:
        # The stall clock runs from the last commit, or from the live queries' start if
        # that is later: a pipeline resuming over a backlog is starting, not stalled.
        known = [seconds for seconds in (age, facts.running_for) if seconds is not None]
        quiet = min(known) if known else None
        if quiet is None:
            return StageHealth(
                "stalled", f"{facts.lag:,} records waiting and no batch was ever committed"
            )
        if quiet >= stall_seconds:
            return StageHealth(
                "stalled",
                f"{facts.lag:,} records waiting, no commit for {quiet:.0f}s "
                f"(limit {stall_seconds:g}s)",
            )
        return StageHealth("ok", f"processing, {facts.lag:,} records behind")
    if age is not None and age < stall_seconds:
        return StageHealth("ok", "caught up")
    return StageHealth("idle", "caught up, no new input")
