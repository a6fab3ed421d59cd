"""The state machine table matches DESIGN.md section 2."""

import pytest

from conveyor.states import TERMINAL_STATES, TRANSITIONS, JobState, can_transition, check_transition


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(JobState)


def test_terminal_states_are_succeeded_dead_cancelled() -> None:
    assert {s.value for s in TERMINAL_STATES} == {"succeeded", "dead", "cancelled"}
    assert all(s.is_terminal for s in TERMINAL_STATES)
    assert not JobState.RUNNING.is_terminal


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("scheduled", "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
        ("running", "retrying"),
        ("running", "dead"),
        ("running", "cancelled"),
        ("running", "queued"),
        ("retrying", "queued"),
        ("dead", "queued"),
        ("queued", "cancelled"),
        ("scheduled", "cancelled"),
        ("retrying", "cancelled"),
        ("blocked", "cancelled"),
        ("blocked", "queued"),
    ],
)
def test_allowed(source: str, target: str) -> None:
    assert can_transition(JobState(source), JobState(target))
    check_transition(JobState(source), JobState(target))


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("succeeded", "queued"),
        ("cancelled", "queued"),
        ("dead", "running"),
        ("queued", "succeeded"),
        ("scheduled", "running"),
        ("succeeded", "dead"),
    ],
)
def test_forbidden(source: str, target: str) -> None:
    assert not can_transition(JobState(source), JobState(target))
    with pytest.raises(ValueError, match="not allowed"):
        check_transition(JobState(source), JobState(target))


def test_terminal_states_only_leave_by_manual_retry() -> None:
    assert TRANSITIONS[JobState.SUCCEEDED] == frozenset()
    assert TRANSITIONS[JobState.CANCELLED] == frozenset()
    assert TRANSITIONS[JobState.DEAD] == frozenset({JobState.QUEUED})
