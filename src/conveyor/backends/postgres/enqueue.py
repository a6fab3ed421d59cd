"""Enqueue on any psycopg connection: the store's pool, or a caller's own connection
inside its open transaction (transactional enqueue), async or sync.

One statement inserts the whole batch (``ENQUEUE_JOBS``, one JSON document; a single
job goes through ``ENQUEUE_ONE``, the same statement with scalar parameters): one round
trip and, on an autocommit connection, one commit. Only when a job of the batch carries
an idempotency key that was already taken does a second statement read the holders
(``FIND_BY_IDEMPOTENCY_KEYS``); on the store's own autocommit connections both then run
in one transaction, so the holder read is the one that blocked the insert.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from conveyor.backends import records
from conveyor.backends.base import Enqueued, NewJob
from conveyor.backends.postgres import rows
from conveyor.backends.postgres.queries import Statements
from conveyor.models import Job


def _insert(
    statements: Statements, jobs: Sequence[NewJob], now: dt.datetime | None
) -> tuple[str, dict[str, Any]]:
    """The insert statement for ``jobs`` and its bound values: ``ENQUEUE_ONE`` (scalars)
    for a single job, ``ENQUEUE_JOBS`` (arrays) otherwise."""
    for job in jobs:
        for name in ("run_at", "expire_at"):
            value = getattr(job, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must be an aware datetime (UTC), got the naive {value!r}")
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise ValueError(f"now must be an aware datetime (UTC), got the naive {now!r}")
    if len(jobs) == 1:
        job = jobs[0]
        return statements.ENQUEUE_ONE, {
            "now": now,
            "id": job.id,
            "type": job.type,
            "payload": job.payload_json,
            "meta": job.meta_json,
            "max_attempts": job.max_attempts,
            "queue": job.queue,
            "priority": job.priority,
            "tenant": job.tenant,
            "key": job.idempotency_key,
            "run_at": job.run_at,
            "expire_at": job.expire_at,
        }
    return statements.ENQUEUE_JOBS, {"now": now, "jobs": _document(jobs)}


def _document(jobs: Sequence[NewJob]) -> str:
    """ENQUEUE_JOBS's batch: one JSON array of objects (keys left out are NULL).

    One JSON string rather than eleven arrays: psycopg dumps arrays element by element
    in Python. Payload and meta travel as JSON strings holding their JSON text, so the
    column gets that text verbatim (a JSON ``null`` payload stays a JSON value).
    """
    rows: list[dict[str, object]] = []
    for job in jobs:
        row: dict[str, object] = {
            "id": job.id,
            "type": job.type,
            "payload": job.payload_json,
            "max_attempts": job.max_attempts,
            "queue": job.queue,
            "priority": job.priority,
        }
        if job.meta_json is not None:
            row["meta"] = job.meta_json
        if job.tenant is not None:
            row["tenant"] = job.tenant
        if job.idempotency_key is not None:
            row["idempotency_key"] = job.idempotency_key
        if job.run_at is not None:
            row["run_at"] = job.run_at.isoformat()
        if job.expire_at is not None:
            row["expire_at"] = job.expire_at.isoformat()
        rows.append(row)
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)


def _lookup_params(jobs: Sequence[NewJob], inserted: set[str]) -> dict[str, Any] | None:
    """Bound values of FIND_BY_IDEMPOTENCY_KEYS for the jobs not inserted, or ``None``."""
    missing = [job for job in jobs if job.id not in inserted]
    if not missing:
        return None
    return {
        "tenants": [job.tenant for job in missing],
        "keys": [job.idempotency_key for job in missing],
    }


def _results(
    jobs: Sequence[NewJob],
    inserted: dict[str, dt.datetime],
    holders: Sequence[dict[str, Any]],
) -> list[Enqueued]:
    by_key: dict[tuple[str, str], Job] = {}
    for row in holders:
        held = rows.job_from_row(row)
        by_key[(held.tenant or "", held.idempotency_key or "")] = held
    results: list[Enqueued] = []
    for job in jobs:
        created_at = inserted.get(job.id)
        if created_at is not None:
            results.append(
                Enqueued(records.job_from_new(job, created_at=created_at), existing=False)
            )
            continue
        holder = by_key.get((job.tenant or "", job.idempotency_key or ""))
        if holder is None:
            # Inserted earlier in this batch under the same key: the first one wins.
            first = next(
                j
                for j in jobs
                if j.id in inserted
                and (j.tenant or "", j.idempotency_key) == (job.tenant or "", job.idempotency_key)
            )
            holder = records.job_from_new(first, created_at=inserted[first.id])
        results.append(Enqueued(holder, existing=True))
    return results


def _needs_transaction(
    connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], jobs: Sequence[NewJob]
) -> bool:
    # Autocommit + idempotency keys: insert and holder read in one transaction. A
    # caller's connection is already in its own transaction (or autocommit by choice).
    return connection.autocommit and any(job.idempotency_key is not None for job in jobs)


async def enqueue_async(
    connection: psycopg.AsyncConnection[Any],
    statements: Statements,
    jobs: Sequence[NewJob],
    now: dt.datetime | None,
) -> list[Enqueued]:
    """Insert ``jobs`` on ``connection`` (see the module docstring)."""
    insert = _insert(statements, jobs, now)
    if _needs_transaction(connection, jobs):
        async with connection.transaction():
            return await _enqueue_async(connection, statements, jobs, insert)
    return await _enqueue_async(connection, statements, jobs, insert)


async def _enqueue_async(
    connection: psycopg.AsyncConnection[Any],
    statements: Statements,
    jobs: Sequence[NewJob],
    insert: tuple[str, dict[str, Any]],
) -> list[Enqueued]:
    cursor = await connection.execute(*insert)
    inserted = {row[0]: row[1] for row in await cursor.fetchall()}
    holders: list[dict[str, Any]] = []
    lookup = _lookup_params(jobs, set(inserted))
    if lookup is not None:
        reader = connection.cursor(row_factory=dict_row)
        await reader.execute(statements.FIND_BY_IDEMPOTENCY_KEYS, lookup)
        holders = await reader.fetchall()
    return _results(jobs, inserted, holders)


def enqueue_sync(
    connection: psycopg.Connection[Any],
    statements: Statements,
    jobs: Sequence[NewJob],
    now: dt.datetime | None,
) -> list[Enqueued]:
    """``enqueue_async`` on a synchronous connection."""
    insert = _insert(statements, jobs, now)
    if _needs_transaction(connection, jobs):
        with connection.transaction():
            return _enqueue_sync(connection, statements, jobs, insert)
    return _enqueue_sync(connection, statements, jobs, insert)


def _enqueue_sync(
    connection: psycopg.Connection[Any],
    statements: Statements,
    jobs: Sequence[NewJob],
    insert: tuple[str, dict[str, Any]],
) -> list[Enqueued]:
    cursor = connection.execute(*insert)
    inserted = {row[0]: row[1] for row in cursor.fetchall()}
    holders: list[dict[str, Any]] = []
    lookup = _lookup_params(jobs, set(inserted))
    if lookup is not None:
        reader = connection.cursor(row_factory=dict_row)
        reader.execute(statements.FIND_BY_IDEMPOTENCY_KEYS, lookup)
        holders = reader.fetchall()
    return _results(jobs, inserted, holders)
