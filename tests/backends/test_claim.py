"""claim_batch: order, queue filtering, limits, leases, and the expire/promote it does
first in the same step; promote_due on its own."""

from __future__ import annotations

from conveyor.backends.base import Backend, ClaimParams
from conveyor.states import JobState
from tests.backends.conformance import (
    LEASE_SECONDS,
    T0,
    at,
    claim,
    enqueue,
    events_of,
    job_in_state,
    new_job,
    outcome,
    require,
)


async def test_claim_moves_queued_to_running_with_a_lease(backend: Backend) -> None:
    job = await enqueue(backend, new_job(tenant="acme", idempotency_key="k1"), now=T0)

    [claimed] = await claim(backend, worker_id="worker-7", now=at(1))

    assert claimed.id == job.id
    assert claimed.type == "test.job"
    assert claimed.payload_json == '{"n": 1}'
    assert claimed.attempt == 1
    assert claimed.max_attempts == 3
    assert claimed.queue == "default"
    assert claimed.priority == 0
    assert claimed.tenant == "acme"
    assert claimed.idempotency_key == "k1"
    assert claimed.lease_token
    running = await require(backend, job.id)
    assert running.state is JobState.RUNNING
    assert running.reason == "claimed"
    assert running.attempts == 1
    assert running.started_at == at(1)
    assert running.lease_expires_at == at(1 + LEASE_SECONDS)
    assert running.worker_id == "worker-7"
    event = (await events_of(backend, job.id))[-1]
    assert (event.state, event.reason, event.at) == (JobState.RUNNING, "claimed", at(1))
    [attempt] = await backend.list_attempts(job.id)
    assert (attempt.number, attempt.started_at, attempt.worker_id) == (1, at(1), "worker-7")
    assert attempt.finished_at is None
    assert attempt.outcome is None


async def test_claim_takes_higher_priority_first_then_older_run_at_then_id(
    backend: Backend,
) -> None:
    low = await enqueue(backend, new_job(priority=-1), now=T0)
    default_late = await enqueue(backend, new_job(run_at=at(-5)), now=T0)
    default_early = await enqueue(backend, new_job(run_at=at(-10)), now=T0)
    high = await enqueue(backend, new_job(priority=10), now=T0)
    same_a = await enqueue(backend, new_job(priority=5, run_at=at(-1)), now=T0)
    same_b = await enqueue(backend, new_job(priority=5, run_at=at(-1)), now=T0)

    first = await claim(backend, limit=3, now=T0)
    rest = await claim(backend, limit=10, now=T0)

    assert [job.id for job in first] == [high.id, same_a.id, same_b.id]
    assert [job.id for job in rest] == [default_early.id, default_late.id, low.id]


async def test_claim_respects_the_limit(backend: Backend) -> None:
    for _ in range(5):
        await enqueue(backend, now=T0)

    assert len(await claim(backend, limit=2, now=T0)) == 2
    assert len(await claim(backend, limit=2, now=T0)) == 2
    assert len(await claim(backend, limit=2, now=T0)) == 1
    assert await claim(backend, limit=2, now=T0) == []


async def test_claim_only_takes_jobs_of_the_given_queues(backend: Backend) -> None:
    emails = await enqueue(backend, new_job(queue="emails"), now=T0)
    reports = await enqueue(backend, new_job(queue="reports"), now=T0)
    other = await enqueue(backend, new_job(queue="other"), now=T0)

    claimed = await claim(backend, queues=["emails", "reports", "emails"], now=T0)

    assert {job.id for job in claimed} == {emails.id, reports.id}
    assert (await require(backend, other.id)).state is JobState.QUEUED


async def test_claim_with_no_queues_or_no_room_claims_nothing(backend: Backend) -> None:
    await enqueue(backend, now=T0)

    assert await claim(backend, queues=[], now=T0) == []
    assert await claim(backend, limit=0, now=T0) == []
    assert len(await claim(backend, now=T0)) == 1


async def test_each_batch_gets_a_fresh_lease_token(backend: Backend) -> None:
    for _ in range(3):
        await enqueue(backend, now=T0)

    first = await claim(backend, limit=2, now=T0)
    second = await claim(backend, limit=2, now=T0)

    assert len({job.lease_token for job in first}) == 1
    assert first[0].lease_token != second[0].lease_token


async def test_claim_leaves_scheduled_jobs_until_due(backend: Backend) -> None:
    job = await enqueue(backend, new_job(run_at=at(60)), now=T0)

    assert await claim(backend, now=at(59)) == []
    [claimed] = await claim(backend, now=at(60))

    assert claimed.id == job.id
    events = await events_of(backend, job.id)
    assert [(event.state, event.reason) for event in events] == [
        (JobState.SCHEDULED, "enqueued"),
        (JobState.QUEUED, "due"),
        (JobState.RUNNING, "claimed"),
    ]
    assert events[1].at == at(60)


async def test_claim_promotes_due_retrying_jobs(backend: Backend) -> None:
    retrying = await job_in_state(backend, JobState.RETRYING, now=T0)  # due in an hour

    assert await claim(backend, queues=[retrying.queue], now=at(3599)) == []
    [claimed] = await claim(backend, queues=[retrying.queue], now=at(3600))

    assert claimed.id == retrying.id
    assert claimed.attempt == 2
    events = await events_of(backend, retrying.id)
    assert [(event.state, event.reason) for event in events[-2:]] == [
        (JobState.QUEUED, "due"),
        (JobState.RUNNING, "claimed"),
    ]


async def test_claim_cancels_waiting_jobs_past_their_expiry(backend: Backend) -> None:
    queued = await enqueue(backend, new_job(expire_at=at(10)), now=T0)
    scheduled = await enqueue(backend, new_job(run_at=at(5), expire_at=at(10)), now=T0)
    fresh = await enqueue(backend, new_job(expire_at=at(11)), now=T0)
    elsewhere = await enqueue(backend, new_job(queue="elsewhere", expire_at=at(10)), now=T0)

    claimed = await claim(backend, now=at(10))

    assert [job.id for job in claimed] == [fresh.id]
    for job in (queued, scheduled):
        expired = await require(backend, job.id)
        assert (expired.state, expired.reason) == (JobState.CANCELLED, "expired")
        assert expired.finished_at == at(10)
        event = (await events_of(backend, job.id))[-1]
        assert (event.state, event.reason, event.at) == (JobState.CANCELLED, "expired", at(10))
    # Not a queue this claim serves: left for a worker of that queue.
    assert (await require(backend, elsewhere.id)).state is JobState.QUEUED


async def test_claim_expires_retrying_jobs_before_promoting_them(backend: Backend) -> None:
    job = new_job(queue="expiring", expire_at=at(100))
    await enqueue(backend, job, now=T0)
    [first] = await claim(backend, queues=["expiring"], now=T0)
    await backend.finish_many([outcome(first, JobState.RETRYING, retry_in=10)], now=T0)

    assert await claim(backend, queues=["expiring"], now=at(100)) == []
    expired = await require(backend, job.id)
    assert (expired.state, expired.reason) == (JobState.CANCELLED, "expired")


async def test_a_running_job_does_not_expire(backend: Backend) -> None:
    await enqueue(backend, new_job(expire_at=at(10)), now=T0)
    [claimed] = await claim(backend, now=T0)

    assert await claim(backend, now=at(20)) == []
    assert (await require(backend, claimed.id)).state is JobState.RUNNING


async def test_claim_params_default_to_the_store_clock(backend: Backend) -> None:
    # No now anywhere: enqueue and claim both read the store's clock.
    [item] = await backend.enqueue_many([new_job()])
    claimed = await backend.claim_batch(
        ClaimParams(queues=["default"], limit=1, worker_id="w", lease_seconds=30)
    )

    assert [job.id for job in claimed] == [item.job.id]
    running = await require(backend, item.job.id)
    assert running.started_at is not None
    assert running.lease_expires_at is not None
    assert running.started_at >= item.job.created_at
    lease = (running.lease_expires_at - running.started_at).total_seconds()
    assert lease == 30


async def test_promote_due_queues_due_jobs_of_every_queue(backend: Backend) -> None:
    due_a = await enqueue(backend, new_job(queue="a", run_at=at(5)), now=T0)
    due_b = await enqueue(backend, new_job(queue="b", run_at=at(10)), now=T0)
    later = await enqueue(backend, new_job(queue="a", run_at=at(11)), now=T0)
    retrying = await job_in_state(backend, JobState.RETRYING, now=at(-3600))

    assert await backend.promote_due(limit=100, now=at(10)) == 3

    for job in (due_a, due_b, retrying):
        promoted = await require(backend, job.id)
        assert (promoted.state, promoted.reason) == (JobState.QUEUED, "due")
        event = (await events_of(backend, job.id))[-1]
        assert (event.state, event.reason, event.at) == (JobState.QUEUED, "due", at(10))
    assert (await require(backend, later.id)).state is JobState.SCHEDULED
    assert await backend.promote_due(limit=100, now=at(10)) == 0


async def test_promote_due_respects_the_limit_oldest_first(backend: Backend) -> None:
    second = await enqueue(backend, new_job(run_at=at(2)), now=T0)
    first = await enqueue(backend, new_job(run_at=at(1)), now=T0)

    assert await backend.promote_due(limit=1, now=at(5)) == 1

    assert (await require(backend, first.id)).state is JobState.QUEUED
    assert (await require(backend, second.id)).state is JobState.SCHEDULED
