"""Races between independent backend instances (as separate worker processes would
be): racers start together behind an ``asyncio.Barrier`` and every wait is bounded."""

from __future__ import annotations

import asyncio

from conveyor.backends.base import Backend, ClaimedJob, JobQuery
from conveyor.states import JobState
from tests.backends.conformance import (
    LEASE_SECONDS,
    T0,
    BackendFactory,
    at,
    claim,
    new_job,
    outcome,
)

CLAIMERS = 4


async def test_concurrent_claims_are_disjoint_and_add_up(backend_factory: BackendFactory) -> None:
    instances = [await backend_factory() for _ in range(CLAIMERS)]
    jobs = [new_job(queue="race") for _ in range(50)]
    await instances[0].enqueue_many(jobs, now=T0)
    barrier = asyncio.Barrier(CLAIMERS)

    async def claimer(instance: Backend, worker: int) -> list[ClaimedJob]:
        mine: list[ClaimedJob] = []
        await barrier.wait()
        while batch := await claim(
            instance, queues=["race"], limit=7, worker_id=f"worker-{worker}", now=T0
        ):
            mine.extend(batch)
        return mine

    async with asyncio.timeout(30):
        claims = await asyncio.gather(
            *(claimer(instance, n) for n, instance in enumerate(instances))
        )

    claimed_ids = [job.id for batch in claims for job in batch]
    assert len(claimed_ids) == len(set(claimed_ids)) == len(jobs)
    assert set(claimed_ids) == {job.id for job in jobs}
    assert all(job.attempt == 1 for batch in claims for job in batch)
    stats = await instances[0].stats()
    assert stats.states["running"] == len(jobs)
    assert stats.states["queued"] == 0


async def test_owner_finish_and_reaper_race_exactly_one_wins(
    backend_factory: BackendFactory,
) -> None:
    owner, reaper = await backend_factory(), await backend_factory()
    await owner.enqueue_many([new_job(queue="race") for _ in range(20)], now=T0)
    claimed = await claim(owner, queues=["race"], limit=20, now=T0)
    barrier = asyncio.Barrier(2)
    late = at(LEASE_SECONDS + 1)

    async def finish() -> list[str]:
        await barrier.wait()
        done = [outcome(job, JobState.SUCCEEDED) for job in claimed]
        return await owner.finish_many(done, now=late)

    async def reap() -> list[str]:
        await barrier.wait()
        return await reaper.reap_expired_leases(limit=100, now=late)

    async with asyncio.timeout(30):
        finished, reaped = await asyncio.gather(finish(), reap())

    assert set(finished).isdisjoint(reaped)
    assert set(finished) | set(reaped) == {job.id for job in claimed}
    page = await owner.list_jobs(JobQuery(queue="race", limit=100))
    states = {job.id: job.state for job in page.items}
    assert all(states[job_id] is JobState.SUCCEEDED for job_id in finished)
    assert all(states[job_id] is JobState.QUEUED for job_id in reaped)
