"""``create_router`` (mount the API into your FastAPI app) and ``create_app`` (a
standalone service: the API, ``/healthz``, ``/readyz``, ``/docs``, ``/openapi.json``).

No module globals: each call builds its own ``Service`` around the given conveyor app.
The standalone app's lifespan opens the store at start-up (a store that is down then
is only logged: requests answer 503 until it is back, and the app opens it then) and
closes it at shutdown unless told not to (``conveyor serve`` closes it itself, after
its workers have stopped).
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at runtime.

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from conveyor.app import Conveyor
from conveyor.errors import ConveyorError
from conveyor.web.problems import problem_from, problem_responses
from conveyor.web.routes_jobs import build_jobs_router
from conveyor.web.schemas import Health
from conveyor.web.service import Service
from conveyor.web.settings import WebSettings

log = logging.getLogger("conveyor.web")


def create_router(app: Conveyor, settings: WebSettings | None = None) -> APIRouter:
    """The REST API (``/v1/...``) of ``app`` as a router to ``include_router`` into an
    existing FastAPI app. Errors are problem details wherever it is mounted.
    ``settings`` defaults to ``WebSettings.load()`` (auth on)."""
    return build_jobs_router(Service(app, settings or WebSettings.load()))


def create_app(
    app: Conveyor,
    settings: WebSettings | None = None,
    *,
    close_store: bool = True,
    title: str = "conveyor",
) -> FastAPI:
    """A standalone ASGI app serving ``app``'s API, health checks and OpenAPI docs.

    ``web.state.conveyor`` is ``app`` (``conveyor serve --app`` accepts such an app, so
    you can add async endpoints to it). ``close_store=False`` leaves the store open at
    shutdown, for a caller that still uses it.
    """
    service = Service(app, settings or WebSettings.load())

    @contextlib.asynccontextmanager
    async def lifespan(_web: FastAPI) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(service.settings.store_timeout):
                await app.open()
        except (TimeoutError, ConveyorError) as exc:
            log.warning("the store is not available yet (%s); requests answer 503 until it is", exc)
        try:
            yield
        finally:
            if close_store:
                await app.close()

    web = FastAPI(title=title, version="1", lifespan=lifespan)
    web.state.conveyor = app
    web.include_router(build_jobs_router(service))
    web.include_router(_health_router(service))
    _install_problem_handlers(web, service.settings.retry_after)
    return web


def _health_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """The process is up (no store call)."""
        return Health(status="ok")

    @router.get("/readyz", response_model=Health, responses=problem_responses(503))
    async def readyz(request: Request) -> Response:
        """The store answers and its schema is current; 503 otherwise."""

        async def ping() -> None:
            await (await service.backend()).ping()

        try:
            await service.call(ping())
        except Exception as exc:
            problem = problem_from(exc, retry_after=service.settings.retry_after)
            if problem is None:
                raise
            return problem.response(instance=request.url.path)
        return JSONResponse({"status": "ok"})

    return router


def _install_problem_handlers(web: FastAPI, retry_after: int) -> None:
    """Problem details for what happens outside our routes (unknown path 404, wrong
    method 405) and for validation errors of user routes added to this app."""

    async def handle(request: Request, exc: Exception) -> Response:
        problem = problem_from(exc, retry_after=retry_after)
        if problem is None:  # pragma: no cover (both handled types map)
            raise exc
        return problem.response(instance=request.url.path)

    web.add_exception_handler(HTTPException, handle)
    web.add_exception_handler(RequestValidationError, handle)
