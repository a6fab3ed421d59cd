"""The lifecycle event log and the attempt history."""

from __future__ import annotations

from conveyor.backends.base import Backend, ErrorInfo
from conveyor.states import JobState
from tests.backends.conformance import (
    T0,
    at,
    claim,
    enqueue,
    events_of,
    new_job,
    outcome,
    require,
    start,
)


async def test_a_job_life_appends_one_event_per_transition(backend: Backend) -> None:
    job = await enqueue(backend, new_job(queue="life", run_at=at(10)), now=T0)
    await backend.promote_due(limit=10, now=at(10))
    [first] = await claim(backend, queues=["life"], now=at(11))
    error = ErrorInfo(type="TimeoutError", message="")
    await backend.finish_many(
        [outcome(first, JobState.RETRYING, error=error, retry_in=5)], now=at(12)
    )
    [second] = await claim(backend, queues=["life"], now=at(17))
    await backend.finish_many([outcome(second, JobState.SUCCEEDED, result_json="2")], now=at(18))

    events = await events_of(backend, job.id)

    assert [(e.state, e.reason, e.at) for e in events] == [
        (JobState.SCHEDULED, "enqueued", T0),
        (JobState.QUEUED, "due", at(10)),
        (JobState.RUNNING, "claimed", at(11)),
        (JobState.RETRYING, "error", at(12)),
        (JobState.QUEUED, "due", at(17)),
        (JobState.RUNNING, "claimed", at(17)),
        (JobState.SUCCEEDED, "succeeded", at(18)),
    ]
    assert all(event.job_id == job.id and event.kind == "state" for event in events)
    assert [event.id for event in events] == sorted({event.id for event in events})
    attempts = await backend.list_attempts(job.id)
    assert [(a.number, a.started_at, a.finished_at, a.outcome) for a in attempts] == [
        (1, at(11), at(12), "error"),
        (2, at(17), at(18), "succeeded"),
    ]
    assert (attempts[0].error_type, attempts[0].error_message) == ("TimeoutError", "")
    assert attempts[1].error_type is None


async def test_read_events_is_ordered_and_resumes_after_an_id(backend: Backend) -> None:
    jobs = [await enqueue(backend, new_job(queue="events"), now=T0) for _ in range(3)]
    claimed = await start(backend, now=at(1))

    everything = await backend.read_events(limit=100)

    ids = [event.id for event in everything]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert [event.job_id for event in everything[:3]] == [job.id for job in jobs]
    assert everything[-1].job_id == claimed.id
    middle = everything[1].id
    assert await backend.read_events(after=middle, limit=100) == everything[2:]
    assert await backend.read_events(after=everything[-1].id, limit=100) == []


async def test_read_events_limit_and_job_filter(backend: Backend) -> None:
    first = await enqueue(backend, now=T0)
    second = await enqueue(backend, now=T0)
    await backend.cancel(first.id, now=at(1))

    limited = await backend.read_events(limit=2)
    of_first = await backend.read_events(job_id=first.id)

    assert [event.job_id for event in limited] == [first.id, second.id]
    assert [(event.state, event.reason) for event in of_first] == [
        (JobState.QUEUED, "enqueued"),
        (JobState.CANCELLED, "cancelled"),
    ]
    after_first = await backend.read_events(after=of_first[0].id, job_id=first.id)
    assert after_first == of_first[1:]
    assert await backend.read_events(job_id="no-such-job") == []


async def test_event_ids_keep_increasing_after_pruning(backend: Backend) -> None:
    job = await enqueue(backend, now=T0)
    await backend.cancel(job.id, now=T0)
    newest_before = (await backend.read_events(limit=100))[-1].id
    assert await backend.prune_finished(older_than=at(1), limit=10) == 1

    later = await enqueue(backend, now=at(2))

    [event] = await backend.read_events(after=0, limit=100)
    assert event.job_id == later.id
    assert event.id > newest_before


async def test_event_ids_keep_increasing_after_deleting_the_newest_jobs(
    backend: Backend,
) -> None:
    older = await enqueue(backend, now=T0)
    newest = await enqueue(backend, now=T0)
    for job in (older, newest):
        await backend.cancel(job.id, now=T0)
    highest = (await backend.read_events(limit=100))[-1].id

    # the newest job first (it holds the highest id), then one that does not
    assert await backend.delete_job(newest.id) is not None
    assert await backend.delete_job(older.id) is not None
    assert await backend.read_events(limit=100) == []
    assert await backend.read_events(job_id=newest.id) == []
    later = await enqueue(backend, now=at(1))

    [event] = await backend.read_events(after=0, limit=100)
    assert event.job_id == later.id
    assert event.id > highest


async def test_list_attempts_of_a_job_without_attempts_is_empty(backend: Backend) -> None:
    job = await enqueue(backend, now=T0)

    assert await backend.list_attempts(job.id) == []
    assert await backend.list_attempts("no-such-job") == []


async def test_attempt_of_a_running_job_is_open(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    [attempt] = await backend.list_attempts(claimed.id)

    assert attempt.job_id == claimed.id
    assert (attempt.number, attempt.started_at) == (1, T0)
    assert attempt.finished_at is None
    assert attempt.outcome is None
    assert (await require(backend, claimed.id)).attempts == 1
