"""``problem_route(settings)``: the route class of every conveyor route.

It does two things per request, so that they hold wherever the routes are mounted (a
user's FastAPI app need not install our exception handlers):
- a route that takes a body accepts only JSON (415 otherwise, rather than FastAPI's
  puzzling 422 for a form-encoded body, which is what curl sends without ``-H``);
- the body is read through ``LimitedRequest``, which stops at ``max_body_bytes`` while
  reading (a declared ``Content-Length`` over the limit is refused before reading);
- any exception the route raises is turned into a problem details answer
  (``problems.problem_from``); only a genuine bug propagates, as a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from conveyor.web.problems import Problem, problem_from
from conveyor.web.settings import WebSettings


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"The request body is larger than {limit} bytes.")


class LimitedRequest(Request):
    """A request whose body may be at most ``limit`` bytes (checked while reading)."""

    limit: int = 1024 * 1024

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.limit:
                raise too_large(self.limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > self.limit:
                    raise too_large(self.limit)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The body as strict JSON: ``NaN``, ``Infinity`` and numbers that overflow to
        infinity are refused (Python's parser accepts them, and they would be stored as
        ``null``), as are invalid UTF-8, nesting too deep to parse and integers too long
        to convert. Each is a ``JSONDecodeError``, which FastAPI answers as 400."""
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
            except json.JSONDecodeError:
                raise
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
                raise json.JSONDecodeError(f"unparsable JSON: {exc}", "", 0) from None
        return self._json


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} does not fit a 64-bit float")
    return value


def problem_route(settings: WebSettings) -> type[APIRoute]:
    """An ``APIRoute`` class applying ``settings``' body limit and problem mapping."""

    class ProblemRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            takes_json = self.body_field is not None

            async def handle(request: Request) -> Response:
                limited = LimitedRequest(request.scope, request.receive)
                limited.limit = settings.max_body_bytes
                try:
                    if takes_json and not _is_json(request.headers.get("content-type")):
                        raise Problem(
                            415,
                            "unsupported-media-type",
                            "Send the body as JSON, with 'Content-Type: application/json'.",
                        )
                    return await handler(limited)
                except Exception as exc:
                    problem = problem_from(exc, retry_after=settings.retry_after)
                    if problem is None:
                        raise
                    return problem.response(instance=request.url.path)

            return handle

    return ProblemRoute


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, any parameters."""
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
