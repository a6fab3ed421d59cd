"""``PostgresBackend``: the server store, shared by worker processes on any machines.

Concurrency model. Every transition is one statement (claim: two statements in one
transaction, sent in one round trip with pipeline mode), conditioned on the job's state
and, for running jobs, its lease token, so concurrent workers never need a lock of
ours: ``FOR UPDATE SKIP LOCKED`` gives concurrent claimers disjoint rows, and a finish
that loses to the reaper (or the reverse) finds the row changed and does nothing.
Batches travel as arrays (``unnest``), so a batch of 100 outcomes is one statement.

Time. ``now=None`` (production) binds ``NULL`` and the statement uses the database's
``statement_timestamp()``: every machine shares the database's clock for leases.

Connections (``pools.py``): a psycopg pool per event loop that uses the instance, and a
dedicated heartbeat connection per loop. Wake-ups (``listener.py``): one LISTEN
connection per process and store. Errors (``connection.py``): connection trouble
becomes ``StoreUnavailableError``, which the worker retries.

Schema. ``open()`` refuses a schema older than the code (``SchemaOutOfDateError``: run
``conveyor migrate``); unlike SQLite it never migrates by itself, because a server
store is shared by processes that may run different versions, and a schema change is an
operator's decision. ``migrate()`` works before ``open()``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from conveyor.backends import records
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
from conveyor.backends.postgres import enqueue, queries, rows
from conveyor.backends.postgres.connection import (
    migrate_blocking,
    missing_migrations,
    out_of_date,
    parse_url,
    translate_error,
)
from conveyor.backends.postgres.listener import Wakeups
from conveyor.backends.postgres.pools import AsyncConn, LoopConnections
from conveyor.backends.postgres.queries import Statements
from conveyor.errors import StoreUnavailableError
from conveyor.models import ApiKey, Attempt, Event, Job, JobId, Page, Stats
from conveyor.states import JobState

#: Most jobs one claim expires, and most it promotes.
CLAIM_HOUSEKEEPING_LIMIT = 500
#: With the database's clock (``now=None``), the claims of one backend instance run the
#: housekeeping step (expire, promote due jobs) for a set of queues at most this often;
#: the other claims are one autocommit statement. Measured on an idle worker, a claim
#: of one job took 3.4 ms with the step and its transaction, 2.2 ms without.
HOUSEKEEPING_INTERVAL_SECONDS = 0.1

LEASE_EXPIRED_ERROR = "lease expired: the worker stopped heartbeating (crashed or was killed)"

_FINISH_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.RETRYING, JobState.DEAD, JobState.CANCELLED, JobState.QUEUED}
)


class PostgresBackend:
    """The ``Backend`` protocol on PostgreSQL (see the module docstring).

    ``url`` is ``postgresql://user@host/database?schema=name``; a malformed URL raises
    ``ConfigurationError`` here, an unreachable server ``StoreUnavailableError`` from
    ``open()``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._target = parse_url(url)
        self._statements = Statements.for_schema(self._target.schema)
        self._loops: dict[asyncio.AbstractEventLoop, LoopConnections] = {}
        self._lock = threading.Lock()
        self._open = False
        self._wakeups: Wakeups | None = None
        # Queue set -> time.monotonic() after which a claim housekeeps again.
        self._housekeep_after: dict[tuple[str, ...], float] = {}

    def __repr__(self) -> str:
        return f"PostgresBackend(schema={self._target.schema!r})"

    @property
    def statements(self) -> Statements:
        """The statements composed for this store's schema (tests pin their plans)."""
        return self._statements

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and check that the schema is current. Idempotent.

        Raises ``StoreUnavailableError`` if the server cannot be reached and
        ``SchemaOutOfDateError`` (saying to run ``conveyor migrate``) if the schema is
        missing or older than the code.
        """
        if self._open:
            return
        loop = asyncio.get_running_loop()
        connections = LoopConnections(self._target.conninfo, loop)
        try:
            await connections.open()
            async with connections.pool.connection() as connection:
                await self._check_schema(connection)
        except BaseException as exc:
            await connections.close()
            if isinstance(exc, psycopg.Error):
                raise translate_error(exc, self._target) from exc
            raise
        with self._lock:
            if self._open:  # a concurrent open() won the race: keep its connections
                keep = False
            else:
                keep = True
                self._loops[loop] = connections
                self._wakeups = Wakeups(self._target)
                self._open = True
        if not keep:
            await connections.close()

    async def _check_schema(self, connection: AsyncConn) -> None:
        table = f"{self._target.schema}.conveyor_migrations"
        cursor = await connection.execute(queries.MIGRATIONS_TABLE_EXISTS, {"table": table})
        row = await cursor.fetchone()
        applied: set[str] = set()
        if row is not None and row[0]:
            cursor = await connection.execute(self._statements.LIST_APPLIED_MIGRATIONS)
            applied = {str(name) for (name,) in await cursor.fetchall()}
        missing = missing_migrations(applied)
        if missing:
            raise out_of_date(self._target, missing, self.url)

    async def close(self) -> None:
        """Close every loop's connections and end the ``wakeups()`` iterators.

        Idempotent. Calls made after ``close()`` raise ``StoreUnavailableError``.
        Connections of another loop are closed on that loop if it still runs.
        """
        with self._lock:
            loops, self._loops = self._loops, {}
            wakeups, self._wakeups = self._wakeups, None
            self._open = False
        if wakeups is not None:
            wakeups.close()
        current = asyncio.get_running_loop()
        for loop, connections in loops.items():
            if loop is current:
                await connections.close()
            elif loop.is_closed():
                connections.abandon()
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(connections.close(), loop)
                try:
                    async with asyncio.timeout(10):
                        await asyncio.wrap_future(future)
                except (TimeoutError, psycopg.Error):
                    future.cancel()

    async def migrate(self) -> list[str]:
        """Apply pending migrations under a blocking advisory lock; return their names.

        Idempotent and safe from several processes at once. Works before ``open()``,
        on a connection of its own.
        """
        return await asyncio.to_thread(migrate_blocking, self._target)

    async def ping(self) -> None:
        """One round trip: raises ``StoreUnavailableError`` if the server is unreachable,
        ``SchemaOutOfDateError`` if the schema is older than the code."""
        async with self._connection() as connection:
            await self._check_schema(connection)

    # --- plumbing -------------------------------------------------------------------------

    async def _loop_connections(self) -> LoopConnections:
        loop = asyncio.get_running_loop()
        connections = self._loops.get(loop)
        if connections is not None:
            return connections
        if not self._open:
            raise self._not_open()
        # First use from another event loop (e.g. the sync portal): connections of its own.
        # Loops that have ended since (one asyncio.run() per request...) leave theirs.
        with self._lock:
            ended = [known for known in self._loops if known.is_closed()]
            abandoned = [self._loops.pop(known) for known in ended]
        for stale in abandoned:
            stale.abandon()
        connections = LoopConnections(self._target.conninfo, loop)
        try:
            await connections.open()
        except BaseException:
            await connections.close()
            raise
        with self._lock:
            existing = self._loops.get(loop)
            if existing is None and self._open:
                self._loops[loop] = connections
        if existing is not None or not self._open:
            await connections.close()
            if existing is None:
                raise self._not_open()
            return existing
        return connections

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConn]:
        """A pooled connection; psycopg errors inside come out translated."""
        try:
            connections = await self._loop_connections()
            async with connections.pool.connection() as connection:
                yield connection
        except psycopg.Error as exc:
            raise translate_error(exc, self._target) from exc

    def _not_open(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"The PostgreSQL backend (schema {self._target.schema!r}) is not open: await "
            "open() first (or it was closed)."
        )

    # --- writes ---------------------------------------------------------------------------

    async def enqueue_many(
        self, jobs: Sequence[NewJob], *, now: dt.datetime | None = None
    ) -> list[Enqueued]:
        """Insert ``jobs`` in one statement (see ``Backend.enqueue_many``). Duplicates of
        one (tenant, idempotency key) within the batch resolve to the first of them."""
        if not jobs:
            return []
        async with self._connection() as connection:
            return await enqueue.enqueue_async(connection, self._statements, jobs, now)

    async def enqueue_many_in_transaction(
        self, connection: Any, jobs: Sequence[NewJob], *, now: dt.datetime | None = None
    ) -> list[Enqueued]:
        """Insert ``jobs`` on the caller's open ``psycopg.AsyncConnection``, inside its
        transaction: they exist if and only if the caller commits, and idle workers are
        woken at that commit (NOTIFY is transactional). Never commits or rolls back.

        Raises ``TypeError`` for anything but a psycopg ``AsyncConnection``.
        """
        if not isinstance(connection, psycopg.AsyncConnection):
            raise TypeError(
                "connection= must be an open psycopg.AsyncConnection (for a sync "
                f"psycopg.Connection use enqueue_sync), got {type(connection).__name__}"
            )
        if not jobs:
            return []
        try:
            return await enqueue.enqueue_async(connection, self._statements, jobs, now)
        except psycopg.Error as exc:
            raise translate_error(exc, self._target) from exc

    def enqueue_many_in_transaction_sync(
        self, connection: Any, jobs: Sequence[NewJob], *, now: dt.datetime | None = None
    ) -> list[Enqueued]:
        """``enqueue_many_in_transaction`` on a caller's sync ``psycopg.Connection``,
        run on the calling thread (no event loop, no pool involved)."""
        if not isinstance(connection, psycopg.Connection):
            raise TypeError(
                "connection= must be an open psycopg.Connection (for a "
                f"psycopg.AsyncConnection use enqueue), got {type(connection).__name__}"
            )
        if not jobs:
            return []
        try:
            return enqueue.enqueue_sync(connection, self._statements, jobs, now)
        except psycopg.Error as exc:
            raise translate_error(exc, self._target) from exc

    async def claim_batch(self, params: ClaimParams) -> list[ClaimedJob]:
        """Expire, promote and claim in one transaction and one round trip.

        With ``now=None`` (the database's clock: production) the expire and promote
        step runs at most every ``HOUSEKEEPING_INTERVAL_SECONDS`` per set of queues, and
        the claims in between are the claim statement alone: a due job may then wait
        that long to be promoted (an idle worker looks once a second anyway: nobody
        announces a due job), and an expired one is skipped by the claim, never run.
        With an explicit ``now`` every claim runs the step, as the protocol describes.
        """
        if params.limit < 1 or not params.queues:
            return []
        s = self._statements
        token = secrets.token_hex(16)
        queues = list(dict.fromkeys(params.queues))
        claim = {
            "now": params.now,
            "queues": queues,
            "limit": params.limit,
            "lease_token": token,
            "lease_seconds": params.lease_seconds,
            "worker_id": params.worker_id,
        }
        if params.now is None and not self._housekeeping_due(tuple(queues)):
            async with self._connection() as connection:
                cursor = await connection.execute(s.CLAIM_BATCH, claim)
                found = await cursor.fetchall()
            return records.claimed_jobs(found, token)
        housekeeping = {
            "now": params.now,
            "queues": queues,
            "step_limit": CLAIM_HOUSEKEEPING_LIMIT,
        }
        async with self._connection() as connection:
            async with connection.pipeline(), connection.transaction():
                await connection.execute(s.HOUSEKEEP_FOR_CLAIM, housekeeping)
                cursor = await connection.execute(s.CLAIM_BATCH, claim)
            found = await cursor.fetchall()
        return records.claimed_jobs(found, token)

    def _housekeeping_due(self, queues: tuple[str, ...]) -> bool:
        """Whether a claim of ``queues`` runs the housekeeping step now (and if so, the
        next one waits ``HOUSEKEEPING_INTERVAL_SECONDS``)."""
        now = time.monotonic()
        if now < self._housekeep_after.get(queues, 0.0):
            return False
        self._housekeep_after[queues] = now + HOUSEKEEPING_INTERVAL_SECONDS
        return True

    def _housekeep_soon(self) -> None:
        """Let the next claim of every queue set run the housekeeping step."""
        self._housekeep_after.clear()

    async def extend_leases(self, params: LeaseParams) -> list[JobId]:
        """Renew the leases still owned, in one statement, on the heartbeat connection
        (never queued behind other callers for a pooled one)."""
        if not params.leases:
            return []
        bound = {
            "now": params.now,
            "lease_seconds": params.lease_seconds,
            "ids": [lease.job_id for lease in params.leases],
            "tokens": [lease.token for lease in params.leases],
        }
        try:
            connections = await self._loop_connections()
            async with connections.heartbeat() as connection:
                cursor = await connection.execute(self._statements.EXTEND_LEASES, bound)
                return [row[0] for row in await cursor.fetchall()]
        except psycopg.Error as exc:
            raise translate_error(exc, self._target) from exc

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Apply the outcomes whose lease still holds, in one statement.

        Raises ``ValueError`` (before touching the store) for a next state that a
        running job cannot move to.
        """
        if not outcomes:
            return []
        bound = _finish_document(outcomes)
        bound["now"] = now
        async with self._connection() as connection:
            cursor = await connection.execute(self._statements.FINISH_MANY, bound)
            applied = {row[0] for row in await cursor.fetchall()}
        if any(
            o.state == JobState.RETRYING and o.retry_in <= HOUSEKEEPING_INTERVAL_SECONDS
            for o in outcomes
        ):
            self._housekeep_soon()  # a retry due at once must not wait for the interval
        # In the order given, once each.
        return [job_id for job_id in dict.fromkeys(o.job_id for o in outcomes) if job_id in applied]

    async def list_cancel_requests(self, job_ids: Sequence[JobId]) -> list[JobId]:
        """Of these running jobs, those whose cancellation was requested."""
        if not job_ids:
            return []
        async with self._connection() as connection:
            cursor = await connection.execute(
                self._statements.LIST_CANCEL_REQUESTS, {"ids": list(job_ids)}
            )
            return [row[0] for row in await cursor.fetchall()]

    async def cancel(
        self, job_id: JobId, *, reason: str = "cancelled", now: dt.datetime | None = None
    ) -> Job | None:
        """Cancel a waiting job; flag a running one (its worker finishes the step)."""
        s = self._statements
        bound = {"id": job_id, "reason": reason, "now": now}
        async with self._connection() as connection, connection.transaction():
            cursor = await connection.execute(s.CANCEL_WAITING, bound)
            if not cursor.rowcount:
                await connection.execute(s.REQUEST_CANCEL, bound)
            return await self._get_on(connection, job_id)

    async def requeue_dead(self, job_id: JobId, *, now: dt.datetime | None = None) -> Job | None:
        """``dead -> queued`` with room for one more attempt."""
        async with self._connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.REQUEUE_DEAD, {"id": job_id, "now": now})
            row = await cursor.fetchone()
            if row is not None:
                return rows.job_from_row(row)
            return await self._get_on(connection, job_id)

    async def promote_due(self, *, limit: int, now: dt.datetime | None = None) -> int:
        """Queue up to ``limit`` due scheduled/retrying jobs of every queue."""
        if limit < 1:
            return 0
        async with self._connection() as connection:
            cursor = await connection.execute(
                self._statements.PROMOTE_DUE, {"limit": limit, "now": now}
            )
            return cursor.rowcount

    async def reap_expired_leases(
        self, *, limit: int, now: dt.datetime | None = None
    ) -> list[JobId]:
        """Running jobs whose lease expired: back to ``queued``, ``dead`` when their
        attempts are used up, ``cancelled`` when cancellation was requested."""
        if limit < 1:
            return []
        bound = {"limit": limit, "now": now, "error": LEASE_EXPIRED_ERROR}
        async with self._connection() as connection:
            cursor = await connection.execute(self._statements.REAP_EXPIRED_LEASES, bound)
            return [row[0] for row in await cursor.fetchall()]

    async def prune_finished(self, *, older_than: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` terminal jobs finished before ``older_than``."""
        if limit < 1:
            return 0
        bound = {"older_than": older_than, "limit": limit}
        async with self._connection() as connection:
            cursor = await connection.execute(self._statements.PRUNE_FINISHED, bound)
            return cursor.rowcount

    async def delete_job(self, job_id: JobId) -> Job | None:
        """Delete one terminal job with its history (see ``Backend.delete_job``)."""
        async with self._connection() as connection, connection.transaction():
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.DELETE_FINISHED_JOB, {"id": job_id})
            row = await cursor.fetchone()
            if row is not None:
                return rows.job_from_row(row)
            return await self._get_on(connection, job_id)

    # --- reads ----------------------------------------------------------------------------

    async def _get_on(self, connection: AsyncConn, job_id: JobId) -> Job | None:
        cursor = connection.cursor(row_factory=dict_row)
        await cursor.execute(self._statements.GET_JOB, {"id": job_id})
        row = await cursor.fetchone()
        return None if row is None else rows.job_from_row(row)

    async def get(self, job_id: JobId) -> Job | None:
        """One job, or ``None``."""
        async with self._connection() as connection:
            return await self._get_on(connection, job_id)

    async def list_jobs(self, query: JobQuery) -> Page[Job]:
        """Jobs matching ``query``, newest first; raises ``InvalidCursorError``."""
        if query.limit < 1:
            raise ValueError(f"list limit must be at least 1, got {query.limit}")
        bound = {
            "before": None if query.cursor is None else rows.decode_cursor(query.cursor),
            "state": None if query.state is None else JobState(query.state).value,
            "type": query.type,
            "queue": query.queue,
            "tenant": query.tenant,
            "key": query.idempotency_key,
            "limit": query.limit + 1,  # one more tells whether another page exists
        }
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.LIST_JOBS, bound)
            found = await cursor.fetchall()
        items = [rows.job_from_row(row) for row in found[: query.limit]]
        more = len(found) > query.limit
        return Page[Job](
            items=items, next_cursor=rows.encode_cursor(items[-1].id) if more else None
        )

    async def list_attempts(self, job_id: JobId) -> list[Attempt]:
        """The attempts of a job, oldest first."""
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.LIST_ATTEMPTS, {"job_id": job_id})
            return [rows.attempt_from_row(row) for row in await cursor.fetchall()]

    async def read_events(
        self, *, after: int = 0, job_id: JobId | None = None, limit: int = 100
    ) -> list[Event]:
        """Lifecycle events with ``id > after``, oldest first.

        Only final events are returned: none of a transaction still in flight, and none
        above the first id such a transaction may still take (see ``event_ids`` in
        ``0001_init.sql``). So resuming after the last id seen never skips an event that
        commits late; an open transaction that writes jobs of this store holds back
        the newer events until it ends (it delays the log, never loses from it).
        """
        if limit < 1:
            return []
        s = self._statements
        async with self._connection() as connection:
            cursor = await connection.execute(s.EVENT_HORIZON)
            row = await cursor.fetchone()
            horizon = 0 if row is None else int(row[0])
            bound = {"after": after, "horizon": horizon, "job_id": job_id, "limit": limit}
            reader = connection.cursor(row_factory=dict_row)
            await reader.execute(s.READ_EVENTS, bound)
            return [rows.event_from_row(found) for found in await reader.fetchall()]

    async def stats(self) -> Stats:
        """Job counts per state, in total and per queue."""
        totals = dict.fromkeys((state.value for state in JobState), 0)
        per_queue: dict[str, dict[str, int]] = {}
        async with self._connection() as connection:
            cursor = await connection.execute(self._statements.COUNT_JOBS_BY_QUEUE_AND_STATE)
            found = await cursor.fetchall()
        for queue, state, count in found:
            totals[state] += count
            if queue not in per_queue:
                per_queue[queue] = dict.fromkeys((state.value for state in JobState), 0)
            per_queue[queue][state] = count
        return Stats(states=totals, queues=per_queue)

    async def count_waiting(
        self, *, queue: str | None = None, tenant: str | None = None, cap: int
    ) -> int:
        """Jobs in queued/scheduled/retrying matching the filters, counted up to ``cap``."""
        if cap < 1:
            return 0
        bound = {"queue": queue, "tenant": tenant, "cap": cap}
        async with self._connection() as connection:
            cursor = await connection.execute(self._statements.COUNT_WAITING, bound)
            row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    # --- API keys -------------------------------------------------------------------------

    async def create_api_key(self, key: NewApiKey, *, now: dt.datetime | None = None) -> ApiKey:
        """Store a new API key (created now) and return it."""
        bound = {
            "id": key.id,
            "key_hash": key.key_hash,
            "tenant": key.tenant,
            "admin": key.admin,
            "name": key.name,
            "now": now,
        }
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.CREATE_API_KEY, bound)
            row = await cursor.fetchone()
        assert row is not None  # INSERT ... RETURNING of one row  # noqa: S101
        return rows.api_key_from_row(row)

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The active key with this hash; ``None`` if unknown or revoked."""
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.FIND_API_KEY, {"key_hash": key_hash})
            row = await cursor.fetchone()
        return None if row is None else rows.api_key_from_row(row)

    async def list_api_keys(self, *, tenant: str | None = None) -> list[ApiKey]:
        """Every key (revoked ones included), of one tenant if given, oldest first."""
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.LIST_API_KEYS, {"tenant": tenant})
            return [rows.api_key_from_row(row) for row in await cursor.fetchall()]

    async def revoke_api_key(self, key_id: str, *, now: dt.datetime | None = None) -> ApiKey | None:
        """Revoke a key (a revoked key keeps its first ``revoked_at``); the key after the
        step, or ``None`` if unknown."""
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(self._statements.REVOKE_API_KEY, {"id": key_id, "now": now})
            row = await cursor.fetchone()
        return None if row is None else rows.api_key_from_row(row)

    # --- wake-ups -------------------------------------------------------------------------

    def wakeups(self, queues: Sequence[str]) -> AsyncGenerator[None, None]:
        """Yield whenever new work may be runnable in ``queues``.

        The first wake-up comes at once, once the process's LISTEN connection is in
        place (at most 2 s). After that: at the commit of an enqueue, promotion,
        release, reap or manual retry of a job of these queues, from any process or
        machine (NOTIFY); and at least every second (the safety net, e.g. for
        scheduled jobs falling due). Spurious wake-ups happen. The iterator ends when
        the backend closes; close it (``aclose()``) to stop early.
        """
        wakeups = self._wakeups
        if wakeups is None:
            raise self._not_open()
        return wakeups.iterate(queues)


def _finish_document(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """FINISH_MANY's parameter: the outcomes as one JSON array of objects (keys left
    out are NULL).

    One JSON string instead of ten arrays: psycopg dumps a list element by element in
    Python, which was most of a worker's CPU per finished job. NUL, which PostgreSQL
    text cannot hold, becomes U+FFFD in reasons and errors, so that a handler's
    exception message cannot make its job's outcome unrecordable.
    """
    rows: list[dict[str, object]] = []
    for outcome in outcomes:
        state = JobState(outcome.state)
        if state not in _FINISH_STATES:
            raise ValueError(
                f"Outcome of job {outcome.job_id!r} moves it to {state!r}, but a running job "
                f"can only become one of {sorted(s.value for s in _FINISH_STATES)}"
            )
        row: dict[str, object] = {
            "id": outcome.job_id,
            "token": outcome.lease_token,
            "state": state.value,
            "reason": outcome.reason,
        }
        if state is JobState.SUCCEEDED and outcome.result_json is not None:
            row["result"] = outcome.result_json
        if outcome.retry_in > 0:
            row["retry_in"] = float(outcome.retry_in)
        error = outcome.error
        if error is not None:
            row["error"] = error.summary()
            row["error_type"] = error.type
            row["error_message"] = error.message
            row["traceback"] = error.traceback
        rows.append(row)
    document = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    if "\\u0000" in document:
        document = _without_nul(rows)
    return {"outcomes": document}


def _without_nul(rows: list[dict[str, object]]) -> str:
    """The document with NUL replaced in every text but the result (which is JSON and
    may escape NUL: only jsonb refuses it, and the column is json)."""
    for row in rows:
        for key, value in row.items():
            if key != "result" and isinstance(value, str):
                row[key] = value.replace("\x00", "\ufffd")
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
