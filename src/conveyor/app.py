"""``Conveyor``: the application object users create and import.

It owns the job-type registry, the settings, the clock and (lazily opened) the backend,
and offers the Python API: enqueue, get, list, cancel, retry, attempts, stats and an
in-process ``drain``. Surfaces (CLI, HTTP) call this object; only the backend writes
job state.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import datetime as dt
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from conveyor.backends import check_url, open_backend
from conveyor.backends.base import Backend, JobQuery, NewJob
from conveyor.clock import Clock, SystemClock, ensure_aware
from conveyor.errors import (
    ConfigurationError,
    DuplicateJobTypeError,
    InvalidTransitionError,
    JobNotFoundError,
    UnknownJobTypeError,
)
from conveyor.jobs import JobOptions, JobType, OnDead
from conveyor.models import Attempt, Event, Job, JobId, Page, Stats
from conveyor.retry import RetryPolicy
from conveyor.scheduler import Duty, standard_duties
from conveyor.settings import Settings
from conveyor.states import JobState
from conveyor.sync import Portal
from conveyor.worker.worker import Worker, WorkerConfig, WorkerHooks


class Conveyor:
    """A conveyor application: job types plus the store they run on.

    ``Conveyor()`` reads ``CONVEYOR_URL`` (default ``sqlite:///conveyor.db``). Creating
    the object does no I/O; the store is opened on first use (or ``await app.open()``,
    or ``async with app:``). Pass ``clock=FakeClock(...)`` in tests to control "now";
    without it the store's own clock is used for leases and schedules.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        lease_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        result_ttl: dt.timedelta | float | None = None,
        concurrency: int | None = None,
        shutdown_timeout: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = Settings.load(
            url=url,
            lease_seconds=lease_seconds,
            heartbeat_seconds=heartbeat_seconds,
            result_ttl=result_ttl,
            concurrency=concurrency,
            shutdown_timeout=shutdown_timeout,
        )
        check_url(self.settings.url)  # fail at construction, not at the first enqueue
        self.clock: Clock = clock or SystemClock()
        self._fake_time = clock is not None
        self.registry: dict[str, JobType[Any, Any]] = {}
        self.portal = Portal()
        self._backend: Backend | None = None
        self._opened = False
        self._open_guard = threading.Lock()
        self._open_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"<Conveyor {self.settings.url!r} jobs={sorted(self.registry)}>"

    def configure(
        self,
        *,
        url: str | None = None,
        lease_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        """Override settings of an app built elsewhere (the CLI's ``--url``,
        ``--lease-seconds``, ``--shutdown-timeout``). ``None`` keeps the current value.

        A new lease without a heartbeat keeps the heartbeat at most a third of the
        lease, as ``Settings.load`` does. Raises ``ConfigurationError`` for invalid
        values (``UnknownSchemeError`` for a URL no backend serves), and
        ``RuntimeError`` once the store is open (its URL and leases are in use).
        """
        if self._opened:
            raise RuntimeError("configure() must be called before the store is opened")
        changes: dict[str, Any] = {}
        if url is not None:
            check_url(url)
            changes["url"] = url
            self._backend = None  # built for the old URL, never opened: nothing to close
        if lease_seconds is not None:
            changes["lease_seconds"] = lease_seconds
            changes["heartbeat_seconds"] = min(self.settings.heartbeat_seconds, lease_seconds / 3)
        if heartbeat_seconds is not None:
            changes["heartbeat_seconds"] = heartbeat_seconds
        if shutdown_timeout is not None:
            changes["shutdown_timeout"] = shutdown_timeout
        self.settings = dataclasses.replace(self.settings, **changes)

    # -- defining job types -----------------------------------------------------------

    def job(
        self,
        name: str,
        *,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 3,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_dead: OnDead | None = None,
    ) -> Callable[[Callable[..., Any]], JobType[Any, Any]]:
        """Register a handler as job type ``name``.

        The handler takes ``(payload)`` or ``(payload, ctx)``; the payload's annotation
        (usually a pydantic model) validates payloads at enqueue time and the return
        annotation serialises the result. ``async def`` handlers run on the worker's
        event loop; plain ``def`` handlers run in its thread pool. ``timeout`` is seconds
        per attempt; ``retry`` sets the backoff (exponential, full jitter);
        ``on_dead(ctx, error)`` runs when an attempt ends the job in ``dead``.
        """
        options = JobOptions(
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            on_dead=on_dead,
        )

        def register(handler: Callable[..., Any]) -> JobType[Any, Any]:
            if name in self.registry:
                raise DuplicateJobTypeError(f"job type {name!r} is already registered")
            job_type: JobType[Any, Any] = JobType(self, name, handler, options)
            self.registry[name] = job_type
            return job_type

        return register

    def job_type(self, name: str) -> JobType[Any, Any]:
        """The registered job type ``name`` (raises ``UnknownJobTypeError``)."""
        try:
            return self.registry[name]
        except KeyError:
            raise UnknownJobTypeError(name, list(self.registry)) from None

    # -- lifecycle --------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The store (built on first access; opened by ``open()``)."""
        if self._backend is None:
            self._backend = open_backend(self.settings.url)
        return self._backend

    async def open(self) -> None:
        """Open the store (migrating an embedded one). Idempotent and concurrency-safe."""
        if self._opened:
            return
        with self._open_guard:
            lock = self._open_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            if not self._opened:
                await self.backend.open()
                self._opened = True

    async def close(self) -> None:
        """Close the store. The app can be opened again afterwards."""
        if self._backend is not None:
            await self._backend.close()
        self._opened = False
        self._backend = None

    async def __aenter__(self) -> Conveyor:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _store(self) -> Backend:
        if not self._opened:
            await self.open()
        return self.backend

    def store_now(self) -> dt.datetime | None:
        """What to bind as the store's "now": ``None`` (the store's clock) unless a test
        clock was given."""
        return self.clock.now() if self._fake_time else None

    def resolve_run_at(
        self, delay: float | dt.timedelta | None, run_at: dt.datetime | None
    ) -> dt.datetime | None:
        """Turn ``delay``/``run_at`` into an aware ``run_at`` (``None``: run now)."""
        if delay is not None and run_at is not None:
            raise ValueError("pass either delay or run_at, not both")
        if run_at is not None:
            return ensure_aware(run_at, name="run_at")
        if delay is None:
            return None
        seconds = delay.total_seconds() if isinstance(delay, dt.timedelta) else float(delay)
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {seconds}")
        if seconds == 0:
            return None
        return self.clock.now() + dt.timedelta(seconds=seconds)

    # -- submitting -------------------------------------------------------------------

    async def enqueue(
        self,
        name: str,
        payload: Any,
        *,
        delay: float | dt.timedelta | None = None,
        run_at: dt.datetime | None = None,
        expire_at: dt.datetime | None = None,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        max_attempts: int | None = None,
        queue: str | None = None,
        priority: int | None = None,
        connection: Any = None,
    ) -> Job:
        """Enqueue a job by type name (see ``JobType.enqueue``).

        Raises ``UnknownJobTypeError`` or ``PayloadValidationError``; nothing is stored.
        """
        return await self.job_type(name).enqueue(
            payload,
            delay=delay,
            run_at=run_at,
            expire_at=expire_at,
            idempotency_key=idempotency_key,
            tenant=tenant,
            max_attempts=max_attempts,
            queue=queue,
            priority=priority,
            connection=connection,
        )

    def enqueue_sync(self, name: str, payload: Any, **options: Any) -> Job:
        """``enqueue`` for synchronous code (``connection=``: a sync psycopg connection,
        see ``JobType.enqueue_sync``)."""
        return self.job_type(name).enqueue_sync(payload, **options)

    async def submit(self, jobs: Sequence[NewJob], *, connection: Any = None) -> list[Job]:
        """Store prepared jobs in one round trip; existing idempotent jobs are returned
        as they are.

        ``connection``: a caller's open ``psycopg.AsyncConnection`` (PostgreSQL stores
        only): the jobs are written inside its current transaction and exist if and
        only if the caller commits. Raises ``ConfigurationError`` on another store.
        """
        if not jobs:
            return []
        if connection is not None:
            enqueue_in = self._transactional("enqueue_many_in_transaction")
            enqueued = await enqueue_in(connection, jobs, now=self.store_now())
            return [e.job for e in enqueued]
        backend = await self._store()
        enqueued = await backend.enqueue_many(jobs, now=self.store_now())
        return [e.job for e in enqueued]

    def submit_sync(self, jobs: Sequence[NewJob], *, connection: Any) -> list[Job]:
        """``submit`` inside a caller's open sync ``psycopg.Connection`` transaction,
        on the calling thread (no event loop involved)."""
        if not jobs:
            return []
        enqueue_in = self._transactional("enqueue_many_in_transaction_sync")
        enqueued = enqueue_in(connection, jobs, now=self.store_now())
        return [e.job for e in enqueued]

    def _transactional(self, method: str) -> Any:
        # Only SQL server stores can join a caller's transaction; the seam is a method
        # of theirs, not of the Backend protocol (a caller's connection is theirs).
        found = getattr(self.backend, method, None)
        if found is None:
            raise ConfigurationError(
                "connection= (transactional enqueue) needs a PostgreSQL store "
                f"(postgresql://...); this app's store is {self.settings.url.split(':', 1)[0]}://"
            )
        return found

    # -- reading ----------------------------------------------------------------------

    async def get(self, job_id: JobId) -> Job:
        """The job ``job_id`` (raises ``JobNotFoundError``)."""
        job = await (await self._store()).get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def get_sync(self, job_id: JobId) -> Job:
        """``get`` for synchronous code."""
        return self.portal.call(self.get(job_id))

    async def list(
        self,
        *,
        state: JobState | str | None = None,
        type: str | None = None,
        queue: str | None = None,
        tenant: str | None = None,
        idempotency_key: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Job]:
        """Jobs matching every given filter, newest first. Pass ``page.next_cursor`` back
        as ``cursor`` for the next page (``None`` when there is none)."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be between 1 and 1000, got {limit}")
        query = JobQuery(
            state=None if state is None else JobState(state),
            type=type,
            queue=queue,
            tenant=tenant,
            idempotency_key=idempotency_key,
            limit=limit,
            cursor=cursor,
        )
        return await (await self._store()).list_jobs(query)

    async def attempts(self, job_id: JobId) -> builtins.list[Attempt]:
        """The attempt history of a job, oldest first (raises ``JobNotFoundError``)."""
        backend = await self._store()
        attempts = await backend.list_attempts(job_id)
        if not attempts and await backend.get(job_id) is None:
            raise JobNotFoundError(job_id)
        return attempts

    async def events(
        self, *, after: int = 0, job_id: JobId | None = None, limit: int = 100
    ) -> builtins.list[Event]:
        """Lifecycle events after event id ``after``, oldest first."""
        return await (await self._store()).read_events(after=after, job_id=job_id, limit=limit)

    async def stats(self) -> Stats:
        """Job counts per state and per queue."""
        return await (await self._store()).stats()

    # -- acting on jobs ---------------------------------------------------------------

    async def cancel(self, job_id: JobId) -> Job:
        """Cancel a job. A waiting job is ``cancelled`` at once; a running one is asked
        to stop (``ctx.cancelled``), and ends ``cancelled`` when its handler stops.
        Cancelling a cancelled job is a no-op. Raises ``JobNotFoundError``, or
        ``InvalidTransitionError`` for a succeeded or dead job."""
        job = await (await self._store()).cancel(job_id, reason="cancelled", now=self.store_now())
        if job is None:
            raise JobNotFoundError(job_id)
        if job.state in (JobState.SUCCEEDED, JobState.DEAD):
            raise InvalidTransitionError(
                f"job {job_id} is {job.state.value}; only waiting or running jobs can be cancelled"
            )
        return job

    async def retry(self, job_id: JobId) -> Job:
        """Send a dead job back to ``queued`` with one more attempt allowed. Raises
        ``JobNotFoundError``, or ``InvalidTransitionError`` if the job is not dead."""
        job = await (await self._store()).requeue_dead(job_id, now=self.store_now())
        if job is None:
            raise JobNotFoundError(job_id)
        if job.state is not JobState.QUEUED or job.reason != "manual_retry":
            raise InvalidTransitionError(
                f"job {job_id} is {job.state.value}; only dead jobs can be retried"
            )
        return job

    async def delete(self, job_id: JobId) -> Job:
        """Delete a finished job with its history. Raises ``JobNotFoundError``, or
        ``InvalidTransitionError`` if the job has not finished."""
        job = await (await self._store()).delete_job(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        if not job.state.is_terminal:
            raise InvalidTransitionError(
                f"job {job_id} is {job.state.value}; only finished jobs can be deleted"
            )
        return job

    # -- running ----------------------------------------------------------------------

    def duties(self) -> builtins.list[Duty]:
        """The housekeeping duties a worker runs (promote, reap, janitor)."""
        return standard_duties(
            self.backend,
            now=self.store_now,
            result_ttl=self.settings.result_ttl,
            lease_seconds=self.settings.lease_seconds,
            wall_now=self.clock.now,
        )

    def worker(
        self,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
        hooks: WorkerHooks | None = None,
        duties: bool = True,
        **config: Any,
    ) -> Worker:
        """A worker for this app (``await worker.run()``). ``queues`` defaults to every
        queue the registered job types use; other ``WorkerConfig`` fields given as
        keywords override the app's settings for this worker."""
        settings = {
            "lease_seconds": self.settings.lease_seconds,
            "heartbeat_seconds": self.settings.heartbeat_seconds,
            "shutdown_timeout": self.settings.shutdown_timeout,
        }
        worker_config = WorkerConfig(
            queues=tuple(queues or self.queues()),
            concurrency=concurrency or self.settings.concurrency,
            burst=burst,
            **(settings | config),
        )
        return Worker(
            self.backend,
            self.registry,
            worker_config,
            now=self.store_now,
            duties=self.duties() if duties else (),
            hooks=hooks,
        )

    def queues(self) -> builtins.list[str]:
        """Every queue used by a registered job type (``["default"]`` if none)."""
        return sorted({t.options.queue for t in self.registry.values()}) or ["default"]

    async def drain(
        self,
        *,
        timeout: float = 30.0,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
    ) -> int:
        """Run a worker in this process until no job is runnable and none is running;
        return how many attempts ran. Jobs scheduled for later are left waiting.
        Raises ``TimeoutError`` if work remains after ``timeout`` seconds."""
        await self.open()
        worker = self.worker(queues=queues, concurrency=concurrency, burst=True, duties=False)
        run = asyncio.ensure_future(worker.run())
        try:
            done, _ = await asyncio.wait({run}, timeout=timeout)
        except asyncio.CancelledError:
            # The caller gave up (e.g. wait_for): stop the worker as on timeout rather
            # than leave it running jobs in the background.
            worker.stop()
            worker.stop()
            await asyncio.wait({run})
            raise
        if run in done:
            return run.result()
        worker.stop()
        worker.stop()  # the second stop releases running jobs instead of waiting
        await run
        raise TimeoutError(f"drain() still had work after {timeout:g} s")
