"""Leases: heartbeats renew only what a worker owns, expired leases are reaped, and the
lease token fences every later step of a worker that lost its job."""

from __future__ import annotations

from conveyor.backends.base import Backend, Lease, LeaseParams
from conveyor.states import JobState
from tests.backends.conformance import (
    LEASE_SECONDS,
    T0,
    at,
    claim,
    enqueue,
    last_event,
    new_job,
    outcome,
    require,
    start,
)


def _lease_params(*leases: Lease, now_seconds: float, lease_seconds: float = 60) -> LeaseParams:
    return LeaseParams(leases=leases, lease_seconds=lease_seconds, now=at(now_seconds))


async def test_extend_leases_renews_owned_leases(backend: Backend) -> None:
    first = await start(backend, now=T0)
    second = await start(backend, now=T0)

    renewed = await backend.extend_leases(
        _lease_params(
            Lease(first.id, first.lease_token), Lease(second.id, second.lease_token), now_seconds=20
        )
    )

    assert sorted(renewed) == sorted([first.id, second.id])
    for job_id in (first.id, second.id):
        job = await require(backend, job_id)
        assert job.lease_expires_at == at(80)
        assert job.state is JobState.RUNNING


async def test_extend_leases_skips_leases_not_owned(backend: Backend) -> None:
    owned = await start(backend, now=T0)
    finished = await start(backend, now=T0)
    await backend.finish_many([outcome(finished, JobState.SUCCEEDED)], now=T0)
    queued = await enqueue(backend, new_job(queue="untouched"), now=T0)

    renewed = await backend.extend_leases(
        _lease_params(
            Lease(owned.id, "someone-else"),
            Lease(finished.id, finished.lease_token),
            Lease(queued.id, owned.lease_token),
            Lease("no-such-job", owned.lease_token),
            now_seconds=10,
        )
    )

    assert renewed == []
    assert (await require(backend, owned.id)).lease_expires_at == at(LEASE_SECONDS)
    assert (await require(backend, finished.id)).lease_expires_at is None
    assert (await require(backend, queued.id)).state is JobState.QUEUED


async def test_extend_leases_with_nothing_is_a_no_op(backend: Backend) -> None:
    assert await backend.extend_leases(_lease_params(now_seconds=0)) == []


async def test_reap_requeues_an_expired_lease_with_attempts_left(backend: Backend) -> None:
    claimed = await start(backend, now=T0)
    still_alive = await start(backend, now=at(20))

    reaped = await backend.reap_expired_leases(limit=100, now=at(LEASE_SECONDS + 1))

    assert reaped == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason) == (JobState.QUEUED, "lease_expired")
    assert job.run_at == at(LEASE_SECONDS + 1)
    assert job.lease_expires_at is None
    assert job.finished_at is None
    assert job.attempts == 1
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason, event.at) == (
        JobState.QUEUED,
        "lease_expired",
        at(LEASE_SECONDS + 1),
    )
    [attempt] = await backend.list_attempts(claimed.id)
    assert (attempt.outcome, attempt.finished_at) == ("lease_expired", at(LEASE_SECONDS + 1))
    assert (await require(backend, still_alive.id)).state is JobState.RUNNING


async def test_reap_buries_an_expired_lease_without_attempts_left(backend: Backend) -> None:
    claimed = await start(backend, new_job(queue="last", max_attempts=1), now=T0)

    reaped = await backend.reap_expired_leases(limit=100, now=at(LEASE_SECONDS + 1))

    assert reaped == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason) == (JobState.DEAD, "lease_expired")
    assert job.finished_at == at(LEASE_SECONDS + 1)
    assert job.error is not None
    assert "lease expired" in job.error
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason) == (JobState.DEAD, "lease_expired")
    [attempt] = await backend.list_attempts(claimed.id)
    assert attempt.outcome == "lease_expired"


async def test_reap_cancels_an_expired_lease_whose_cancel_was_requested(
    backend: Backend,
) -> None:
    claimed = await start(backend, now=T0)
    requested = await backend.cancel(claimed.id, now=at(1))
    assert requested is not None
    assert requested.cancel_requested

    reaped = await backend.reap_expired_leases(limit=100, now=at(LEASE_SECONDS + 1))

    assert reaped == [claimed.id]
    job = await require(backend, claimed.id)
    assert (job.state, job.reason) == (JobState.CANCELLED, "cancelled")
    assert job.finished_at == at(LEASE_SECONDS + 1)
    event = await last_event(backend, claimed.id)
    assert (event.state, event.reason) == (JobState.CANCELLED, "cancelled")


async def test_reap_leaves_leases_that_have_not_expired(backend: Backend) -> None:
    claimed = await start(backend, now=T0)

    assert await backend.reap_expired_leases(limit=100, now=at(LEASE_SECONDS)) == []
    assert (await require(backend, claimed.id)).state is JobState.RUNNING


async def test_reap_respects_the_limit(backend: Backend) -> None:
    for _ in range(3):
        await start(backend, now=T0)

    assert len(await backend.reap_expired_leases(limit=2, now=at(100))) == 2
    assert len(await backend.reap_expired_leases(limit=2, now=at(100))) == 1
    assert await backend.reap_expired_leases(limit=2, now=at(100)) == []


async def test_a_renewed_lease_is_not_reaped(backend: Backend) -> None:
    claimed = await start(backend, now=T0)
    await backend.extend_leases(
        _lease_params(Lease(claimed.id, claimed.lease_token), now_seconds=25)
    )

    assert await backend.reap_expired_leases(limit=100, now=at(LEASE_SECONDS + 1)) == []


async def test_reaped_then_reclaimed_job_rejects_the_old_owner(backend: Backend) -> None:
    old = await start(backend, new_job(queue="contended"), now=T0)
    await backend.reap_expired_leases(limit=100, now=at(LEASE_SECONDS + 1))
    [new] = await claim(backend, queues=["contended"], worker_id="worker-2", now=at(31))
    assert (new.id, new.attempt) == (old.id, 2)

    # The slow first owner comes back: its heartbeat and its outcome are fenced off.
    renewed = await backend.extend_leases(
        _lease_params(Lease(old.id, old.lease_token), now_seconds=32)
    )
    applied = await backend.finish_many([outcome(old, JobState.SUCCEEDED)], now=at(32))

    assert renewed == []
    assert applied == []
    job = await require(backend, old.id)
    assert (job.state, job.worker_id, job.attempts) == (JobState.RUNNING, "worker-2", 2)
    assert await backend.finish_many([outcome(new, JobState.SUCCEEDED)], now=at(33)) == [new.id]
    attempts = await backend.list_attempts(old.id)
    assert [(a.number, a.outcome, a.worker_id) for a in attempts] == [
        (1, "lease_expired", "worker-1"),
        (2, "succeeded", "worker-2"),
    ]


async def test_list_cancel_requests_returns_only_flagged_running_jobs(backend: Backend) -> None:
    flagged = await start(backend, now=T0)
    unflagged = await start(backend, now=T0)
    waiting = await enqueue(backend, new_job(queue="waiting"), now=T0)
    await backend.cancel(flagged.id, now=at(1))
    await backend.cancel(waiting.id, now=at(1))

    requested = await backend.list_cancel_requests(
        [flagged.id, unflagged.id, waiting.id, "no-such-job"]
    )

    assert requested == [flagged.id]
    assert await backend.list_cancel_requests([]) == []
