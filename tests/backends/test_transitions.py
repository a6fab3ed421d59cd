"""finish_many from running to every next state, and the operator transitions (cancel,
requeue_dead, delete_job, prune_finished) looped over every starting state, asserting
the new row, the appended event and the attempt history."""

from __future__ import annotations

import secrets

import pytest

from conveyor.backends.base import Backend, ErrorInfo, Outcome
from conveyor.states import TERMINAL_STATES, WAITING_STATES, JobState
from tests.backends.conformance import (
    REACHABLE_STATES,
    T0,
    at,
    claim,
    enqueue,
    events_of,
    job_in_state,
    last_event,
    new_job,
    outcome,
    require,
    start,
)

BOOM = ErrorInfo(type="ValueError", message="boom", traceback="Traceback (most recent call last)")


async def test_finish_succeeded_stores_the_result(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    applied = await backend.finish_many(
        [outcome(claimed, JobState.SUCCEEDED, result_json='{"total": 3}')], now=at(2)
    )

    assert applied == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason) == (JobState.SUCCEEDED, "succeeded")
    assert job.result == {"total": 3}
    assert job.error is None
    assert job.finished_at == at(2)
    assert job.lease_expires_at is None
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason, event.at) == (JobState.SUCCEEDED, "succeeded", at(2))
    [attempt] = await backend.list_attempts(claimed.id)
    assert (attempt.outcome, attempt.finished_at) == ("succeeded", at(2))
    assert attempt.error_type is None
    assert attempt.error_message is None


async def test_finish_retrying_schedules_the_next_attempt(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    applied = await backend.finish_many(
        [outcome(claimed, JobState.RETRYING, error=BOOM, retry_in=30)], now=at(2)
    )

    assert applied == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason) == (JobState.RETRYING, "error")
    assert job.run_at == at(32)
    assert job.error == "ValueError: boom"
    assert job.finished_at is None
    assert job.lease_expires_at is None
    assert job.result is None
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason, event.at) == (JobState.RETRYING, "error", at(2))
    assert event.data.get("error") == "ValueError: boom"
    [attempt] = await backend.list_attempts(claimed.id)
    assert (attempt.outcome, attempt.finished_at) == ("error", at(2))
    assert (attempt.error_type, attempt.error_message) == ("ValueError", "boom")
    assert attempt.traceback == BOOM.traceback


async def test_finish_records_an_error_whose_text_holds_nul(backend: Backend) -> None:
    """A handler's exception message may hold NUL, which PostgreSQL text cannot: the
    outcome is still recorded (NUL shown as U+FFFD where a store cannot keep it), so the
    job is not left running until its lease expires. A result may escape NUL in JSON."""
    claimed = await start(backend, now=T0)
    error = ErrorInfo(type="ValueError", message="bad\x00byte", traceback="line\x00two")
    other = await start(backend, now=T0)

    applied = await backend.finish_many(
        [
            outcome(claimed, JobState.DEAD, error=error),
            outcome(other, JobState.SUCCEEDED, result_json='{"text": "a\\u0000b"}'),
        ],
        now=at(2),
    )

    assert applied == [claimed.id, other.id]
    job = await require(backend, claimed.id)
    assert job.state is JobState.DEAD
    assert job.error is not None
    assert job.error.replace("\ufffd", "\x00") == "ValueError: bad\x00byte"
    [attempt] = await backend.list_attempts(claimed.id)
    assert attempt.error_message is not None
    assert attempt.error_message.replace("\ufffd", "\x00") == "bad\x00byte"
    assert (await require(backend, other.id)).result == {"text": "a\x00b"}


async def test_finish_dead_is_terminal_with_the_error(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    applied = await backend.finish_many(
        [outcome(claimed, JobState.DEAD, reason="fail", error=BOOM)], now=at(3)
    )

    assert applied == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason, job.error) == (JobState.DEAD, "fail", "ValueError: boom")
    assert job.finished_at == at(3)
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason, event.at) == (JobState.DEAD, "fail", at(3))
    [attempt] = await backend.list_attempts(claimed.id)
    assert (attempt.outcome, attempt.error_type, attempt.finished_at) == (
        "fail",
        "ValueError",
        at(3),
    )


async def test_finish_cancelled_is_terminal(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    applied = await backend.finish_many([outcome(claimed, JobState.CANCELLED)], now=at(4))

    assert applied == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason, job.finished_at) == (JobState.CANCELLED, "cancelled", at(4))
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason) == (JobState.CANCELLED, "cancelled")
    [attempt] = await backend.list_attempts(claimed.id)
    assert (attempt.outcome, attempt.finished_at) == ("cancelled", at(4))


async def test_finish_queued_releases_the_lease_for_another_run(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    applied = await backend.finish_many([outcome(claimed, JobState.QUEUED)], now=at(5))

    assert applied == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason, job.run_at) == (JobState.QUEUED, "released", at(5))
    assert job.finished_at is None
    assert job.lease_expires_at is None
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason, event.at) == (JobState.QUEUED, "released", at(5))
    [attempt] = await backend.list_attempts(claimed.id)
    assert attempt.outcome == "released"
    [again] = await claim(backend, queues=[job.queue], now=at(5))
    assert (again.id, again.attempt) == (claimed.id, 2)
    assert again.lease_token != claimed.lease_token


async def test_finish_many_applies_a_batch_in_one_call(backend: Backend) -> None:
    claims = [await start(backend, now=T0) for _ in range(3)]

    applied = await backend.finish_many(
        [
            outcome(claims[0], JobState.SUCCEEDED, result_json="1"),
            outcome(claims[1], JobState.RETRYING, error=BOOM, retry_in=1),
            outcome(claims[2], JobState.DEAD, error=BOOM),
        ],
        now=at(1),
    )

    assert sorted(applied) == sorted(claim.id for claim in claims)
    states = [(await require(backend, claim.id)).state for claim in claims]
    assert states == [JobState.SUCCEEDED, JobState.RETRYING, JobState.DEAD]


async def test_finish_with_a_wrong_token_is_ignored(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    applied = await backend.finish_many(
        [outcome(claimed, JobState.SUCCEEDED, lease_token=secrets.token_hex(16))], now=at(1)
    )

    assert applied == []
    job = await require(backend, claimed.id)
    assert job.state is JobState.RUNNING
    assert (await last_event(backend, claimed.id)).state is JobState.RUNNING


async def test_finish_twice_applies_once(backend: Backend) -> None:
    claimed = await start(backend, now=T0)
    done = outcome(claimed, JobState.SUCCEEDED, result_json='"first"')

    assert await backend.finish_many([done], now=at(1)) == [claimed.id]
    again = outcome(claimed, JobState.DEAD, error=BOOM)
    assert await backend.finish_many([again, done], now=at(2)) == []

    job = await require(backend, claimed.id)
    assert (job.state, job.result, job.finished_at) == (JobState.SUCCEEDED, "first", at(1))
    assert len(await events_of(backend, claimed.id)) == 3  # enqueued, claimed, succeeded


@pytest.mark.parametrize("state", [s for s in REACHABLE_STATES if s is not JobState.RUNNING])
async def test_finish_of_a_job_that_is_not_running_is_ignored(
    backend: Backend, state: JobState
) -> None:
    job = await job_in_state(backend, state, now=T0)
    before = await events_of(backend, job.id)
    stray = Outcome(
        job_id=job.id, lease_token=secrets.token_hex(16), state=JobState.SUCCEEDED, reason="ok"
    )

    applied = await backend.finish_many([stray], now=at(1))

    assert applied == []
    assert await backend.get(job.id) == job
    assert await events_of(backend, job.id) == before


# --- cancel --------------------------------------------------------------------------


@pytest.mark.parametrize("state", REACHABLE_STATES)
async def test_cancel_from_every_state(backend: Backend, state: JobState) -> None:
    job = await job_in_state(backend, state, now=T0)
    events_before = await events_of(backend, job.id)

    after = await backend.cancel(job.id, reason="operator", now=at(7))

    assert after is not None
    assert after == await backend.get(job.id)
    events = await events_of(backend, job.id)
    if state in WAITING_STATES:
        assert (after.state, after.reason, after.finished_at) == (
            JobState.CANCELLED,
            "operator",
            at(7),
        )
        assert after.cancel_requested is False
        assert (events[-1].state, events[-1].reason, events[-1].at) == (
            JobState.CANCELLED,
            "operator",
            at(7),
        )
        assert len(events) == len(events_before) + 1
    elif state is JobState.RUNNING:
        # The worker holding the lease finishes the transition.
        assert after.state is JobState.RUNNING
        assert after.cancel_requested is True
        assert after.lease_expires_at == job.lease_expires_at
        assert events[: len(events_before)] == events_before
        assert all(event.state is JobState.RUNNING for event in events[len(events_before) :])
        assert await backend.list_cancel_requests([job.id]) == [job.id]
    else:
        assert state in TERMINAL_STATES
        assert after == job
        assert events == events_before


async def test_cancel_of_an_unknown_job_is_none(backend: Backend) -> None:
    assert await backend.cancel("no-such-job", now=T0) is None


async def test_cancel_twice_is_harmless(backend: Backend) -> None:
    job = await enqueue(backend, now=T0)
    first = await backend.cancel(job.id, now=at(1))
    second = await backend.cancel(job.id, now=at(2))

    assert first == second
    assert second is not None
    assert second.finished_at == at(1)
    assert second.reason == "cancelled"


async def test_cancelled_running_job_is_finished_by_its_worker(backend: Backend) -> None:
    claimed = await start(backend, now=T0)
    await backend.cancel(claimed.id, now=at(1))

    applied = await backend.finish_many([outcome(claimed, JobState.CANCELLED)], now=at(2))

    assert applied == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.finished_at) == (JobState.CANCELLED, at(2))
    assert await backend.list_cancel_requests([claimed.id]) == []


# --- requeue_dead --------------------------------------------------------------------


@pytest.mark.parametrize("state", REACHABLE_STATES)
async def test_requeue_dead_from_every_state(backend: Backend, state: JobState) -> None:
    job = await job_in_state(backend, state, now=T0)
    events_before = await events_of(backend, job.id)

    after = await backend.requeue_dead(job.id, now=at(9))

    assert after is not None
    assert after == await backend.get(job.id)
    events = await events_of(backend, job.id)
    if state is JobState.DEAD:
        assert (after.state, after.reason, after.run_at) == (JobState.QUEUED, "manual_retry", at(9))
        assert after.finished_at is None
        assert after.error is None
        assert after.attempts == job.attempts
        assert after.max_attempts == max(job.max_attempts, job.attempts + 1)
        assert (events[-1].state, events[-1].reason, events[-1].at) == (
            JobState.QUEUED,
            "manual_retry",
            at(9),
        )
        assert len(events) == len(events_before) + 1
    else:
        assert after == job
        assert events == events_before


async def test_requeued_dead_job_runs_one_more_attempt(backend: Backend) -> None:
    claimed = await start(backend, new_job(queue="once", max_attempts=1), now=T0)
    await backend.finish_many([outcome(claimed, JobState.DEAD, error=BOOM)], now=at(1))

    requeued = await backend.requeue_dead(claimed.id, now=at(2))

    assert requeued is not None
    assert (requeued.attempts, requeued.max_attempts) == (1, 2)
    [again] = await claim(backend, queues=["once"], now=at(2))
    assert again.attempt == 2
    assert again.max_attempts == 2
    assert [a.number for a in await backend.list_attempts(claimed.id)] == [1, 2]


async def test_requeue_dead_of_an_unknown_job_is_none(backend: Backend) -> None:
    assert await backend.requeue_dead("no-such-job", now=T0) is None


# --- delete_job and prune_finished ---------------------------------------------------


@pytest.mark.parametrize("state", REACHABLE_STATES)
async def test_delete_job_from_every_state(backend: Backend, state: JobState) -> None:
    job = await job_in_state(backend, state, now=T0)

    deleted = await backend.delete_job(job.id)

    assert deleted == job
    if state in TERMINAL_STATES:
        assert await backend.get(job.id) is None
        assert await events_of(backend, job.id) == []
        assert await backend.list_attempts(job.id) == []
    else:
        assert await backend.get(job.id) == job
        assert await events_of(backend, job.id) != []


async def test_delete_job_of_an_unknown_job_is_none(backend: Backend) -> None:
    assert await backend.delete_job("no-such-job") is None


async def test_prune_finished_deletes_old_terminal_jobs_only(backend: Backend) -> None:
    old = {state: await job_in_state(backend, state, now=T0) for state in REACHABLE_STATES}
    recent = await job_in_state(backend, JobState.SUCCEEDED, now=at(100))

    pruned = await backend.prune_finished(older_than=at(50), limit=100)

    assert pruned == len(TERMINAL_STATES)
    for state, job in old.items():
        if state in TERMINAL_STATES:
            assert await backend.get(job.id) is None
            assert await events_of(backend, job.id) == []
            assert await backend.list_attempts(job.id) == []
        else:
            assert await backend.get(job.id) == job
    assert await backend.get(recent.id) == recent
    assert await backend.prune_finished(older_than=at(50), limit=100) == 0


async def test_prune_finished_respects_the_limit(backend: Backend) -> None:
    for _ in range(3):
        await job_in_state(backend, JobState.SUCCEEDED, now=T0)

    assert await backend.prune_finished(older_than=at(1), limit=2) == 2
    assert await backend.prune_finished(older_than=at(1), limit=2) == 1
    assert await backend.prune_finished(older_than=at(1), limit=2) == 0
