"""``RedisBackend``: the ``Backend`` protocol on Redis (redis-py asyncio + hiredis).

Every transition is one Lua script (``scripts/*.lua``), so it is atomic and costs one
round trip however many jobs it names: a claim of 100 jobs, an acknowledgement of 100
outcomes and a heartbeat of every lease a worker holds are one ``EVALSHA`` each.
Reads are single commands or one pipeline. Key names come from ``keys.py``.

Time: every script takes ``now`` as an argument; ``None`` becomes ``''`` and the
script reads the Redis server's ``TIME``, so every machine shares one clock for
leases and schedules.

Event loops: redis-py's connections belong to the loop that opened them, and one
backend instance may serve several loops (the app runs sync calls on a portal loop),
so the backend keeps one client (with its own pool) per loop, created on first use.

Errors: connection failures and timeouts become ``StoreUnavailableError`` (what the
worker retries on), anything else from the driver ``StoreError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import threading
from collections.abc import AsyncGenerator, Awaitable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis

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
from conveyor.backends.redis import codec, persistence, schema, wakeups
from conveyor.backends.redis.connection import (
    command,
    is_driver_error,
    make_client,
    parse_url,
    pipeline,
    translate,
)
from conveyor.backends.redis.keys import Keys, waiting_field
from conveyor.backends.redis.scripts import load_scripts
from conveyor.errors import StoreUnavailableError
from conveyor.models import ApiKey, Attempt, Event, Job, JobId, Page, Stats
from conveyor.states import JobState

log = logging.getLogger("conveyor.backends.redis")
# Without logging configured, Python prints warnings to stderr by itself; the store's
# warnings (persistence off, a lost subscription) are for the worker's log, which the
# worker CLI configures, not for the output of `conveyor status` and friends.
log.addHandler(logging.NullHandler())

T = TypeVar("T")

#: Jobs per enqueue script call: bigger batches go as several calls in one pipeline,
#: so no single script holds the server for long (about 30 ms per 1,000 jobs).
ENQUEUE_CHUNK = 1000
#: Most jobs one claim expires, and most it promotes, per queue.
CLAIM_HOUSEKEEPING_LIMIT = 500
#: Most jobs one list call visits looking for matches (the page may end early).
LIST_BUDGET = 10_000
#: The job's error when its lease expired (the attempt ended without a word from it).
LEASE_EXPIRED_ERROR = "lease expired: the worker stopped heartbeating (crashed or was killed)"


class RedisBackend:
    """The ``Backend`` protocol on Redis (see the module docstring).

    ``url``: ``redis://host:6379/0?prefix=myapp`` (see ``connection.py`` for every
    option). A malformed URL raises ``ConfigurationError`` here; an unreachable
    server ``StoreUnavailableError`` from ``open()``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._target = parse_url(url)
        self._keys = Keys(self._target.prefix)
        self._scripts = load_scripts()
        self._clients: dict[asyncio.AbstractEventLoop, Redis] = {}
        self._clients_lock = threading.Lock()
        self._open = False

    def __repr__(self) -> str:
        return f"RedisBackend({self._target.shown!r})"

    # --- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, register the scripts, check the layout version (a fresh prefix is
        stamped with the current one) and log a warning if the server's persistence
        settings would lose jobs in a crash of Redis itself. Idempotent.

        Raises ``StoreUnavailableError`` if Redis cannot be reached and
        ``SchemaOutOfDateError`` if the prefix's layout is older than this code.
        """
        if self._open:
            return
        client = self._client()
        warning = await self._guard(self._open_steps(client))
        self._open = True
        if warning is not None:
            log.warning("%s", warning)

    async def _open_steps(self, client: Redis) -> str | None:
        await pipeline(
            client, [("SCRIPT", "LOAD", script.text) for script in self._scripts.values()]
        )
        await schema.check(client, self._keys, self._target.shown, stamp=True)
        return await persistence.check(client, self._target.shown)

    async def close(self) -> None:
        """Close every client (ending the ``wakeups()`` iterators). Idempotent; calls
        made afterwards raise ``StoreUnavailableError`` until ``open()`` again."""
        self._open = False
        with self._clients_lock:
            clients, self._clients = self._clients, {}
        current = asyncio.get_running_loop()
        for loop, client in clients.items():
            if loop is current:
                await client.aclose()
            elif loop.is_running():
                # Its connections belong to that loop: close them there.
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(future), timeout=5)

    async def migrate(self) -> list[str]:
        """Bring the prefix's layout to ``SCHEMA_VERSION``; return the migrations
        applied (``[]`` when current). Works before ``open()``."""
        return await self._guard(schema.migrate(self._client(), self._keys))

    async def ping(self) -> None:
        """One cheap round trip: raises ``StoreUnavailableError`` if Redis cannot be
        reached, ``SchemaOutOfDateError`` if the prefix's layout is older than the code."""
        check = schema.check(self._require(), self._keys, self._target.shown, stamp=False)
        await self._guard(check)

    # --- writes -----------------------------------------------------------------------

    async def enqueue_many(
        self, jobs: Sequence[NewJob], *, now: dt.datetime | None = None
    ) -> list[Enqueued]:
        """Insert ``jobs`` in order (see ``Backend.enqueue_many``).

        Up to ``ENQUEUE_CHUNK`` jobs are one atomic script call; a bigger batch is
        several calls sent in one pipeline (one round trip), each atomic, applied in
        order. Duplicates of one (tenant, idempotency key) within the batch resolve
        to the first; sending a job whose id is already stored returns that job with
        ``existing=True`` (so a retry after a lost reply stores nothing twice).
        """
        if not jobs:
            return []
        client = self._require()
        now_arg = self._now_arg(now)
        chunks = [jobs[i : i + ENQUEUE_CHUNK] for i in range(0, len(jobs), ENQUEUE_CHUNK)]
        calls = [
            [now_arg, codec.batch_json([codec.enqueue_args(job) for job in chunk])]
            for chunk in chunks
        ]
        script = self._scripts["enqueue"]
        if len(calls) == 1:
            replies = [await self._guard(script.call(client, self._keys.schema, *calls[0]))]
        else:
            replies = await self._guard(script.call_many(client, self._keys.schema, calls))
        results: list[Enqueued] = []
        for chunk, reply in zip(chunks, replies, strict=True):
            now_us = int(reply[0])
            for job, existing in zip(chunk, reply[1:], strict=True):
                if existing == 0:
                    results.append(Enqueued(codec.job_from_new(job, now_us=now_us), existing=False))
                else:
                    stored = codec.job_from_hash(codec.as_hash(existing))
                    results.append(Enqueued(stored, existing=True))
        return results

    async def claim_batch(self, params: ClaimParams) -> list[ClaimedJob]:
        """Expire, promote and claim in one script call (see ``ClaimParams``); every
        job of the batch gets the same fresh lease token."""
        if params.limit < 1 or not params.queues:
            return []
        token = secrets.token_hex(16)
        reply = await self._run(
            "claim",
            self._now_arg(params.now),
            params.limit,
            params.worker_id,
            round(params.lease_seconds * 1_000_000),
            token,
            CLAIM_HOUSEKEEPING_LIMIT,
            *dict.fromkeys(params.queues),
        )
        return [codec.claimed_from_row(row, token) for row in reply[1:]]

    async def extend_leases(self, params: LeaseParams) -> list[JobId]:
        """Renew the leases still owned (running under the same token)."""
        if not params.leases:
            return []
        args: list[str | int] = [
            self._now_arg(params.now),
            round(params.lease_seconds * 1_000_000),
        ]
        for lease in params.leases:
            args += [lease.job_id, lease.token]
        renewed: list[JobId] = await self._run("extend_leases", *args)
        return renewed

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Apply the outcomes whose lease still holds, in one script call. Raises
        ``ValueError`` (storing nothing) for a state a running job cannot move to."""
        if not outcomes:
            return []
        rows = codec.batch_json([codec.finish_args(outcome) for outcome in outcomes])
        applied: list[JobId] = await self._run("finish", self._now_arg(now), rows)
        return applied

    async def list_cancel_requests(self, job_ids: Sequence[JobId]) -> list[JobId]:
        """Of these running jobs, those whose cancellation was requested."""
        if not job_ids:
            return []
        client = self._require()

        reads = [
            ("HMGET", self._keys.job(job_id), "state", "cancel_requested") for job_id in job_ids
        ]
        rows = await self._guard(pipeline(client, reads))
        return [
            job_id
            for job_id, (state, flag) in zip(job_ids, rows, strict=True)
            if state == JobState.RUNNING.value and flag == "1"
        ]

    async def cancel(
        self, job_id: JobId, *, reason: str = "cancelled", now: dt.datetime | None = None
    ) -> Job | None:
        """Cancel a waiting job; flag a running one (its worker finishes the step)."""
        reply = await self._run("cancel", self._now_arg(now), job_id, reason)
        return None if reply is None else codec.job_from_hash(codec.as_hash(reply))

    async def requeue_dead(self, job_id: JobId, *, now: dt.datetime | None = None) -> Job | None:
        """``dead -> queued`` with room for one more attempt."""
        reply = await self._run("requeue_dead", self._now_arg(now), job_id)
        return None if reply is None else codec.job_from_hash(codec.as_hash(reply[1]))

    async def promote_due(self, *, limit: int, now: dt.datetime | None = None) -> int:
        """Queue up to ``limit`` due scheduled/retrying jobs of every queue."""
        if limit < 1:
            return 0
        return int(await self._run("promote_due", self._now_arg(now), limit))

    async def reap_expired_leases(
        self, *, limit: int, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Running jobs whose lease expired: back to ``queued`` (reason
        ``lease_expired``), ``dead`` when their attempts are used up, ``cancelled``
        when their cancellation was requested."""
        if limit < 1:
            return []
        reaped: list[JobId] = await self._run(
            "reap_expired_leases", self._now_arg(now), limit, LEASE_EXPIRED_ERROR
        )
        return reaped

    async def prune_finished(self, *, older_than: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` terminal jobs finished before ``older_than``, with
        their attempts, events and index entries."""
        if limit < 1:
            return 0
        cutoff = codec.to_us(older_than, name="older_than")
        return int(await self._run("prune_finished", cutoff, limit))

    async def delete_job(self, job_id: JobId) -> Job | None:
        """Delete one terminal job with its history (see ``Backend.delete_job``)."""
        reply = await self._run("delete_job", job_id)
        return None if reply is None else codec.job_from_hash(codec.as_hash(reply))

    # --- reads ------------------------------------------------------------------------

    async def get(self, job_id: JobId) -> Job | None:
        """One job, or ``None``."""
        flat = await self._command("HGETALL", self._keys.job(job_id))
        return codec.job_from_hash(codec.as_hash(flat)) if flat else None

    async def list_jobs(self, query: JobQuery) -> Page[Job]:
        """Jobs matching ``query``, newest first; raises ``InvalidCursorError``.

        A page may hold fewer than ``limit`` jobs (even none) and still have a
        ``next_cursor`` when the filters are sparse: one call visits at most
        ``LIST_BUDGET`` jobs of the index it walks.
        """
        if query.limit < 1:
            raise ValueError(f"list limit must be at least 1, got {query.limit}")
        before = None if query.cursor is None else codec.decode_cursor(query.cursor)
        reply = await self._run(
            "list_jobs",
            codec.opt(before),
            query.limit + 1,  # one more tells whether another page exists
            LIST_BUDGET,
            codec.opt(None if query.state is None else JobState(query.state).value),
            codec.opt(query.type),
            codec.opt(query.queue),
            codec.opt(query.tenant),
            codec.opt(query.idempotency_key),
        )
        return codec.page_from_reply(reply, limit=query.limit)

    async def list_attempts(self, job_id: JobId) -> list[Attempt]:
        """The attempts of a job, oldest first (empty for an unknown job)."""
        records = await self._command("HVALS", self._keys.attempts(job_id))
        attempts = [codec.attempt_from_json(job_id, raw) for raw in records]
        return sorted(attempts, key=lambda attempt: attempt.number)

    async def read_events(
        self, *, after: int = 0, job_id: JobId | None = None, limit: int = 100
    ) -> list[Event]:
        """Lifecycle events with ``id > after`` (of one job if given), oldest first."""
        if limit < 1:
            return []
        if job_id is None:
            records = await self._command(
                "ZRANGE", self._keys.events, f"({after}", "+inf", "BYSCORE", "LIMIT", 0, limit
            )
            return [codec.event_from_json(raw) for raw in records]
        records = await self._command("LRANGE", self._keys.job_events(job_id), 0, -1)
        events = [codec.event_from_json(raw) for raw in records]
        return [event for event in events if event.id > after][:limit]

    async def stats(self) -> Stats:
        """Job counts per state, in total and per queue (kept by every transition)."""
        counts = codec.as_hash(await self._command("HGETALL", self._keys.counts))
        return codec.stats_from_counts(counts)

    async def count_waiting(
        self, *, queue: str | None = None, tenant: str | None = None, cap: int
    ) -> int:
        """Jobs in queued/scheduled/retrying matching the filters, at most ``cap``
        (a counter kept by every transition: one ``HGET``)."""
        field = waiting_field(queue=queue, tenant=tenant)
        raw = await self._command("HGET", self._keys.waiting, field)
        return min(int(raw or 0), cap)

    # --- API keys ---------------------------------------------------------------------

    async def create_api_key(self, key: NewApiKey, *, now: dt.datetime | None = None) -> ApiKey:
        """Store a new API key (created now) and return it. Raises ``StoreError`` if a
        key with the same hash exists."""
        reply = await self._run(
            "create_api_key",
            self._now_arg(now),
            key.id,
            key.key_hash,
            codec.opt(key.tenant),
            int(key.admin),
            codec.opt(key.name),
        )
        return codec.api_key_from_hash(codec.as_hash(reply))

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The active key with this hash; ``None`` if unknown or revoked."""
        reply = await self._run("find_api_key", key_hash)
        return None if reply is None else codec.api_key_from_hash(codec.as_hash(reply))

    async def list_api_keys(self, *, tenant: str | None = None) -> list[ApiKey]:
        """Every key (revoked ones included), of one tenant if given, oldest first."""
        reply = await self._run("list_api_keys", codec.opt(tenant))
        return [codec.api_key_from_hash(codec.as_hash(flat)) for flat in reply]

    async def revoke_api_key(self, key_id: str, *, now: dt.datetime | None = None) -> ApiKey | None:
        """Revoke a key (idempotent); return it after the step, or ``None``."""
        reply = await self._run("revoke_api_key", self._now_arg(now), key_id)
        return None if reply is None else codec.api_key_from_hash(codec.as_hash(reply))

    # --- wake-ups ---------------------------------------------------------------------

    def wakeups(self, queues: Sequence[str]) -> AsyncGenerator[None, None]:
        """Yield whenever new work may be runnable in ``queues``.

        The first wake-up comes at once. After that: within a round trip of a job
        becoming runnable in one of ``queues`` through any client (pub/sub), after a
        lost subscription is restored, and at least every second (safety net).
        Spurious wake-ups happen. Connection loss never raises here: the iterator
        logs, backs off and subscribes again. It ends when the backend closes.
        Raises ``StoreUnavailableError`` if not open.
        """
        if not self._open:
            raise self._not_open()
        channels = [self._keys.wake(queue) for queue in dict.fromkeys(queues)]
        return wakeups.iterate(self._require, channels, lambda: not self._open, self._target.shown)

    # --- plumbing ---------------------------------------------------------------------

    async def _run(self, name: str, *args: str | int) -> Any:
        """Call script ``name`` with ``args`` (translating driver errors)."""
        client = self._require()
        return await self._guard(self._scripts[name].call(client, self._keys.schema, *args))

    async def _command(self, *args: str | int) -> Any:
        """One Redis command (translating driver errors)."""
        return await self._guard(command(self._require(), *args))

    async def _guard(self, step: Awaitable[T]) -> T:
        try:
            return await step
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, self._target) from exc
            raise

    @staticmethod
    def _now_arg(now: dt.datetime | None) -> str:
        return "" if now is None else str(codec.to_us(now, name="now"))

    def _client(self) -> Redis:
        """The client of the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(loop)
                if client is None:
                    client = make_client(self._target)
                    self._clients = {
                        **{known: c for known, c in self._clients.items() if not known.is_closed()},
                        loop: client,
                    }
        return client

    def _require(self) -> Redis:
        """The running loop's client of an open backend."""
        if not self._open:
            raise self._not_open()
        return self._client()

    def _not_open(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"The Redis backend for {self._target.shown!r} is not open: await open() "
            "first (or it was closed)."
        )
