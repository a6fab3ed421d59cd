"""Conversions between the Redis store's values and conveyor's models. Pure.

Timestamps are integer microseconds since the Unix epoch (strings in hashes) and come
out as aware UTC datetimes. Optional script arguments are encoded as ``''`` (none) or
``'=' + value`` so that an empty string stays distinguishable from none. Listing
cursors are opaque strings wrapping the last id of a page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from conveyor.backends import records
from conveyor.backends.base import ClaimedJob, NewJob, Outcome
from conveyor.models import ApiKey, Attempt, Event, Job, Page, Stats
from conveyor.states import JobState

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)
_CURSOR_PREFIX = "redis-job:"
#: The claim order key keeps priorities within 32 bits (see lib.lua claim_member).
PRIORITY_RANGE = range(-(2**31), 2**31)

#: The furthest a retry may be scheduled: timestamps must stay exact in Lua's doubles
#: (below 2**53 µs since 1970, in 2255).
MAX_RETRY_US = 2**52

#: The next states a worker may report for a running job.
FINISH_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.RETRYING, JobState.DEAD, JobState.CANCELLED, JobState.QUEUED}
)


def to_us(value: dt.datetime, *, name: str = "datetime") -> int:
    """Microseconds since the epoch of an aware datetime; ``ValueError`` if naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got the naive {value!r}")
    return (value - _EPOCH) // _ONE_US


def from_us(value: int | str) -> dt.datetime:
    """The aware UTC datetime of a stored timestamp (exact: no float on the way)."""
    return _EPOCH + dt.timedelta(microseconds=int(value))


def _optional_time(value: str | None) -> dt.datetime | None:
    return None if value is None else from_us(value)


def opt(value: str | None) -> str:
    """An optional script argument (see the module docstring)."""
    return "" if value is None else "=" + value


def as_hash(reply: Sequence[str] | dict[str, str]) -> dict[str, str]:
    """A ``HGETALL`` reply as a dict: scripts return a flat list, the command itself
    comes back from redis-py as a dict already."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def job_from_hash(fields: dict[str, str]) -> Job:
    """A ``Job`` from the fields of its hash."""
    result = fields.get("result")
    meta = fields.get("meta")
    return Job(
        id=fields["id"],
        type=fields["type"],
        state=JobState(fields["state"]),
        payload=json.loads(fields["payload"]),
        result=None if result is None else json.loads(result),
        error=fields.get("error"),
        reason=fields.get("reason"),
        attempts=int(fields["attempts"]),
        max_attempts=int(fields["max_attempts"]),
        queue=fields["queue"],
        priority=int(fields["priority"]),
        tenant=fields.get("tenant"),
        idempotency_key=fields.get("idempotency_key"),
        cancel_requested=fields.get("cancel_requested") == "1",
        created_at=from_us(fields["created_at"]),
        run_at=from_us(fields["run_at"]),
        started_at=_optional_time(fields.get("started_at")),
        finished_at=_optional_time(fields.get("finished_at")),
        expire_at=_optional_time(fields.get("expire_at")),
        lease_expires_at=_optional_time(fields.get("lease_expires_at")),
        worker_id=fields.get("worker_id"),
        meta={} if meta is None else json.loads(meta),
    )


def enqueue_args(job: NewJob) -> list[str]:
    """The 11 fields of one job in ``enqueue.lua``'s JSON argument. Raises ``ValueError`` for a
    priority outside 32 bits or a naive datetime."""
    if job.priority not in PRIORITY_RANGE:
        raise ValueError(
            f"priority {job.priority} of job {job.id!r} is out of range: the Redis store "
            f"orders priorities from {PRIORITY_RANGE.start} to {PRIORITY_RANGE.stop - 1}"
        )
    run_at = None if job.run_at is None else str(to_us(job.run_at, name="run_at"))
    expire_at = None if job.expire_at is None else str(to_us(job.expire_at, name="expire_at"))
    return [
        job.id,
        job.type,
        job.payload_json,
        job.queue,
        str(job.priority),
        str(job.max_attempts),
        opt(job.tenant),
        opt(job.idempotency_key),
        opt(run_at),
        opt(expire_at),
        opt(job.meta_json),
    ]


def finish_args(outcome: Outcome) -> list[str]:
    """The 10 fields of one outcome in ``finish.lua``'s JSON argument. Raises ``ValueError`` for a
    next state a running job cannot move to."""
    state = JobState(outcome.state)
    if state not in FINISH_STATES:
        raise ValueError(
            f"Outcome of job {outcome.job_id!r} moves it to {state!r}, but a running job can "
            f"only become one of {sorted(s.value for s in FINISH_STATES)}"
        )
    error = outcome.error
    result = outcome.result_json if state is JobState.SUCCEEDED else None
    retry_us = round(max(outcome.retry_in, 0.0) * 1_000_000) if state is JobState.RETRYING else 0
    if retry_us > MAX_RETRY_US:
        raise ValueError(
            f"Outcome of job {outcome.job_id!r} retries in {outcome.retry_in:g} s, past "
            f"what the Redis store can schedule (at most {MAX_RETRY_US // 10**6} s ahead)"
        )
    return [
        outcome.job_id,
        outcome.lease_token,
        state.value,
        outcome.reason,
        opt(result),
        opt(None if error is None else error.summary()),
        opt(None if error is None else error.type),
        opt(None if error is None else error.message),
        opt(None if error is None else error.traceback),
        str(retry_us),
    ]


def batch_json(rows: Sequence[Sequence[str]]) -> str:
    """Rows of script fields as one JSON argument (non-ASCII kept as UTF-8)."""
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


def claimed_from_row(row: Sequence[Any], token: str) -> ClaimedJob:
    """A ``ClaimedJob`` from one row of ``claim.lua``'s reply."""
    job_id, job_type, payload, attempt, max_attempts, queue, priority, tenant, key, meta = row
    return ClaimedJob(
        id=job_id,
        type=job_type,
        payload_json=payload,
        attempt=int(attempt),
        max_attempts=int(max_attempts),
        lease_token=token,
        queue=queue,
        priority=int(priority),
        tenant=tenant,
        idempotency_key=key,
        meta_json=meta,
    )


def attempt_from_json(job_id: str, raw: str) -> Attempt:
    """An ``Attempt`` from its JSON record (keys as written by lib.lua)."""
    record = json.loads(raw)
    finished = record.get("f")
    return Attempt(
        job_id=job_id,
        number=int(record["n"]),
        started_at=from_us(record["s"]),
        finished_at=None if finished is None else from_us(finished),
        outcome=record.get("o"),
        error_type=record.get("et"),
        error_message=record.get("em"),
        traceback=record.get("tb"),
        worker_id=record.get("w"),
    )


def event_from_json(raw: str) -> Event:
    """An ``Event`` from its JSON record (keys as written by lib.lua)."""
    record = json.loads(raw)
    state = record.get("s")
    data = record.get("d")
    return Event(
        id=int(record["i"]),
        job_id=record["j"],
        at=from_us(record["t"]),
        kind=record["k"],
        state=None if state is None else JobState(state),
        reason=record.get("r"),
        # cjson writes an empty table as {} but a table with a key as an object too;
        # an empty list would only come from an empty Lua table written as an array.
        data=data if isinstance(data, dict) else {},
    )


def stats_from_counts(counts: dict[str, str]) -> Stats:
    """``Stats`` from the ``counts`` hash (``<state>:<queue>`` -> jobs); every state
    appears in the totals and in each queue present."""
    totals = dict.fromkeys((state.value for state in JobState), 0)
    per_queue: dict[str, dict[str, int]] = {}
    for field, value in counts.items():
        state, _, queue = field.partition(":")
        number = int(value)
        if number <= 0:
            continue
        totals[state] += number
        if queue not in per_queue:
            per_queue[queue] = dict.fromkeys((s.value for s in JobState), 0)
        per_queue[queue][state] = number
    return Stats(states=totals, queues=per_queue)


def page_from_reply(reply: Sequence[Any], *, limit: int) -> Page[Job]:
    """The page of ``list_jobs.lua``'s reply (``{resume, job...}``, up to ``limit + 1``
    jobs: one more tells whether another page exists)."""
    resume: str | None = reply[0]
    items = [job_from_hash(as_hash(flat)) for flat in reply[1:]]
    if len(items) > limit:
        items = items[:limit]
        return Page[Job](items=items, next_cursor=encode_cursor(items[-1].id))
    return Page[Job](items=items, next_cursor=None if resume is None else encode_cursor(resume))


def api_key_from_hash(fields: dict[str, str]) -> ApiKey:
    """An ``ApiKey`` from the fields of its hash (the key hash is not among them)."""
    return ApiKey(
        id=fields["id"],
        tenant=fields.get("tenant"),
        admin=fields.get("admin") == "1",
        name=fields.get("name"),
        created_at=from_us(fields["created_at"]),
        revoked_at=_optional_time(fields.get("revoked_at")),
    )


def job_from_new(job: NewJob, *, now_us: int) -> Job:
    """The ``Job`` the enqueue script just stored for ``job``, built without reading it
    back (the script stores exactly these values)."""
    return records.job_from_new(job, created_at=from_us(now_us))


def encode_cursor(last_id: str) -> str:
    """The opaque cursor that resumes a listing after the job ``last_id``."""
    return records.encode_cursor(last_id, prefix=_CURSOR_PREFIX)


def decode_cursor(cursor: str) -> str:
    """The job id inside a cursor from ``encode_cursor``; ``InvalidCursorError`` for
    anything this backend did not produce."""
    return records.decode_cursor(cursor, prefix=_CURSOR_PREFIX)
