"""Submitting a job over HTTP: idempotency, backpressure, then one insert.

Shared by ``POST /v1/jobs`` and async endpoints. The order matters:
1. validate and prepare the job (no I/O; a bad payload stores nothing);
2. with an idempotency key already used by this tenant, answer with that job (the same
   request) or 422 (a different one), before any limit applies: a client retrying a
   submission that was stored must get its job back, not a 429;
3. backpressure: if the queue or the tenant already holds the maximum of waiting jobs,
   answer 429 with ``Retry-After`` and store nothing. The count and the insert are two
   steps, so concurrent submissions can overshoot the limit by at most their number;
4. insert. A concurrent submission with the same key that won the race is detected by
   the id the store returns (the store's unique (tenant, key) constraint decides).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from conveyor.backends.base import NewJob
from conveyor.errors import ConfigurationError, PayloadValidationError
from conveyor.jobs import EnqueueOptions, JobType
from conveyor.models import Job
from conveyor.web.problems import Problem
from conveyor.web.service import Service

#: A NUL escape in JSON text: ``\u0000`` after an even number of backslashes (an odd
#: number would make it the literal text "\u0000").
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The job a submission answers with; ``created`` is false when an earlier
    submission with the same idempotency key had stored it."""

    job: Job
    created: bool


async def submit(
    service: Service, job_type: JobType[Any, Any], payload: Any, options: EnqueueOptions
) -> Submitted:
    """Run the steps of the module docstring. Raises ``Problem`` (422, 429, 503) or
    ``PayloadValidationError``."""
    try:
        new = job_type.prepare(payload, options)
    except PayloadValidationError:
        raise  # mapped with its field paths by problems.py
    except (ValueError, ConfigurationError) as exc:  # delay with run_at, max_attempts < 1...
        raise Problem(422, "invalid-request", str(exc)) from None
    if _ESCAPED_NUL.search(new.payload_json):  # see schemas.NO_NUL
        raise Problem(
            422, "invalid-payload", "Strings in the payload may not contain NUL (U+0000)."
        )
    if new.idempotency_key is not None:
        earlier = await _find_by_key(service, new.tenant, new.idempotency_key)
        if earlier is not None:
            return Submitted(_same_request(earlier, new), created=False)
    await _check_backpressure(service, new)
    stored = (await service.call(service.app.submit([new])))[0]
    if stored.id != new.id:
        return Submitted(_same_request(stored, new), created=False)
    return Submitted(stored, created=True)


async def _find_by_key(service: Service, tenant: str | None, key: str) -> Job | None:
    page = await service.call(service.app.list(tenant=tenant, idempotency_key=key, limit=10))
    # tenant=None filters nothing in the store; keys are scoped per tenant, so keep
    # only the job of exactly this tenant.
    return next((job for job in page.items if job.tenant == tenant), None)


def _same_request(earlier: Job, new: NewJob) -> Job:
    """``earlier`` if ``new`` asks for the same job, else a 422 (IETF Idempotency-Key:
    a key reused with a different payload is a client error)."""
    if earlier.type == new.type and earlier.payload == json.loads(new.payload_json):
        return earlier
    raise Problem(
        422,
        "idempotency-key-reused",
        f"Idempotency key {new.idempotency_key!r} was already used for a different request "
        f"(job {earlier.id}); use a new key for a new request.",
    )


async def _check_backpressure(service: Service, new: NewJob) -> None:
    settings = service.settings
    backend = await service.call(service.backend())
    limit = settings.max_waiting_per_queue
    if limit is not None:
        waiting = await service.call(backend.count_waiting(queue=new.queue, cap=limit))
        if waiting >= limit:
            raise _busy(
                f"Queue {new.queue!r} already holds {limit} waiting jobs.", settings.retry_after
            )
    limit = settings.max_waiting_per_tenant
    if limit is not None and new.tenant is not None:
        waiting = await service.call(backend.count_waiting(tenant=new.tenant, cap=limit))
        if waiting >= limit:
            raise _busy(
                f"Tenant {new.tenant!r} already has {limit} waiting jobs.", settings.retry_after
            )


def _busy(detail: str, retry_after: int) -> Problem:
    return Problem(
        429,
        "too-many-waiting-jobs",
        f"{detail} Nothing was stored; try again later.",
        headers={"Retry-After": str(max(retry_after, 1))},
    )
