"""``SQLiteBackend``: the embedded store, one file shared by any number of processes.

Concurrency model (``runner.py`` implements it). Each open backend instance owns one
thread (a single-worker executor) and two ``SQLiteStore`` connections:

- The *inline* connection runs write transitions that name at most
  ``INLINE_MAX_JOBS`` jobs (enqueue, claim, heartbeat, finish, cancel, retry, delete)
  on the caller's thread, inside the call. Such a transaction costs 0.1-1 ms, less
  than or about the hop to another thread and back (150-250 µs of thread wake-ups on
  a small VM, per call). Its busy timeout is 0: when another connection holds the
  write lock, ``BEGIN IMMEDIATE`` fails at once, having done nothing, and the
  transition runs on the thread instead. In WAL mode a write transaction can meet
  SQLITE_BUSY only at that BEGIN (see ``immediate_transaction``), so the move never
  repeats part of a transition. Nothing inline waits for the disk: commits only
  write the WAL (``synchronous=NORMAL``: no fsync), and checkpoints run on the thread.
  One cost is not bounded by the batch: a claim also promotes every due job of its
  queues (about 10 µs each), so right after many scheduled jobs fall due at once the
  first claim holds its caller's loop for that long. The inline connection exists
  only when the file is in WAL mode, which SQLite can refuse (e.g. on a network file
  system); without it every write runs on the thread.
- The *thread's* connection runs everything else: reads, the duties (promote, reap,
  prune), bigger batches, migrations and the fallbacks above, waiting out other
  processes' writers under a long busy timeout.

The write lock (a ``threading.Lock``) serialises this instance's write transactions
over both connections: the thread waits for it (at most one inline transaction), a
caller only tries it and otherwise moves its transition to the thread, so an event
loop never blocks on another thread. WAL checkpoints run on the thread too
(``checkpoints.py``). Processes coordinate through SQLite's file locks: every write is
a ``BEGIN IMMEDIATE`` transaction. Nothing asyncio-specific is created at
construction, so one instance can serve several event loops (the app also drives it
from a portal loop for sync calls).

Wake-ups (``wakeups.py``): writes made through this instance wake its idle iterators
at once; commits by other processes are seen within a few milliseconds through SQLite's
change counter; a slow safety-net tick covers delayed jobs becoming due.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence

from conveyor.backends.base import (
    ClaimedJob,
    ClaimParams,
    Enqueued,
    JobQuery,
    LeaseParams,
    NewApiKey,
    NewJob,
    Outcome,
)
from conveyor.backends.sqlite import reads
from conveyor.backends.sqlite.connection import connect, migrate, path_from_url, translate_error
from conveyor.backends.sqlite.rows import to_us
from conveyor.backends.sqlite.runner import StoreRunner
from conveyor.backends.sqlite.store import SQLiteStore
from conveyor.backends.sqlite.wakeups import WakeupHub
from conveyor.clock import SystemClock
from conveyor.errors import StoreUnavailableError
from conveyor.models import ApiKey, Attempt, Event, Job, JobId, Page, Stats
from conveyor.states import JobState

#: A batch transition runs inline when it names at most this many jobs (about 1 ms of
#: SQL, the worker's default acknowledgement batch): a bigger one goes to the thread, so
#: a caller's event loop is not held up longer.
INLINE_MAX_JOBS = 100


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
        self._runner: StoreRunner | None = None
        self._hub: WakeupHub | None = None

    def __repr__(self) -> str:
        return f"SQLiteBackend({self.url!r})"

    # --- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (created if missing) and apply pending migrations.

        Idempotent. Raises ``StoreUnavailableError`` naming the path and the fix when
        the file or its directory is missing, read-only, or not a database.
        """
        if self._runner is not None:
            return
        runner = await StoreRunner.open(self._path, to_us(self._clock.now()), self._not_open)
        if self._runner is not None:  # a concurrent open() won the race: keep its runner
            await runner.close()
            return
        self._runner = runner
        self._hub = WakeupHub(self._path)

    async def close(self) -> None:
        """Stop the ``wakeups()`` iterators, close the connections and the thread.

        Idempotent. Calls made after ``close()`` raise ``StoreUnavailableError``.
        """
        runner, hub = self._runner, self._hub
        self._runner = self._hub = None
        if hub is not None:
            hub.close()  # iterators see it closed and end
        if runner is not None:
            await runner.close()

    async def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied (``[]`` when current).

        Works before ``open()`` too (the ``conveyor migrate`` path): it then uses a
        connection of its own for the duration of the call.
        """
        now_us = to_us(self._clock.now())
        if self._runner is not None:
            return await self._runner.write(SQLiteStore.migrate, now_us, inline=False)
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
        results = await self._require().write(
            SQLiteStore.enqueue_many, jobs, self._now_us(now), inline=len(jobs) <= INLINE_MAX_JOBS
        )
        self._wake({item.job.queue for item in results if _is_runnable(item)})
        return results

    async def claim_batch(self, params: ClaimParams) -> list[ClaimedJob]:
        """Expire, promote and claim in one transaction (see ``ClaimParams``)."""
        if params.limit < 1 or not params.queues:
            return []
        now_us = self._now_us(params.now)
        lease_expires_us = now_us + round(params.lease_seconds * 1_000_000)
        queues_json = json.dumps(list(dict.fromkeys(params.queues)))
        return await self._require().write(
            SQLiteStore.claim_batch,
            queues_json,
            params.limit,
            params.worker_id,
            lease_expires_us,
            now_us,
            inline=params.limit <= INLINE_MAX_JOBS,
        )

    async def extend_leases(self, params: LeaseParams) -> list[JobId]:
        """Renew the leases still owned (running under the same token)."""
        if not params.leases:
            return []
        lease_expires_us = self._now_us(params.now) + round(params.lease_seconds * 1_000_000)
        return await self._require().write(
            SQLiteStore.extend_leases,
            params.leases,
            lease_expires_us,
            inline=len(params.leases) <= INLINE_MAX_JOBS,
        )

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Apply the outcomes whose lease still holds, in one transaction."""
        if not outcomes:
            return []
        applied = await self._require().write(
            SQLiteStore.finish_many,
            outcomes,
            self._now_us(now),
            inline=len(outcomes) <= INLINE_MAX_JOBS,
        )
        if applied and any(outcome.state == JobState.QUEUED for outcome in outcomes):
            self._wake(None)  # released leases are runnable again at once
        return applied

    async def list_cancel_requests(self, job_ids: Sequence[JobId]) -> list[JobId]:
        """Of these running jobs, those whose cancellation was requested."""
        if not job_ids:
            return []
        ids_json = json.dumps(list(job_ids))
        return await self._require().read(reads.list_cancel_requests, ids_json)

    async def cancel(
        self, job_id: JobId, *, reason: str = "cancelled", now: dt.datetime | None = None
    ) -> Job | None:
        """Cancel a waiting job; flag a running one (its worker finishes the step)."""
        return await self._require().write(
            SQLiteStore.cancel, job_id, reason, self._now_us(now), inline=True
        )

    async def requeue_dead(self, job_id: JobId, *, now: dt.datetime | None = None) -> Job | None:
        """``dead -> queued`` with room for one more attempt."""
        job, moved = await self._require().write(
            SQLiteStore.requeue_dead, job_id, self._now_us(now), inline=True
        )
        if moved and job is not None:
            self._wake({job.queue})
        return job

    async def promote_due(self, *, limit: int, now: dt.datetime | None = None) -> int:
        """Queue up to ``limit`` due scheduled/retrying jobs of every queue."""
        if limit < 1:
            return 0
        promoted = await self._require().write(
            SQLiteStore.promote_due, limit, self._now_us(now), inline=False
        )
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
        reaped = await self._require().write(
            SQLiteStore.reap_expired_leases, limit, self._now_us(now), inline=False
        )
        if reaped:
            self._wake(None)
        return reaped

    async def prune_finished(self, *, older_than: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` terminal jobs finished before ``older_than``."""
        if limit < 1:
            return 0
        return await self._require().write(
            SQLiteStore.prune_finished, to_us(older_than, name="older_than"), limit, inline=False
        )

    async def delete_job(self, job_id: JobId) -> Job | None:
        """Delete one terminal job with its history (see ``Backend.delete_job``)."""
        return await self._require().write(SQLiteStore.delete_job, job_id, inline=True)

    # --- reads ------------------------------------------------------------------------

    async def get(self, job_id: JobId) -> Job | None:
        """One job, or ``None``."""
        return await self._require().read(reads.get_job, job_id)

    async def list_jobs(self, query: JobQuery) -> Page[Job]:
        """Jobs matching ``query``, newest first; raises ``InvalidCursorError``."""
        return await self._require().read(reads.list_jobs, query)

    async def list_attempts(self, job_id: JobId) -> list[Attempt]:
        """The attempts of a job, oldest first."""
        return await self._require().read(reads.list_attempts, job_id)

    async def read_events(
        self, *, after: int = 0, job_id: JobId | None = None, limit: int = 100
    ) -> list[Event]:
        """Lifecycle events with ``id > after``, oldest first."""
        return await self._require().read(reads.read_events, after, job_id, limit)

    async def stats(self) -> Stats:
        """Job counts per state, in total and per queue."""
        return await self._require().read(reads.stats)

    async def count_waiting(
        self, *, queue: str | None = None, tenant: str | None = None, cap: int
    ) -> int:
        """Waiting jobs of ``queue`` and ``tenant`` (``None``: any), up to ``cap``."""
        return await self._require().read(reads.count_waiting, queue, tenant, cap)

    async def ping(self) -> None:
        """One read; raises ``StoreUnavailableError`` if the file became unusable."""
        await self._require().read(reads.ping)

    # --- API keys ---------------------------------------------------------------------

    async def create_api_key(self, key: NewApiKey, *, now: dt.datetime | None = None) -> ApiKey:
        """Store a new API key."""
        return await self._require().write(
            SQLiteStore.create_api_key, key, self._now_us(now), inline=True
        )

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The active key with this hash, or ``None``."""
        return await self._require().read(reads.find_api_key, key_hash)

    async def list_api_keys(self, *, tenant: str | None = None) -> list[ApiKey]:
        """Every key (of one tenant if given), oldest first."""
        return await self._require().read(reads.list_api_keys, tenant)

    async def revoke_api_key(self, key_id: str, *, now: dt.datetime | None = None) -> ApiKey | None:
        """Revoke a key (idempotent)."""
        return await self._require().write(
            SQLiteStore.revoke_api_key, key_id, self._now_us(now), inline=True
        )

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

    def _require(self) -> StoreRunner:
        runner = self._runner
        if runner is None:
            raise self._not_open()
        return runner

    def _not_open(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"The SQLite backend for {self.url!r} is not open: await open() first "
            "(or it was closed)."
        )


def _is_runnable(item: Enqueued) -> bool:
    return not item.existing and item.job.state is JobState.QUEUED
