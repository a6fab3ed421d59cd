"""RFC 9457 problem details: every error the HTTP service answers, in one place.

``Problem`` is the exception routes raise; ``problem_from`` maps anything else a route
can meet (``conveyor.errors`` types, FastAPI's request validation, Starlette's
``HTTPException``) to one, through one table. Nothing a client sends may end in a 500:
a malformed body is 400, an invalid one 422 with field paths, a store that does not
answer in time 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from conveyor.errors import (
    ConveyorError,
    InvalidCursorError,
    InvalidTransitionError,
    JobNotFoundError,
    PayloadValidationError,
    SchemaOutOfDateError,
    StoreError,
    UnknownJobTypeError,
)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://conveyor.invalid/problems/"


class FieldError(BaseModel):
    """One invalid field: ``loc`` is its path (``["payload", "width"]``, or
    ``["query", "limit"]`` outside the body); for a body field, ``pointer`` is the same
    path as a JSON Pointer into the request body."""

    loc: list[str | int]
    pointer: str | None = None
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """The body of every error answer (RFC 9457), as documented in the OpenAPI."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(HTTPException):
    """An error answer. ``slug`` names the problem type (``/problems/{slug}``);
    ``headers`` are sent with it (``Retry-After``); ``errors`` lists invalid fields.

    It is an ``HTTPException`` so that FastAPI lets it through unchanged when it is
    raised while the body is read (the 413 of ``routing.LimitedRequest``).
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(status, detail or slug, dict(headers or {}))
        self.status = status
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.problem_detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None

    def response(self, instance: str | None = None) -> JSONResponse:
        """The problem as a ``application/problem+json`` response."""
        body = ProblemDetails(
            type=TYPE_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=self.problem_detail,
            instance=instance,
            errors=self.errors,
        )
        return JSONResponse(
            body.model_dump(mode="json", exclude_none=True),
            status_code=self.status,
            headers=self.headers,
            media_type=MEDIA_TYPE,
        )


def unavailable(detail: str, retry_after: int) -> Problem:
    """503: the store did not answer (in time); try again after ``retry_after`` s."""
    return Problem(503, "store-unavailable", detail, headers={"Retry-After": str(retry_after)})


def field_errors(
    errors: Sequence[Mapping[str, Any]], prefix: Sequence[str | int] = (), *, in_body: bool = True
) -> list[FieldError]:
    """pydantic-style errors (``loc``, ``msg``, ``type``) as ``FieldError``s, with
    ``prefix`` put before each path (``("payload",)``); ``in_body`` adds pointers."""
    out = []
    for err in errors:
        loc = [*prefix, *(p if isinstance(p, int) else str(p) for p in err.get("loc", ()))]
        pointer = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)
        out.append(
            FieldError(
                loc=loc,
                pointer=(pointer if loc else "") if in_body else None,
                msg=str(err.get("msg", "")),
                type=str(err.get("type", "invalid")),
            )
        )
    return out


def problem_from(exc: Exception, *, retry_after: int) -> Problem | None:
    """The problem for an exception a route raised, or ``None`` if it is a bug (which
    must surface as one, not be disguised as a client error)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    if isinstance(exc, HTTPException):
        return Problem(
            exc.status_code,
            HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-"),
            str(exc.detail) if exc.detail else None,
            headers=exc.headers,
        )
    if isinstance(exc, ConveyorError):
        return _from_conveyor_error(exc, retry_after=retry_after)
    return None


def _from_validation(exc: RequestValidationError) -> Problem:
    errors: Sequence[Any] = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return Problem(400, "malformed-json", "The request body is not valid JSON.")
    # FastAPI locates body fields under "body"; their pointer is into the body itself.
    fields: list[FieldError] = []
    for err in errors:
        loc = list(err.get("loc", ()))
        in_body = loc[:1] == ["body"]
        fields += field_errors([{**err, "loc": loc[1:] if in_body else loc}], in_body=in_body)
    return Problem(
        422,
        "invalid-request",
        "The request does not match the API's schema; see errors.",
        errors=fields,
    )


def _from_conveyor_error(exc: ConveyorError, *, retry_after: int) -> Problem:
    if isinstance(exc, PayloadValidationError):
        return Problem(
            422, "invalid-payload", str(exc), errors=field_errors(exc.errors, ("payload",))
        )
    if isinstance(exc, UnknownJobTypeError):
        return Problem(422, "unknown-job-type", str(exc))
    if isinstance(exc, JobNotFoundError):
        return Problem(404, "job-not-found", str(exc))
    if isinstance(exc, InvalidTransitionError):
        return Problem(409, "wrong-state", str(exc))
    if isinstance(exc, InvalidCursorError):
        return Problem(400, "invalid-cursor", str(exc))
    if isinstance(exc, SchemaOutOfDateError):
        return unavailable(str(exc), retry_after)
    if isinstance(exc, StoreError):
        return unavailable(str(exc), retry_after)
    if isinstance(exc, ValueError):  # e.g. run_at and delay both given
        return Problem(422, "invalid-request", str(exc))
    return Problem(422, "invalid-request", str(exc))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting these statuses as problem details."""
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }
