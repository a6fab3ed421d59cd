"""The Backend protocol: the one writer of job state (DESIGN.md section 4).

Each method is one atomic step, conditioned on the expected state (and, for running
jobs, the lease token). A caller that lost a race gets an empty result, not an
exception. Time is a bound parameter: every method that needs "now" takes
``now: datetime | None``; ``None`` means "use the store's own clock", which is what
production passes so that every machine shares one clock for leases.

This is an internal seam: typed and documented for contributors, with no promise to
third-party backends yet. No driver exception crosses it; stores raise
``conveyor.errors.StoreError`` subclasses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from conveyor.models import ApiKey, Attempt, Event, Job, JobId, Page, Stats
from conveyor.states import JobState


@dataclass(frozen=True, slots=True, kw_only=True)
class NewJob:
    """A job to insert. ``run_at=None`` means "now" (state ``queued``); a later
    ``run_at`` makes it ``scheduled``. ``payload_json`` is already validated JSON text;
    ``meta_json`` (JSON object text or ``None`` for ``{}``) is stored verbatim."""

    id: JobId
    type: str
    payload_json: str
    queue: str
    priority: int
    max_attempts: int
    tenant: str | None = None
    idempotency_key: str | None = None
    run_at: dt.datetime | None = None
    expire_at: dt.datetime | None = None
    meta_json: str | None = None


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The result of inserting one ``NewJob``: the stored job, and whether it already
    existed (same tenant and idempotency key), in which case nothing was inserted."""

    job: Job
    existing: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimParams:
    """Claim up to ``limit`` runnable jobs of ``queues`` for ``worker_id``.

    In the same atomic step the store first moves due ``scheduled``/``retrying`` jobs
    of these queues to ``queued`` and cancels waiting jobs whose ``expire_at`` passed
    (reason ``expired``). Jobs are taken by priority (higher first), then ``run_at``,
    then id. A job whose ``expire_at`` passed is never claimed. With ``now=None`` (the
    store's clock) a store may run that first step only every so often (PostgreSQL:
    every 0.1 s per set of queues), so a due job may wait that long to be promoted.
    """

    queues: Sequence[str]
    limit: int
    worker_id: str
    lease_seconds: float
    now: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedJob:
    """A job handed to a worker: only what execution needs. ``attempt`` is the number
    of this attempt (1 for the first run); ``lease_token`` fences every later step."""

    id: JobId
    type: str
    payload_json: str
    attempt: int
    max_attempts: int
    lease_token: str
    queue: str
    priority: int
    tenant: str | None
    idempotency_key: str | None
    meta_json: str | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """A running job as its owner knows it."""

    job_id: JobId
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseParams:
    """Extend the leases in ``leases`` to ``now + lease_seconds``."""

    leases: Sequence[Lease]
    lease_seconds: float
    now: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """What went wrong in an attempt."""

    type: str
    message: str
    traceback: str | None = None

    def summary(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The end of one attempt, decided by the executor.

    ``state`` is the next state: ``succeeded`` (with ``result_json``), ``retrying``
    (run again ``retry_in`` seconds after the store's now), ``dead``, ``cancelled``, or
    ``queued`` (the lease is given back: shutdown). ``reason`` becomes the attempt's
    outcome and the job's ``reason``. Applied only if the job is still ``running``
    under ``lease_token``.
    """

    job_id: JobId
    lease_token: str
    state: JobState
    reason: str
    result_json: str | None = None
    error: ErrorInfo | None = None
    retry_in: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobQuery:
    """Filters for ``list_jobs``; ``None`` means "any". Newest jobs first."""

    state: JobState | None = None
    type: str | None = None
    queue: str | None = None
    tenant: str | None = None
    idempotency_key: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewApiKey:
    """An API key to store: ``key_hash`` is the hex SHA-256 of the secret, which the
    store never sees."""

    id: str
    key_hash: str
    tenant: str | None
    admin: bool = False
    name: str | None = None


class Backend(Protocol):
    """Durable state and every transition of it (see the module docstring)."""

    url: str

    async def open(self) -> None:
        """Connect, and on embedded stores apply pending migrations.

        Raises ``StoreUnavailableError`` if the store cannot be opened and
        ``SchemaOutOfDateError`` if its schema is older than the code (server stores).
        """
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...

    async def migrate(self) -> list[str]:
        """Apply pending migrations under a blocking lock; return the names applied
        (``[]`` when current). Works before ``open()`` (the ``conveyor migrate`` path),
        which on server stores refuses a schema older than the code."""
        ...

    async def enqueue_many(
        self, jobs: Sequence[NewJob], *, now: dt.datetime | None = None
    ) -> list[Enqueued]:
        """Insert jobs in one step, in order. A job whose (tenant, idempotency_key)
        already exists is not inserted; its ``Enqueued`` carries the existing job."""
        ...

    async def claim_batch(self, params: ClaimParams) -> list[ClaimedJob]:
        """Move up to ``params.limit`` jobs ``queued -> running`` with a fresh lease."""
        ...

    async def extend_leases(self, params: LeaseParams) -> list[JobId]:
        """Renew leases still owned (running, same token); return their job ids."""
        ...

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Apply outcomes of jobs still running under their lease token; return the ids
        applied. An outcome whose lease was lost is ignored (not an error)."""
        ...

    async def list_cancel_requests(self, job_ids: Sequence[JobId]) -> list[JobId]:
        """Of these running jobs, those whose cancellation was requested."""
        ...

    async def cancel(
        self, job_id: JobId, *, reason: str = "cancelled", now: dt.datetime | None = None
    ) -> Job | None:
        """Cancel a job: waiting -> ``cancelled``; running -> ``cancel_requested`` set
        (the worker finishes the transition). Returns the job after the step, unchanged
        if it was terminal, or ``None`` if no such job exists."""
        ...

    async def requeue_dead(self, job_id: JobId, *, now: dt.datetime | None = None) -> Job | None:
        """``dead -> queued`` with one more attempt allowed. Returns the job after the
        step (unchanged if it was not dead), or ``None`` if no such job exists."""
        ...

    async def promote_due(self, *, limit: int, now: dt.datetime | None = None) -> int:
        """Move due ``scheduled``/``retrying`` jobs to ``queued``; return how many."""
        ...

    async def reap_expired_leases(
        self, *, limit: int, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Running jobs whose lease expired: back to ``queued`` (reason
        ``lease_expired``), ``dead`` if their attempts are used up, or ``cancelled``
        (reason ``cancelled``) if their cancellation had been requested."""
        ...

    async def prune_finished(self, *, older_than: dt.datetime, limit: int) -> int:
        """Delete terminal jobs finished before ``older_than`` with their attempts and
        events; return how many jobs were deleted."""
        ...

    async def delete_job(self, job_id: JobId) -> Job | None:
        """Delete one terminal job; returns it, unchanged if it was not terminal (then
        nothing is deleted), or ``None`` if no such job exists."""
        ...

    async def get(self, job_id: JobId) -> Job | None:
        """One job, or ``None``."""
        ...

    async def list_jobs(self, query: JobQuery) -> Page[Job]:
        """Jobs matching ``query``, newest first, one page at a time."""
        ...

    async def list_attempts(self, job_id: JobId) -> list[Attempt]:
        """The attempt history of a job, oldest first."""
        ...

    async def read_events(
        self, *, after: int = 0, job_id: JobId | None = None, limit: int = 100
    ) -> list[Event]:
        """Lifecycle events with ``id > after`` (optionally of one job), oldest first."""
        ...

    async def stats(self) -> Stats:
        """Job counts per state, in total and per queue."""
        ...

    async def count_waiting(
        self, *, queue: str | None = None, tenant: str | None = None, cap: int
    ) -> int:
        """How many jobs wait (``queued``, ``scheduled``, ``retrying``) in ``queue`` and
        of ``tenant`` (``None``: any), counting no further than ``cap``: returns
        ``min(n, cap)``, so the cost follows ``cap``, not the backlog."""
        ...

    async def ping(self) -> None:
        """One cheap round trip. Raises ``StoreUnavailableError`` if the store cannot be
        reached and ``SchemaOutOfDateError`` if its schema is older than the code."""
        ...

    async def create_api_key(self, key: NewApiKey, *, now: dt.datetime | None = None) -> ApiKey:
        """Store a new API key (created now) and return it."""
        ...

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The active key with this hash; ``None`` if unknown or revoked."""
        ...

    async def list_api_keys(self, *, tenant: str | None = None) -> list[ApiKey]:
        """Every key (revoked ones included), of one tenant if given, oldest first."""
        ...

    async def revoke_api_key(self, key_id: str, *, now: dt.datetime | None = None) -> ApiKey | None:
        """Revoke a key (idempotent: a revoked key keeps its first ``revoked_at``);
        return it after the step, or ``None`` if no such key exists."""
        ...

    def wakeups(self, queues: Sequence[str]) -> AsyncGenerator[None, None]:
        """Yield whenever new work may be runnable in ``queues`` (notification, change
        counter or a slow poll as the safety net). Spurious wake-ups are allowed. The
        caller ``aclose()``s the generator when done, releasing what it holds."""
        ...
