"""What every store builds the same way: the job it just inserted, the jobs a SQL claim
returned, and listing cursors.

Pure: no I/O, no driver. Each store keeps its own cursor prefix, so a cursor from one
store is refused by another instead of resuming at a wrong place.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from conveyor.backends.base import ClaimedJob, NewJob
from conveyor.errors import InvalidCursorError
from conveyor.models import Job
from conveyor.states import JobState


def job_from_new(job: NewJob, *, created_at: dt.datetime) -> Job:
    """The ``Job`` a store just inserted for ``job`` at ``created_at`` (its "now"),
    built without reading it back: ``scheduled`` if it runs later, else ``queued``."""
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


def claimed_jobs(rows: Sequence[Sequence[Any]], lease_token: str) -> list[ClaimedJob]:
    """The jobs of a SQL claim (SQLite's and PostgreSQL's ``CLAIM_BATCH``), in claim
    order: priority high to low, then ``run_at``, then id (``RETURNING`` order is
    unspecified). Row layout: id, type, payload, attempts, max_attempts, queue,
    priority, tenant, idempotency_key, run_at, meta."""
    ordered = sorted(rows, key=lambda row: (-row[6], row[9], row[0]))
    return [
        ClaimedJob(
            id=row[0],
            type=row[1],
            payload_json=row[2],
            attempt=row[3],
            max_attempts=row[4],
            lease_token=lease_token,
            queue=row[5],
            priority=row[6],
            tenant=row[7],
            idempotency_key=row[8],
            meta_json=row[10],
        )
        for row in ordered
    ]


def encode_cursor(last_id: str, *, prefix: str) -> str:
    """The opaque cursor that resumes a listing after the job ``last_id``."""
    raw = (prefix + last_id).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, prefix: str) -> str:
    """The job id inside a cursor from ``encode_cursor`` with the same ``prefix``.

    Raises ``InvalidCursorError`` for anything else (altered, or from another store).
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise _invalid(cursor) from exc
    if not raw.startswith(prefix) or len(raw) == len(prefix):
        raise _invalid(cursor)
    return raw[len(prefix) :]


def _invalid(cursor: str) -> InvalidCursorError:
    return InvalidCursorError(
        f"Invalid cursor {cursor!r}: pass back the next_cursor of a previous page"
    )
