"""Conversions between PostgreSQL rows and conveyor's models, and listing cursors.

Rows come from ``SELECT *`` on ``jobs`` as dicts (psycopg's ``dict_row``): ``json``
columns arrive decoded and ``timestamptz`` as aware datetimes (the connections run in
UTC). Listing cursors are opaque strings wrapping the last id of a page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from conveyor.backends.base import NewJob
from conveyor.errors import InvalidCursorError
from conveyor.models import ApiKey, Attempt, Event, Job
from conveyor.states import JobState

_CURSOR_PREFIX = "job:"


def job_from_row(row: dict[str, Any]) -> Job:
    """A ``Job`` from a ``SELECT * FROM jobs`` row."""
    return Job(
        id=row["id"],
        type=row["type"],
        state=JobState(row["state"]),
        payload=row["payload"],
        result=row["result"],
        meta=row["meta"] or {},
        error=row["error"],
        reason=row["reason"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        queue=row["queue"],
        priority=row["priority"],
        tenant=row["tenant"],
        idempotency_key=row["idempotency_key"],
        cancel_requested=row["cancel_requested"],
        created_at=row["created_at"],
        run_at=row["run_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        expire_at=row["expire_at"],
        lease_expires_at=row["lease_expires_at"],
        worker_id=row["worker_id"],
    )


def job_from_new(job: NewJob, *, created_at: dt.datetime) -> Job:
    """The ``Job`` that ``ENQUEUE_JOBS`` just stored for ``job`` at ``created_at`` (the
    statement's now), built without reading it back."""
    run_at = created_at if job.run_at is None else job.run_at.astimezone(dt.UTC)
    return Job(
        id=job.id,
        type=job.type,
        state=JobState.SCHEDULED if run_at > created_at else JobState.QUEUED,
        payload=json.loads(job.payload_json),
        meta={} if job.meta_json is None else json.loads(job.meta_json),
        reason="enqueued",
        max_attempts=job.max_attempts,
        queue=job.queue,
        priority=job.priority,
        tenant=job.tenant,
        idempotency_key=job.idempotency_key,
        created_at=created_at,
        run_at=run_at,
        expire_at=None if job.expire_at is None else job.expire_at.astimezone(dt.UTC),
    )


def attempt_from_row(row: dict[str, Any]) -> Attempt:
    """An ``Attempt`` from a ``LIST_ATTEMPTS`` row."""
    return Attempt(**row)


def event_from_row(row: dict[str, Any]) -> Event:
    """An ``Event`` from a ``READ_EVENTS`` row."""
    state = row["state"]
    return Event(
        id=row["id"],
        job_id=row["job_id"],
        at=row["at"],
        kind=row["kind"],
        state=None if state is None else JobState(state),
        reason=row["reason"],
        data=row["data"],
    )


def api_key_from_row(row: dict[str, Any]) -> ApiKey:
    """An ``ApiKey`` from a row of the API key statements."""
    return ApiKey(**row)


def encode_cursor(last_id: str) -> str:
    """The opaque cursor that resumes a listing after the job ``last_id``."""
    raw = (_CURSOR_PREFIX + last_id).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The job id inside a cursor from ``encode_cursor``; raises ``InvalidCursorError``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidCursorError(
            f"Invalid cursor {cursor!r}: pass back the next_cursor of a previous page"
        ) from exc
    if not raw.startswith(_CURSOR_PREFIX) or len(raw) == len(_CURSOR_PREFIX):
        raise InvalidCursorError(
            f"Invalid cursor {cursor!r}: pass back the next_cursor of a previous page"
        )
    return raw[len(_CURSOR_PREFIX) :]
