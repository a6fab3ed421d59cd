"""enqueue_many: initial state, stored defaults, idempotency keys, batches, races."""

from __future__ import annotations

import asyncio

from conveyor.backends.base import Backend, JobQuery
from conveyor.states import JobState
from tests.backends.conformance import T0, BackendFactory, at, enqueue, events_of, new_job


async def test_job_without_run_at_is_queued_with_defaults(backend: Backend) -> None:
    job = new_job(payload_json='{"to": "a@example.com", "n": [1, 2]}', priority=-3)

    [enqueued] = await backend.enqueue_many([job], now=T0)

    stored = enqueued.job
    assert enqueued.existing is False
    assert stored.id == job.id
    assert stored.state is JobState.QUEUED
    assert stored.reason == "enqueued"
    assert stored.payload == {"to": "a@example.com", "n": [1, 2]}
    assert stored.type == "test.job"
    assert stored.queue == "default"
    assert stored.priority == -3
    assert stored.max_attempts == 3
    assert stored.attempts == 0
    assert stored.created_at == T0
    assert stored.run_at == T0
    assert stored.result is None
    assert stored.error is None
    assert stored.cancel_requested is False
    assert stored.started_at is None
    assert stored.finished_at is None
    assert stored.lease_expires_at is None
    assert stored.worker_id is None
    assert await backend.get(job.id) == stored


async def test_job_with_future_run_at_is_scheduled(backend: Backend) -> None:
    stored = await enqueue(backend, new_job(run_at=at(60), expire_at=at(3600)), now=T0)

    assert stored.state is JobState.SCHEDULED
    assert stored.run_at == at(60)
    assert stored.expire_at == at(3600)
    assert await backend.get(stored.id) == stored


async def test_job_with_run_at_now_or_past_is_queued_and_keeps_its_run_at(
    backend: Backend,
) -> None:
    now_job = await enqueue(backend, new_job(run_at=T0), now=T0)
    past_job = await enqueue(backend, new_job(run_at=at(-60)), now=T0)

    assert (now_job.state, now_job.run_at) == (JobState.QUEUED, T0)
    assert (past_job.state, past_job.run_at) == (JobState.QUEUED, at(-60))


async def test_enqueue_appends_one_event(backend: Backend) -> None:
    queued = await enqueue(backend, now=T0)
    scheduled = await enqueue(backend, new_job(run_at=at(5)), now=T0)

    [queued_event] = await events_of(backend, queued.id)
    [scheduled_event] = await events_of(backend, scheduled.id)
    assert (queued_event.state, queued_event.reason, queued_event.at) == (
        JobState.QUEUED,
        "enqueued",
        T0,
    )
    assert queued_event.kind == "state"
    assert (scheduled_event.state, scheduled_event.reason) == (JobState.SCHEDULED, "enqueued")


async def test_batch_is_inserted_in_order(backend: Backend) -> None:
    jobs = [new_job(payload_json=f'{{"n": {n}}}') for n in range(5)]

    enqueued = await backend.enqueue_many(jobs, now=T0)

    assert [item.job.id for item in enqueued] == [job.id for job in jobs]
    assert [item.job.payload for item in enqueued] == [{"n": n} for n in range(5)]
    assert all(item.existing is False for item in enqueued)
    page = await backend.list_jobs(JobQuery(limit=10))
    assert [job.id for job in page.items] == [job.id for job in reversed(jobs)]


async def test_empty_batch_inserts_nothing(backend: Backend) -> None:
    assert await backend.enqueue_many([], now=T0) == []


async def test_same_idempotency_key_returns_the_existing_job(backend: Backend) -> None:
    first = await enqueue(backend, new_job(idempotency_key="order-1"), now=T0)

    [again] = await backend.enqueue_many(
        [new_job(idempotency_key="order-1", payload_json='{"n": 2}')], now=at(10)
    )

    assert again.existing is True
    assert again.job == first
    page = await backend.list_jobs(JobQuery(limit=10))
    assert [job.id for job in page.items] == [first.id]
    assert len(await events_of(backend, first.id)) == 1


async def test_idempotency_key_is_scoped_by_tenant(backend: Backend) -> None:
    results = await backend.enqueue_many(
        [
            new_job(idempotency_key="k", tenant="acme"),
            new_job(idempotency_key="k", tenant="globex"),
            new_job(idempotency_key="k"),
            new_job(idempotency_key="k", tenant="acme"),
            new_job(idempotency_key="k"),
        ],
        now=T0,
    )

    assert [item.existing for item in results] == [False, False, False, True, True]
    assert results[3].job.id == results[0].job.id
    assert results[4].job.id == results[2].job.id
    assert len({item.job.id for item in results}) == 3
    assert [item.job.tenant for item in results] == ["acme", "globex", None, "acme", None]


async def test_duplicates_within_a_batch_resolve_to_the_first(backend: Backend) -> None:
    first = new_job(idempotency_key="dup", payload_json='{"n": 1}')
    second = new_job(idempotency_key="dup", payload_json='{"n": 2}')
    other = new_job(payload_json='{"n": 3}')

    results = await backend.enqueue_many([first, other, second], now=T0)

    assert [item.existing for item in results] == [False, False, True]
    assert results[2].job.id == first.id
    assert results[2].job.payload == {"n": 1}
    assert await backend.get(second.id) is None


async def test_idempotency_key_still_holds_after_the_job_finished(backend: Backend) -> None:
    first = await enqueue(backend, new_job(idempotency_key="once"), now=T0)
    await backend.cancel(first.id, now=T0)

    [again] = await backend.enqueue_many([new_job(idempotency_key="once")], now=at(1))

    assert again.existing is True
    assert again.job.id == first.id
    assert again.job.state is JobState.CANCELLED


async def test_concurrent_idempotent_enqueue_from_two_instances_makes_one_job(
    backend_factory: BackendFactory,
) -> None:
    instances = [await backend_factory() for _ in range(4)]
    barrier = asyncio.Barrier(len(instances))

    async def submit(instance: Backend) -> tuple[str, bool]:
        await barrier.wait()
        [item] = await instance.enqueue_many([new_job(idempotency_key="race")], now=T0)
        return item.job.id, item.existing

    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(*(submit(instance) for instance in instances))

    assert len({job_id for job_id, _ in outcomes}) == 1
    assert sorted(existing for _, existing in outcomes) == [False, True, True, True]
    page = await instances[0].list_jobs(JobQuery(idempotency_key="race"))
    assert len(page.items) == 1


async def test_enqueue_is_visible_to_another_instance(
    backend: Backend, other_backend: Backend
) -> None:
    stored = await enqueue(backend, now=T0)

    assert await other_backend.get(stored.id) == stored


async def test_get_unknown_job_is_none(backend: Backend) -> None:
    assert await backend.get("no-such-job") is None
