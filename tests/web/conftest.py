"""Fixtures of the HTTP tests: a real uvicorn server on 127.0.0.1 (a free port, in a
thread with its own event loop) serving a test app on a tmp SQLite file, API keys, and
a second ``Conveyor`` on the same file for the test's own reads, drains and setup."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from conveyor import Conveyor, Fail, JobContext
from conveyor.web import WebSettings, create_app
from conveyor.web.auth import issue_key
from tests.backends import conftest as backend_fixtures


class Add(BaseModel):
    a: int
    b: int


class Echo(BaseModel):
    text: str


def build_app(url: str) -> Conveyor:
    """The test app: the same job types in the server and in the test's own copy."""
    app = Conveyor(url, lease_seconds=5)

    @app.job("math.add")
    async def add(payload: Add) -> int:
        return payload.a + payload.b

    @app.job("always.fails", max_attempts=1)
    async def fails(payload: Echo) -> None:
        raise Fail(f"no: {payload.text}")

    @app.job("echo.request", queue="echo")
    async def echo(payload: Echo, ctx: JobContext) -> dict[str, object]:
        request = ctx.request
        assert request is not None
        return {
            "text": payload.text,
            "method": request.method,
            "path": request.path,
            "headers": dict(request.headers),
            "path_params": dict(request.path_params),
            "query_params": dict(request.query_params),
        }

    return app


@dataclass
class Keys:
    """Secrets of the keys created for a test."""

    admin: str
    acme: str
    globex: str


@dataclass
class Live:
    """A running server: its base URL, the test's own app on the same store (used
    through its portal loop only), keys."""

    url: str
    app: Conveyor
    keys: Keys
    server: uvicorn.Server
    store_url: str

    def client(self, key: str | None = "admin", **kwargs: object) -> httpx.Client:
        """A client sending ``key`` ('admin', 'acme', 'globex', a literal or None)."""
        secret = getattr(self.keys, key, key) if key is not None else None
        headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve_in_thread(web: FastAPI) -> Iterator[tuple[str, uvicorn.Server]]:
    """Run ``web`` under uvicorn on 127.0.0.1 (free port) in a thread until the block
    ends; yields the base URL once the server accepts connections."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the test server did not start")
            time.sleep(0.01)  # waiting on a fact (server.started), with a deadline
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def make_keys(app: Conveyor) -> Keys:
    async def create() -> Keys:
        secrets = []
        for tenant, admin in ((None, True), ("acme", False), ("globex", False)):
            issued = issue_key(tenant=tenant, admin=admin, name=f"test {tenant}")
            await app.open()
            await app.backend.create_api_key(issued.record)
            secrets.append(issued.secret)
        return Keys(*secrets)

    return app.portal.call(create())


StartServer = Callable[..., Live]


@contextlib.contextmanager
def server_factory(url: str) -> Iterator[StartServer]:
    """Start servers of the test app on the store at ``url``; stop them at the end."""
    own = build_app(url)
    keys = make_keys(own)
    with contextlib.ExitStack() as stack:

        def start(
            settings: WebSettings | None = None,
            customise: Callable[[FastAPI, Conveyor], None] | None = None,
        ) -> Live:
            served = build_app(url)
            web = create_app(served, settings or WebSettings(auth=True))
            if customise is not None:
                customise(web, served)
            base, server = stack.enter_context(serve_in_thread(web))
            return Live(url=base, app=own, keys=keys, server=server, store_url=url)

        try:
            yield start
        finally:
            stack.close()  # the servers first: they use the store
            own.portal.call(own.close())


#: The conformance suite's store fixture: the HTTP tests run on every store it serves
#: (each test gets a fresh store of its own), proving the service speaks only the protocol.
store_url = backend_fixtures.store_url


@pytest.fixture
def start_server(store_url: str) -> Iterator[StartServer]:
    """``start_server(settings=..., customise=fn)``: serve the test app (``customise``
    may add routes to the FastAPI app) on a fresh store and return a ``Live``."""
    with server_factory(store_url) as start:
        yield start


@pytest.fixture
def start_sqlite_server(tmp_path: Path) -> Iterator[StartServer]:
    """``start_server`` on a SQLite file at ``tmp_path / 'web.db'`` (for tests that
    reach into the file itself)."""
    with server_factory(f"sqlite:///{tmp_path / 'web.db'}") as start:
        yield start


@pytest.fixture
def live(start_server: StartServer) -> Live:
    """The test server with default settings (auth on)."""
    return start_server()
