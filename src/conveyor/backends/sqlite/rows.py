"""Conversions between SQLite rows and conveyor's models.

Timestamps are stored as INTEGER microseconds since the Unix epoch and come out as
aware UTC datetimes; JSON columns come out decoded. Listing cursors are opaque
strings wrapping the last id of a page.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from conveyor.backends import records
from conveyor.backends.base import NewJob
from conveyor.models import ApiKey, Attempt, Event, Job
from conveyor.states import JobState

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)
_CURSOR_PREFIX = "job:"


def to_us(value: dt.datetime, *, name: str = "datetime") -> int:
    """Microseconds since the epoch of an aware datetime. Raises ``ValueError`` for a
    naive one (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got the naive {value!r}")
    return (value - _EPOCH) // _ONE_US


def optional_to_us(value: dt.datetime | None, *, name: str) -> int | None:
    return None if value is None else to_us(value, name=name)


def from_us(value: int) -> dt.datetime:
    """The aware UTC datetime of a stored timestamp (exact: no float on the way)."""
    return _EPOCH + dt.timedelta(microseconds=value)


def optional_from_us(value: int | None) -> dt.datetime | None:
    return None if value is None else _EPOCH + dt.timedelta(microseconds=value)


def job_from_row(row: sqlite3.Row) -> Job:
    """A ``Job`` from a ``SELECT * FROM jobs`` row."""
    result = row["result"]
    meta = row["meta"]
    return Job(
        id=row["id"],
        type=row["type"],
        state=JobState(row["state"]),
        payload=json.loads(row["payload"]),
        result=None if result is None else json.loads(result),
        error=row["error"],
        reason=row["reason"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        queue=row["queue"],
        priority=row["priority"],
        tenant=row["tenant"],
        idempotency_key=row["idempotency_key"],
        cancel_requested=bool(row["cancel_requested"]),
        created_at=from_us(row["created_at"]),
        run_at=from_us(row["run_at"]),
        started_at=optional_from_us(row["started_at"]),
        finished_at=optional_from_us(row["finished_at"]),
        expire_at=optional_from_us(row["expire_at"]),
        lease_expires_at=optional_from_us(row["lease_expires_at"]),
        worker_id=row["worker_id"],
        meta={} if meta is None else json.loads(meta),
    )


def api_key_from_row(row: sqlite3.Row) -> ApiKey:
    """An ``ApiKey`` from a row of the API key statements."""
    return ApiKey(
        id=row["id"],
        tenant=row["tenant"],
        admin=bool(row["admin"]),
        name=row["name"],
        created_at=from_us(row["created_at"]),
        revoked_at=optional_from_us(row["revoked_at"]),
    )


def attempt_from_row(row: sqlite3.Row) -> Attempt:
    """An ``Attempt`` from a ``LIST_ATTEMPTS`` row."""
    return Attempt(
        job_id=row["job_id"],
        number=row["number"],
        started_at=from_us(row["started_at"]),
        finished_at=optional_from_us(row["finished_at"]),
        outcome=row["outcome"],
        error_type=row["error_type"],
        error_message=row["error_message"],
        traceback=row["traceback"],
        worker_id=row["worker_id"],
    )


def event_from_row(row: sqlite3.Row) -> Event:
    """An ``Event`` from a ``READ_EVENTS`` row."""
    state = row["state"]
    data: dict[str, Any] = json.loads(row["data"])
    return Event(
        id=row["id"],
        job_id=row["job_id"],
        at=from_us(row["at"]),
        kind=row["kind"],
        state=None if state is None else JobState(state),
        reason=row["reason"],
        data=data,
    )


def job_from_new(job: NewJob, *, now_us: int) -> Job:
    """The ``Job`` that ``ENQUEUE_JOB`` just stored for ``job``, built without reading
    it back (the values are exactly those bound into the insert)."""
    return records.job_from_new(job, created_at=from_us(now_us))


def encode_cursor(last_id: str) -> str:
    """The opaque cursor that resumes a listing after the job ``last_id``."""
    return records.encode_cursor(last_id, prefix=_CURSOR_PREFIX)


def decode_cursor(cursor: str) -> str:
    """The job id inside a cursor from ``encode_cursor``.

    Raises ``InvalidCursorError`` for anything this backend did not produce.
    """
    return records.decode_cursor(cursor, prefix=_CURSOR_PREFIX)
