"""conveyor's HTTP service (install with ``pip install conveyor[web]``).

- ``create_app(app)``: a standalone FastAPI app with the REST API under ``/v1``,
  ``/healthz``, ``/readyz`` and OpenAPI docs;
- ``create_router(app)``: the same API to mount into an existing FastAPI app;
- ``async_endpoint(router_or_app, path, job=...)``: a POST route that answers 202 and
  runs a job in the background;
- ``WebSettings``: auth, body limit, store timeout, backpressure, redaction.
"""

from conveyor.web.app import create_app, create_router
from conveyor.web.auth import Principal
from conveyor.web.endpoints import async_endpoint
from conveyor.web.problems import Problem
from conveyor.web.settings import WebSettings

__all__ = [
    "Principal",
    "Problem",
    "WebSettings",
    "async_endpoint",
    "create_app",
    "create_router",
]
