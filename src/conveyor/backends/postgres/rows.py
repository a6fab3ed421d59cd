"""Conversions between PostgreSQL rows and conveyor's models, and listing cursors.

Rows come from ``SELECT *`` on ``jobs`` as dicts (psycopg's ``dict_row``): ``json``
columns arrive decoded and ``timestamptz`` as aware datetimes (the connections run in
UTC). Listing cursors are opaque strings wrapping the last id of a page.
"""

from __future__ import annotations

from typing import Any

from conveyor.backends import records
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
    return records.encode_cursor(last_id, prefix=_CURSOR_PREFIX)


def decode_cursor(cursor: str) -> str:
    """The job id inside a cursor from ``encode_cursor``; raises ``InvalidCursorError``."""
    return records.decode_cursor(cursor, prefix=_CURSOR_PREFIX)
