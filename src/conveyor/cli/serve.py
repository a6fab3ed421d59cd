"""``conveyor serve``: the HTTP API and (unless ``--no-worker``) a worker, in one process
on one event loop.

Shutdown order on SIGTERM/SIGINT: the worker stops claiming and drains (a second signal
releases its running jobs at once), then the HTTP server stops, then the store is
closed. The API keeps answering while the worker drains, so status reads still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from conveyor.app import Conveyor
from conveyor.cli.common import cli, load_object, redact, store_options
from conveyor.cli.worker import _on_stop_signals, _setup_logging, _stopper

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

    from conveyor.worker.worker import Worker

log = logging.getLogger("conveyor.cli")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeOptions:
    """The parsed options of ``conveyor serve``."""

    app_spec: str
    url: str | None
    host: str
    port: int
    no_worker: bool
    insecure_no_auth: bool
    concurrency: int | None
    log_level: str


@cli.command()
@store_options(app_required=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--no-worker", is_flag=True, help="Serve the API only; run workers elsewhere.")
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Accept requests without an API key (only when binding 127.0.0.1/localhost).",
)
@click.option("--concurrency", type=click.IntRange(min=1), help="Jobs the worker runs at once.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
)
@click.pass_context
def serve(ctx: click.Context, /, **options: Any) -> None:
    """Serve the REST API (and run a worker) until SIGTERM/SIGINT.

    --app is a Conveyor app, or a FastAPI app made by conveyor.web.create_app (to
    serve your async endpoints too). Every request needs 'Authorization: Bearer KEY'
    (see 'conveyor keys create') unless --insecure-no-auth.
    """
    opts = ServeOptions(**options)
    if opts.insecure_no_auth and opts.host not in LOOPBACK:
        raise click.UsageError(
            f"--insecure-no-auth is only allowed when binding 127.0.0.1 or localhost, not "
            f"{opts.host!r}: create a key with 'conveyor keys create' instead"
        )
    app, web = _build(opts)
    _setup_logging(opts.log_level)
    if opts.insecure_no_auth:
        _warn_insecure(opts)
    ctx.exit(asyncio.run(_serve(app, web, opts)))


def _build(opts: ServeOptions) -> tuple[Conveyor, ASGIApp]:
    try:
        from conveyor.web import WebSettings, create_app
    except ImportError as exc:
        raise click.ClickException(
            f"conveyor serve needs the web extra ({exc}): pip install 'conveyor[web]'"
        ) from None
    target = load_object(opts.app_spec)
    if isinstance(target, Conveyor):
        app = target
        if opts.url is not None:
            app.configure(url=opts.url)
        return app, create_app(app, WebSettings.load(auth=not opts.insecure_no_auth))
    hosted = getattr(getattr(target, "state", None), "conveyor", None)
    if not isinstance(hosted, Conveyor):
        raise click.BadParameter(
            f"{opts.app_spec} is {type(target).__name__!r}: expected a Conveyor app, or a "
            "FastAPI app made by conveyor.web.create_app",
            param_hint="'--app'",
        )
    if opts.insecure_no_auth:
        raise click.UsageError(
            "--insecure-no-auth applies to a Conveyor --app; for your own FastAPI app, pass "
            "create_app(app, WebSettings(auth=False))"
        )
    if opts.url is not None:
        hosted.configure(url=opts.url)
    return hosted, target  # type: ignore[return-value]  # a FastAPI app is an ASGI app


def _warn_insecure(opts: ServeOptions) -> None:
    message = (
        f"AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach "
        f"{opts.host}:{opts.port} can submit, read, cancel and delete every job. "
        f"For development only."
    )
    click.secho(f"WARNING: {message}", fg="red", bold=True, err=True)
    log.warning(message)


async def _serve(app: Conveyor, web: ASGIApp, opts: ServeOptions) -> int:
    import uvicorn

    server = _server_class()(
        uvicorn.Config(
            web,
            host=opts.host,
            port=opts.port,
            log_config=None,  # our logging set-up, not uvicorn's
            log_level=opts.log_level,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
    )
    try:
        await app.open()  # a bad URL fails here with one line, before binding the port
        worker = None if opts.no_worker else app.worker(concurrency=opts.concurrency)
        stop = _stopper(worker) if worker is not None else _server_stopper(server)
        with _on_stop_signals(stop):
            log.info(
                "conveyor serve (pid %d): API on http://%s:%d (docs at /docs), store %s, %s",
                os.getpid(),
                opts.host,
                opts.port,
                redact(app.settings.url),
                "no worker"
                if worker is None
                else f"worker concurrency {worker.config.concurrency}",
            )
            started = await _run(server, worker)
    finally:
        await app.close()
    if not started:
        raise click.ClickException(f"could not serve HTTP on {opts.host}:{opts.port} (see above)")
    log.info("conveyor serve (pid %d) exited", os.getpid())
    return 0


async def _run(server: uvicorn.Server, worker: Worker | None) -> bool:
    """Run the server and the worker until both stop; return whether the server
    started. The worker stopping (signal) stops the server; the server failing to
    start stops the worker."""

    async def serve_http() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits this way when it cannot bind or start up
            pass
        finally:
            if worker is not None and not server.started:
                worker.stop()
                worker.stop()

    async def work(worker: Worker) -> None:
        try:
            await worker.run()
        finally:
            server.should_exit = True

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(serve_http())
        if worker is not None:
            tasks.create_task(work(worker))
    return bool(server.started)


def _server_stopper(server: uvicorn.Server) -> Callable[[int], None]:
    def on_signal(_signum: int) -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    return on_signal


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its own signal handling: ``serve`` owns the
        signals, so that the worker drains before the server stops."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server
