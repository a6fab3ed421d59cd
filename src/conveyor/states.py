"""The job state machine (DESIGN.md section 2). Pure: no I/O.

Backends implement these transitions as atomic compare-and-set steps; this module is
the written-down truth they are checked against by the conformance suite.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """The states a job can be in. The values are the strings users see."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    BLOCKED = "blocked"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for states a job never leaves by itself (only a manual retry of dead)."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})

#: States from which a job is waiting to run (cancel moves these straight to cancelled).
WAITING_STATES = frozenset(
    {JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING, JobState.BLOCKED}
)

#: Every allowed transition, keyed by source state. The reason a transition happens
#: (claim, due, error, lease lost...) is recorded on the lifecycle event, not here.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.SCHEDULED: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {
            JobState.SUCCEEDED,
            JobState.RETRYING,  # error with attempts left
            JobState.DEAD,  # error with attempts exhausted, or Fail raised
            JobState.CANCELLED,  # cancel observed by the handler
            JobState.QUEUED,  # lease lost (crash) or released at shutdown
        }
    ),
    JobState.RETRYING: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.BLOCKED: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.DEAD: frozenset({JobState.QUEUED}),  # manual retry
    JobState.CANCELLED: frozenset(),
}


def can_transition(source: JobState, target: JobState) -> bool:
    """Whether the state machine allows ``source -> target``."""
    return target in TRANSITIONS[source]


def check_transition(source: JobState, target: JobState) -> None:
    """Raise ``ValueError`` if ``source -> target`` is not an allowed transition."""
    if not can_transition(source, target):
        raise ValueError(f"transition {source.value} -> {target.value} is not allowed")
