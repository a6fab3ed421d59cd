"""Helpers of the conformance suite: build jobs and drive them into any state, through
the ``Backend`` protocol only (never a store's internals), at controlled times."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import uuid_utils

from conveyor.backends.base import (
    Backend,
    ClaimedJob,
    ClaimParams,
    ErrorInfo,
    JobQuery,
    NewJob,
    Outcome,
)
from conveyor.models import Event, Job, JobId
from conveyor.states import JobState

#: Opens one more independent backend instance on the test's store (fixture
#: ``backend_factory``).
BackendFactory = Callable[[], Awaitable[Backend]]

#: The suite's "now". Every call that depends on time passes ``now=`` explicitly.
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
LEASE_SECONDS = 30.0

#: States a job can be driven into through the protocol. ``blocked`` needs
#: continuations, which the protocol cannot create yet.
REACHABLE_STATES = [state for state in JobState if state is not JobState.BLOCKED]


def at(seconds: float) -> dt.datetime:
    """``T0`` plus ``seconds``."""
    return T0 + dt.timedelta(seconds=seconds)


def new_job(
    *,
    type: str = "test.job",
    payload_json: str = '{"n": 1}',
    queue: str = "default",
    priority: int = 0,
    max_attempts: int = 3,
    tenant: str | None = None,
    idempotency_key: str | None = None,
    run_at: dt.datetime | None = None,
    expire_at: dt.datetime | None = None,
    meta_json: str | None = None,
) -> NewJob:
    """A ``NewJob`` with a fresh UUIDv7 id (time-ordered: later calls sort after)."""
    return NewJob(
        id=str(uuid_utils.uuid7()),
        type=type,
        payload_json=payload_json,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        tenant=tenant,
        idempotency_key=idempotency_key,
        run_at=run_at,
        expire_at=expire_at,
        meta_json=meta_json,
    )


async def enqueue(backend: Backend, job: NewJob | None = None, *, now: dt.datetime = T0) -> Job:
    """Insert one job and return it as stored."""
    [enqueued] = await backend.enqueue_many([job or new_job()], now=now)
    return enqueued.job


async def claim(
    backend: Backend,
    *,
    queues: Sequence[str] = ("default",),
    limit: int = 10,
    worker_id: str = "worker-1",
    now: dt.datetime = T0,
    lease_seconds: float = LEASE_SECONDS,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` jobs at ``now``."""
    params = ClaimParams(
        queues=queues, limit=limit, worker_id=worker_id, lease_seconds=lease_seconds, now=now
    )
    return await backend.claim_batch(params)


async def start(
    backend: Backend, job: NewJob | None = None, *, now: dt.datetime = T0
) -> ClaimedJob:
    """Enqueue one job on its own queue and claim it: a running job with its lease."""
    job = job or new_job(queue=f"q-{uuid_utils.uuid7().hex[-12:]}")
    await enqueue(backend, job, now=now)
    [claimed] = await claim(backend, queues=[job.queue], limit=1, now=now)
    assert claimed.id == job.id
    return claimed


def outcome(
    claimed: ClaimedJob,
    state: JobState,
    *,
    reason: str | None = None,
    result_json: str | None = None,
    error: ErrorInfo | None = None,
    retry_in: float = 0.0,
    lease_token: str | None = None,
) -> Outcome:
    """The outcome of ``claimed``'s attempt, under its own lease unless told otherwise."""
    default_reasons = {
        JobState.SUCCEEDED: "succeeded",
        JobState.RETRYING: "error",
        JobState.DEAD: "fail",
        JobState.CANCELLED: "cancelled",
        JobState.QUEUED: "released",
    }
    return Outcome(
        job_id=claimed.id,
        lease_token=claimed.lease_token if lease_token is None else lease_token,
        state=state,
        reason=reason or default_reasons[state],
        result_json=result_json,
        error=error,
        retry_in=retry_in,
    )


async def job_in_state(
    backend: Backend,
    state: JobState,
    *,
    now: dt.datetime = T0,
    queue: str | None = None,
    tenant: str | None = None,
) -> Job:
    """A job brought into ``state`` (one of ``REACHABLE_STATES``) by protocol calls at
    ``now``. Waiting states wait for an hour; the job is alone on its queue unless
    ``queue`` names one that must hold no other job of that state's path."""
    hour = dt.timedelta(hours=1)
    run_at = now + hour if state is JobState.SCHEDULED else None
    queue = queue or f"q-{uuid_utils.uuid7().hex[-12:]}"
    job = new_job(queue=queue, run_at=run_at, tenant=tenant)
    if state is JobState.SCHEDULED:
        await enqueue(backend, job, now=now)
    elif state in (JobState.QUEUED, JobState.CANCELLED):
        await enqueue(backend, job, now=now)
        if state is JobState.CANCELLED:
            await backend.cancel(job.id, now=now)
    else:
        claimed = await start(backend, job, now=now)
        finished = {
            JobState.RETRYING: outcome(claimed, JobState.RETRYING, retry_in=hour.total_seconds()),
            JobState.SUCCEEDED: outcome(claimed, JobState.SUCCEEDED, result_json='{"ok": true}'),
            JobState.DEAD: outcome(claimed, JobState.DEAD, error=ErrorInfo(type="E", message="m")),
        }
        if state in finished:
            assert await backend.finish_many([finished[state]], now=now) == [claimed.id]
    stored = await require(backend, job.id)
    assert stored.state is state, stored
    return stored


async def jobs_on_queue(backend: Backend, queue: str) -> list[Job]:
    """Every job of ``queue``, newest first."""
    page = await backend.list_jobs(JobQuery(queue=queue, limit=100))
    return page.items


async def require(backend: Backend, job_id: JobId) -> Job:
    """The stored job, which must exist."""
    job = await backend.get(job_id)
    assert job is not None, f"job {job_id} is missing"
    return job


async def events_of(backend: Backend, job_id: JobId) -> list[Event]:
    """Every event of one job, oldest first."""
    return await backend.read_events(job_id=job_id, limit=1000)


async def last_event(backend: Backend, job_id: JobId) -> Event:
    """The newest event of one job."""
    events = await events_of(backend, job_id)
    assert events, f"job {job_id} has no events"
    return events[-1]


@contextlib.asynccontextmanager
async def closing(iterator: AsyncIterator[None]) -> AsyncIterator[AsyncIterator[None]]:
    """Use ``iterator`` (a ``wakeups()`` result) and close it afterwards, as the worker
    does: the protocol promises only an ``AsyncIterator``, so ``aclose`` is optional."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
