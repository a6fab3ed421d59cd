"""The request and response bodies of the REST API that are not ``conveyor.models``
types (jobs, attempts and stats are served as the Python API returns them)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from conveyor.models import Job

#: Strings the API stores or filters on may not contain NUL (U+0000): not every store can
#: hold one (PostgreSQL text and jsonb refuse it), so the edge refuses it everywhere.
NO_NUL = r"^[^\x00]*$"


class SubmitJob(BaseModel):
    """``POST /v1/jobs``: a job to enqueue. ``payload`` is validated against the job
    type's payload model. ``delay`` (seconds) and ``run_at`` schedule it later (not
    both). ``idempotency_key`` may also come as the ``Idempotency-Key`` header."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    payload: Any = None
    run_at: AwareDatetime | None = None
    delay: float | None = Field(default=None, ge=0, le=10 * 365 * 24 * 3600)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255, pattern=NO_NUL)
    max_attempts: int | None = Field(default=None, ge=1, le=1000)
    queue: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    priority: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)


class JobList(BaseModel):
    """One page of ``GET /v1/jobs``; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[Job]
    next_cursor: str | None = None


class JobTypeInfo(BaseModel):
    """A registered job type: its defaults and the JSON Schema of its payload."""

    name: str
    queue: str
    priority: int
    max_attempts: int
    timeout: float | None
    payload_schema: dict[str, Any]


class Health(BaseModel):
    """``/healthz`` and ``/readyz``."""

    status: str
