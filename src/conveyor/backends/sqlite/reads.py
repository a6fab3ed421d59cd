"""The read side of the SQLite backend: jobs, listings, attempts, events, counts.

Each function is one autocommitted ``SELECT`` (a consistent snapshot on its own) on the
store's connection, called on the backend's executor thread.
"""

from __future__ import annotations

import sqlite3

from conveyor.backends.base import JobQuery
from conveyor.backends.sqlite import queries
from conveyor.backends.sqlite.rows import (
    api_key_from_row,
    attempt_from_row,
    decode_cursor,
    encode_cursor,
    event_from_row,
    job_from_row,
)
from conveyor.models import ApiKey, Attempt, Event, Job, JobId, Page, Stats
from conveyor.states import JobState

# Above every job id: ids compare as UTF-8 bytes (BINARY collation) and this code point
# encodes as F4 8F BF BF, above any id that starts with another character.
_ABOVE_EVERY_ID = "\U0010ffff"


def get_job(connection: sqlite3.Connection, job_id: JobId) -> Job | None:
    """One job, or ``None``."""
    row = connection.execute(queries.GET_JOB, {"id": job_id}).fetchone()
    return None if row is None else job_from_row(row)


def list_cancel_requests(connection: sqlite3.Connection, ids_json: str) -> list[JobId]:
    """Of the running jobs in the JSON array ``ids_json``, those flagged for cancel."""
    return [row[0] for row in connection.execute(queries.LIST_CANCEL_REQUESTS, {"ids": ids_json})]


def list_jobs(connection: sqlite3.Connection, query: JobQuery) -> Page[Job]:
    """One page of jobs matching ``query``, newest first.

    Raises ``InvalidCursorError`` for a cursor this backend did not produce and
    ``ValueError`` for a limit below 1.
    """
    if query.limit < 1:
        raise ValueError(f"list limit must be at least 1, got {query.limit}")
    before = _ABOVE_EVERY_ID if query.cursor is None else decode_cursor(query.cursor)
    bound = {
        "state": None if query.state is None else JobState(query.state).value,
        "type": query.type,
        "queue": query.queue,
        "tenant": query.tenant,
        "idempotency_key": query.idempotency_key,
        "before": before,
        "limit": query.limit + 1,  # one more tells whether another page exists
    }
    # The most selective filter given drives the statement (and so the index).
    if query.idempotency_key is not None:
        statement = queries.LIST_JOBS_BY_IDEMPOTENCY_KEY
    elif query.tenant is not None:
        statement = queries.LIST_JOBS_BY_TENANT
    elif query.type is not None:
        statement = queries.LIST_JOBS_BY_TYPE
    elif query.state == JobState.QUEUED:
        statement = queries.LIST_QUEUED_JOBS  # jobs_state leaves queued and running out
    elif query.state == JobState.RUNNING:
        statement = queries.LIST_RUNNING_JOBS
    elif query.state is not None:
        statement = queries.LIST_JOBS_BY_STATE
    else:
        statement = queries.LIST_JOBS
    rows = connection.execute(statement, bound).fetchall()
    items = [job_from_row(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return Page[Job](items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


def list_attempts(connection: sqlite3.Connection, job_id: JobId) -> list[Attempt]:
    """The attempts of a job, oldest first (empty for an unknown job)."""
    rows = connection.execute(queries.LIST_ATTEMPTS, {"job_id": job_id}).fetchall()
    return [attempt_from_row(row) for row in rows]


def read_events(
    connection: sqlite3.Connection, after: int, job_id: JobId | None, limit: int
) -> list[Event]:
    """Events with ``id > after`` (of one job if given), oldest first, at most ``limit``."""
    if limit < 1:
        return []
    if job_id is None:
        bound: dict[str, object] = {"after": after, "limit": limit}
        rows = connection.execute(queries.READ_EVENTS, bound).fetchall()
    else:
        bound = {"after": after, "limit": limit, "job_id": job_id}
        rows = connection.execute(queries.READ_JOB_EVENTS, bound).fetchall()
    return [event_from_row(row) for row in rows]


def stats(connection: sqlite3.Connection) -> Stats:
    """Counts per state (every state present), in total and per queue."""
    totals = dict.fromkeys((state.value for state in JobState), 0)
    per_queue: dict[str, dict[str, int]] = {}
    for queue, state, count in connection.execute(queries.COUNT_JOBS_BY_QUEUE_AND_STATE):
        totals[state] += count
        if queue not in per_queue:
            per_queue[queue] = dict.fromkeys((state.value for state in JobState), 0)
        per_queue[queue][state] = count
    return Stats(states=totals, queues=per_queue)


def count_waiting(
    connection: sqlite3.Connection, queue: str | None, tenant: str | None, cap: int
) -> int:
    """Waiting jobs matching the filters, counted up to ``cap``."""
    if cap < 1:
        return 0
    if tenant is not None:
        bound: dict[str, object] = {"tenant": tenant, "queue": queue, "cap": cap}
        statement = queries.COUNT_WAITING_OF_TENANT
    elif queue is not None:
        bound = {"queue": queue, "cap": cap}
        statement = queries.COUNT_WAITING_IN_QUEUE
    else:
        bound = {"cap": cap}
        statement = queries.COUNT_WAITING
    count: int = connection.execute(statement, bound).fetchone()[0]
    return min(count, cap)


def ping(connection: sqlite3.Connection) -> None:
    """One read of the migrations table (fails if the schema is gone)."""
    connection.execute(queries.PING).fetchone()


def find_api_key(connection: sqlite3.Connection, key_hash: str) -> ApiKey | None:
    """The active key with this hash, or ``None``."""
    row = connection.execute(queries.FIND_ACTIVE_API_KEY, {"key_hash": key_hash}).fetchone()
    return None if row is None else api_key_from_row(row)


def list_api_keys(connection: sqlite3.Connection, tenant: str | None) -> list[ApiKey]:
    """Every key (of one tenant if given), oldest first."""
    if tenant is None:
        rows = connection.execute(queries.LIST_API_KEYS).fetchall()
    else:
        rows = connection.execute(queries.LIST_API_KEYS_OF_TENANT, {"tenant": tenant}).fetchall()
    return [api_key_from_row(row) for row in rows]
