"""Wire types: what the Python API, the CLI and (later) the HTTP API hand out. Pure.

Payloads and results are JSON data (dicts, lists, numbers, strings, booleans, null).
All timestamps are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from conveyor.states import JobState

JobId = str
T = TypeVar("T")


class Job(BaseModel):
    """A job as the store holds it.

    ``attempts`` counts the attempts started so far (a run whose worker crashed counts).
    ``reason`` says why the job entered its current state: ``enqueued``, ``due``,
    ``claimed``, ``succeeded``, ``error``, ``timeout``, ``fail``, ``lease_expired``,
    ``released``, ``cancelled``, ``expired`` or ``manual_retry``. ``meta`` is a JSON
    object stored with the job and never interpreted by the store (the HTTP layer keeps
    the captured request there).
    """

    model_config = ConfigDict(frozen=True)

    id: JobId
    type: str
    state: JobState
    payload: Any
    result: Any = None
    error: str | None = None
    reason: str | None = None
    attempts: int = 0
    max_attempts: int
    queue: str
    priority: int = 0
    tenant: str | None = None
    idempotency_key: str | None = None
    cancel_requested: bool = False
    created_at: dt.datetime
    run_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    expire_at: dt.datetime | None = None
    lease_expires_at: dt.datetime | None = None
    worker_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Attempt(BaseModel):
    """One execution attempt of a job (kept as history).

    ``outcome`` is ``None`` while the attempt runs, then one of ``succeeded``,
    ``error``, ``timeout``, ``fail``, ``cancelled``, ``lease_expired`` or ``released``.
    """

    model_config = ConfigDict(frozen=True)

    job_id: JobId
    number: int
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    outcome: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    worker_id: str | None = None


class Event(BaseModel):
    """A lifecycle event: one per state transition, in store order (``id`` increases)."""

    model_config = ConfigDict(frozen=True)

    id: int
    job_id: JobId
    at: dt.datetime
    kind: str = "state"
    state: JobState | None = None
    reason: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


class Stats(BaseModel):
    """Job counts per state, in total and per queue."""

    model_config = ConfigDict(frozen=True)

    states: dict[str, int]
    queues: dict[str, dict[str, int]] = Field(default_factory=dict)


class ApiKey(BaseModel):
    """An API key of the HTTP service as stored: never the secret, and not its hash.

    ``tenant`` scopes what the key sees and changes; an ``admin`` key sees every tenant
    (its ``tenant``, if any, is the default for jobs it submits). A revoked key keeps its
    record (``revoked_at`` set) and no longer authenticates.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str | None = None
    admin: bool = False
    name: str | None = None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
