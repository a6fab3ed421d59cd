"""``SQLiteBackend``: the embedded store, one file shared by any number of processes.

Concurrency model: each backend instance owns one thread (a single-worker executor)
and a ``SQLiteStore`` confined to it. Every method costs one hop to that thread and
runs one transaction there, so the instance can be used from any event loop (the app
also drives it from a separate portal loop for sync calls); nothing asyncio-specific is
created at construction. Processes coordinate through SQLite's file locks: every write
is a ``BEGIN IMMEDIATE`` transaction, waiting out other writers under a busy timeout.

Wake-ups (``wakeups.py``): writes made through this instance wake its idle iterators
at once; commits by other processes are seen within a few milliseconds through SQLite's
change counter; a slow safety-net tick covers delayed jobs becoming due.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from conveyor.backends.base import (
    ClaimedJob,
    ClaimParams,
    Enqueued,
    JobQuery,
    LeaseParams,
    NewJob,
    Outcome,
)
from conveyor.backends.sqlite import reads
from conveyor.backends.sqlite.connection import connect, migrate, path_from_url, translate_error
from conveyor.backends.sqlite.rows import to_us
from conveyor.backends.sqlite.store import SQLiteStore
from conveyor.backends.sqlite.wakeups import WakeupHub
from conveyor.clock import SystemClock
from conveyor.errors import StoreUnavailableError
from conveyor.models import Attempt, Event, Job, JobId, Page, Stats
from conveyor.states import JobState

T = TypeVar("T")


class SQLiteBackend:
    """The ``Backend`` protocol on a SQLite file (see the module docstring).

    ``url`` is ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``; a malformed
    URL raises ``ConfigurationError`` here, an unusable file ``StoreUnavailableError``
    from ``open()``. The store's clock is this machine's clock.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._path = path_from_url(url)
        self._clock = SystemClock()
        self._executor: ThreadPoolExecutor | None = None
        self._store: SQLiteStore | None = None
        self._hub: WakeupHub | None = None

    def __repr__(self) -> str:
        return f"SQLiteBackend({self.url!r})"

    # --- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (created if missing) and apply pending migrations.

        Idempotent. Raises ``StoreUnavailableError`` naming the path and the fix when
        the file or its directory is missing, read-only, or not a database.
        """
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conveyor-sqlite")
        loop = asyncio.get_running_loop()
        try:
            store = await loop.run_in_executor(executor, self._open_store)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        if self._executor is not None:  # a concurrent open() won the race: keep its store
            await loop.run_in_executor(executor, store.close)
            executor.shutdown(wait=True)
            return
        self._executor, self._store = executor, store
        self._hub = WakeupHub(self._path)

    def _open_store(self) -> SQLiteStore:
        store = SQLiteStore(self._path)
        try:
            store.migrate(to_us(self._clock.now()))
        except sqlite3.Error as exc:
            store.close()
            raise translate_error(exc, self._path) from exc
        except BaseException:
            store.close()
            raise
        return store

    async def close(self) -> None:
        """Stop the ``wakeups()`` iterators, close the connections and the thread.

        Idempotent. Calls made after ``close()`` raise ``StoreUnavailableError``.
        """
        executor, store, hub = self._executor, self._store, self._hub
        self._executor = self._store = self._hub = None
        if hub is not None:
            hub.close()  # iterators see it closed and end
        if executor is None or store is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, store.close)
        finally:
            # Nothing is queued behind store.close, so the thread is already idle.
            executor.shutdown(wait=True)

    async def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied (``[]`` when current).

        Works before ``open()`` too (the ``conveyor migrate`` path): it then uses a
        connection of its own for the duration of the call.
        """
        now_us = to_us(self._clock.now())
        if self._store is not None:
            return await self._call(self._store.migrate, now_us)
        return await asyncio.to_thread(self._migrate_once, now_us)

    def _migrate_once(self, now_us: int) -> list[str]:
        connection = connect(self._path)
        try:
            return migrate(connection, now_us)
        except sqlite3.Error as exc:
            raise translate_error(exc, self._path) from exc
        finally:
            connection.close()

    # --- writes -----------------------------------------------------------------------

    async def enqueue_many(
        self, jobs: Sequence[NewJob], *, now: dt.datetime | None = None
    ) -> list[Enqueued]:
        """Insert ``jobs`` in one transaction (see ``Backend.enqueue_many``).

        Duplicates of one (tenant, idempotency key) within the batch resolve to the
        first of them; the later ones come back with ``existing=True``.
        """
        if not jobs:
            return []
        store = self._require_store()
        results = await self._call(store.enqueue_many, jobs, self._now_us(now))
        self._wake({item.job.queue for item in results if _is_runnable(item)})
        return results

    async def claim_batch(self, params: ClaimParams) -> list[ClaimedJob]:
        """Expire, promote and claim in one transaction (see ``ClaimParams``)."""
        if params.limit < 1 or not params.queues:
            return []
        store = self._require_store()
        now_us = self._now_us(params.now)
        lease_expires_us = now_us + round(params.lease_seconds * 1_000_000)
        queues_json = json.dumps(list(dict.fromkeys(params.queues)))
        return await self._call(
            store.claim_batch, queues_json, params.limit, params.worker_id, lease_expires_us, now_us
        )

    async def extend_leases(self, params: LeaseParams) -> list[JobId]:
        """Renew the leases still owned (running under the same token)."""
        if not params.leases:
            return []
        store = self._require_store()
        lease_expires_us = self._now_us(params.now) + round(params.lease_seconds * 1_000_000)
        return await self._call(store.extend_leases, params.leases, lease_expires_us)

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Apply the outcomes whose lease still holds, in one transaction."""
        if not outcomes:
            return []
        store = self._require_store()
        applied = await self._call(store.finish_many, outcomes, self._now_us(now))
        if applied and any(outcome.state == JobState.QUEUED for outcome in outcomes):
            self._wake(None)  # released leases are runnable again at once
        return applied

    async def list_cancel_requests(self, job_ids: Sequence[JobId]) -> list[JobId]:
        """Of these running jobs, those whose cancellation was requested."""
        if not job_ids:
            return []
        ids_json = json.dumps(list(job_ids))
        return await self._call(reads.list_cancel_requests, self._connection(), ids_json)

    async def cancel(
        self, job_id: JobId, *, reason: str = "cancelled", now: dt.datetime | None = None
    ) -> Job | None:
        """Cancel a waiting job; flag a running one (its worker finishes the step)."""
        store = self._require_store()
        return await self._call(store.cancel, job_id, reason, self._now_us(now))

    async def requeue_dead(self, job_id: JobId, *, now: dt.datetime | None = None) -> Job | None:
        """``dead -> queued`` with room for one more attempt."""
        store = self._require_store()
        job, moved = await self._call(store.requeue_dead, job_id, self._now_us(now))
        if moved and job is not None:
            self._wake({job.queue})
        return job

    async def promote_due(self, *, limit: int, now: dt.datetime | None = None) -> int:
        """Queue up to ``limit`` due scheduled/retrying jobs of every queue."""
        if limit < 1:
            return 0
        store = self._require_store()
        promoted = await self._call(store.promote_due, limit, self._now_us(now))
        if promoted:
            self._wake(None)
        return promoted

    async def reap_expired_leases(
        self, *, limit: int, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Running jobs whose lease expired: back to ``queued``, or ``dead`` when their
        attempts are used up. Both get reason ``lease_expired``."""
        if limit < 1:
            return []
        store = self._require_store()
        reaped = await self._call(store.reap_expired_leases, limit, self._now_us(now))
        if reaped:
            self._wake(None)
        return reaped

    async def prune_finished(self, *, older_than: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` terminal jobs finished before ``older_than``."""
        if limit < 1:
            return 0
        store = self._require_store()
        return await self._call(store.prune_finished, to_us(older_than, name="older_than"), limit)

    async def delete_job(self, job_id: JobId) -> Job | None:
        """Delete one terminal job with its history (see ``Backend.delete_job``)."""
        store = self._require_store()
        return await self._call(store.delete_job, job_id)

    # --- reads ------------------------------------------------------------------------

    async def get(self, job_id: JobId) -> Job | None:
        """One job, or ``None``."""
        return await self._call(reads.get_job, self._connection(), job_id)

    async def list_jobs(self, query: JobQuery) -> Page[Job]:
        """Jobs matching ``query``, newest first; raises ``InvalidCursorError``."""
        return await self._call(reads.list_jobs, self._connection(), query)

    async def list_attempts(self, job_id: JobId) -> list[Attempt]:
        """The attempts of a job, oldest first."""
        return await self._call(reads.list_attempts, self._connection(), job_id)

    async def read_events(
        self, *, after: int = 0, job_id: JobId | None = None, limit: int = 100
    ) -> list[Event]:
        """Lifecycle events with ``id > after``, oldest first."""
        return await self._call(reads.read_events, self._connection(), after, job_id, limit)

    async def stats(self) -> Stats:
        """Job counts per state, in total and per queue."""
        return await self._call(reads.stats, self._connection())

    # --- wake-ups ---------------------------------------------------------------------

    def wakeups(self, queues: Sequence[str]) -> AsyncIterator[None]:
        """Yield whenever new work may be runnable in ``queues``.

        The first wake-up comes at once (a consumer should look for work when it
        starts). After that: at once for work enqueued, released, reaped, promoted or
        requeued through this instance; within ``POLL_SECONDS`` (5 ms) of a commit by
        another process or instance; and at least every ``SAFETY_NET_SECONDS`` (1 s).
        Spurious wake-ups happen. The iterator ends when the backend closes; close it
        (``aclose()``) to stop early. Raises ``StoreUnavailableError`` if not open.
        """
        hub = self._hub
        if hub is None:
            raise self._not_open()
        return hub.iterate(queues)

    def _wake(self, queues: Collection[str] | None) -> None:
        hub = self._hub
        if hub is not None:
            hub.notify(queues)

    # --- plumbing ---------------------------------------------------------------------

    def _now_us(self, now: dt.datetime | None) -> int:
        return to_us(self._clock.now() if now is None else now, name="now")

    def _require_store(self) -> SQLiteStore:
        store = self._store
        if store is None:
            raise self._not_open()
        return store

    def _not_open(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"The SQLite backend for {self.url!r} is not open: await open() first "
            "(or it was closed)."
        )

    def _connection(self) -> sqlite3.Connection:
        return self._require_store().connection

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function(*args)`` on this backend's thread, translating driver errors."""
        executor = self._executor
        if executor is None:
            raise self._not_open()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, self._translated, function, args
            )
        except RuntimeError as exc:  # close() shut the thread down since we looked
            raise self._not_open() from exc
        return await future

    def _translated(self, function: Callable[..., T], args: tuple[object, ...]) -> T:
        try:
            return function(*args)
        except sqlite3.Error as exc:
            raise translate_error(exc, self._path) from exc


def _is_runnable(item: Enqueued) -> bool:
    return not item.existing and item.job.state is JobState.QUEUED
