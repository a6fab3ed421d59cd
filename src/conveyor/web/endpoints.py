"""``async_endpoint``: turn a POST route into a background job (the AsyncEndpoints seed).

The request body is validated against the job type's payload model (422 with field
errors), an optional ``validate`` hook may reject it before anything is queued, and the
answer is 202 with the job and ``Location`` pointing at its resource. The handler sees
the request that submitted it as ``ctx.request``: method, path, headers, path and query
parameters, captured into the job's ``meta`` with ``Authorization``, ``Cookie``,
``Proxy-Authorization`` and the configured headers redacted. Idempotency-Key and
backpressure work as on ``POST /v1/jobs`` (``submit.py``).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's signature.

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request
from starlette.responses import JSONResponse, Response

from conveyor.jobs import EnqueueOptions, JobType
from conveyor.models import Job
from conveyor.web.problems import problem_responses
from conveyor.web.routing import problem_route
from conveyor.web.service import Service
from conveyor.web.settings import WebSettings
from conveyor.web.submit import submit

#: ``validate(payload, request)``: return ``None`` to queue the job, or a ``Response`` to
#: answer with instead; or raise ``conveyor.web.Problem`` (or ``HTTPException``).
Validator = Callable[[Any, Request], Response | Awaitable[Response | None] | None]

REDACTED = "[redacted]"


def async_endpoint(
    target: APIRouter | FastAPI,
    path: str,
    *,
    job: JobType[Any, Any],
    validate: Validator | None = None,
    settings: WebSettings | None = None,
    location: str = "/v1/jobs/{id}",
    name: str | None = None,
    tenant: Callable[[Request], str | None] | None = None,
) -> None:
    """Add ``POST path`` to ``target``: validate the body as ``job``'s payload, run
    ``validate``, enqueue the job with the captured request, answer 202 + ``Location``
    (``location`` formatted with the job's ``id``; point it where the API is mounted).

    The route answers 200 with the earlier job for a repeated ``Idempotency-Key`` with
    the same body, 422 for the same key with a different body, 429 under backpressure
    and 503 while the store is unavailable, all as problem details. Authentication is
    the host app's (add dependencies to ``target``).
    """
    service = Service(job.app, settings or WebSettings.load(auth=False))
    redacted = service.settings.redacted

    async def endpoint(request: Request, payload: Any) -> Response:
        if validate is not None:
            verdict = validate(payload, request)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if isinstance(verdict, Response):
                return verdict
        options = EnqueueOptions(
            idempotency_key=_idempotency_key(request),
            tenant=None if tenant is None else tenant(request),
            meta={"request": capture(request, redacted)},
        )
        result = await submit(service, job, payload, options)
        return JSONResponse(
            result.job.model_dump(mode="json"),
            status_code=202 if result.created else 200,
            headers={"Location": location.format(id=result.job.id)},
        )

    payload_type = job.payload_type
    body_default = inspect.Parameter.empty if payload_type is not Any else None
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # FastAPI reads it
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            inspect.Parameter(
                "payload",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[payload_type, Body()],
                default=body_default,
            ),
        ],
        return_annotation=Response,
    )
    router = target.router if isinstance(target, FastAPI) else target
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        status_code=202,
        response_model=Job,
        responses={
            200: {"model": Job, "description": "Same Idempotency-Key and body as before"},
            **problem_responses(400, 413, 415, 422, 429, 503),
        },
        name=name or f"async:{job.name}",
        summary=f"Run {job.name} in the background",
        route_class_override=problem_route(service.settings),
    )


def capture(request: Request, redacted: frozenset[str]) -> dict[str, Any]:
    """The parts of ``request`` a handler may read as ``ctx.request`` (JSON data)."""
    headers = {
        name: REDACTED if name in redacted else value for name, value in request.headers.items()
    }
    return {
        "method": request.method,
        "path": _text(request.url.path),
        "headers": headers,
        "path_params": {_text(k): _text(str(v)) for k, v in request.path_params.items()},
        "query_params": {_text(k): _text(v) for k, v in request.query_params.items()},
    }


def _text(value: str) -> str:
    """``value`` without NUL, which a percent-encoded path or query may carry and not
    every store can hold (``schemas.NO_NUL``); U+FFFD marks where one was."""
    return value.replace("\x00", "\ufffd")


def _idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    return raw or None
