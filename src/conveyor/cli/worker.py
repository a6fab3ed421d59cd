"""``conveyor worker``: one worker process, or N under a supervisor, with signals wired
to a graceful stop (a second signal releases running jobs at once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler

from conveyor.app import Conveyor
from conveyor.cli.common import cli, make_app, redact, run, store_options
from conveyor.worker.supervisor import Supervisor, SupervisorConfig
from conveyor.worker.worker import Worker

log = logging.getLogger("conveyor.cli")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    """The parsed options of ``conveyor worker``."""

    app_spec: str
    url: str | None
    concurrency: int | None
    processes: int
    queues: tuple[str, ...] | None
    lease_seconds: float | None
    shutdown_timeout: float | None
    burst: bool
    supervised: bool
    log_level: str


def _split_queues(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    if value is None:
        return None
    queues = tuple(name.strip() for name in value.split(",") if name.strip())
    if not queues:
        raise click.BadParameter("name at least one queue, e.g. --queues default,emails")
    return queues


@cli.command()
@store_options(app_required=True)
@click.option("--concurrency", type=click.IntRange(min=1), help="Jobs run at once per process.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; more than 1 runs them under a supervisor that restarts them.",
)
@click.option(
    "--queues",
    callback=_split_queues,
    metavar="A,B",
    help="Queues to serve (default: every queue of the app's job types).",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="How long a crashed worker's jobs wait to run again (heartbeat: a third, <= 10s).",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    help="On SIGTERM, how long running jobs may finish before their leases are released.",
)
@click.option("--burst", is_flag=True, help="Exit 0 once no job is runnable.")
@click.option("--supervised", is_flag=True, hidden=True)  # set by the supervisor: see _serve
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
)
@click.pass_context
def worker(ctx: click.Context, /, **options: Any) -> None:
    """Run jobs until SIGTERM/SIGINT (a second signal releases running jobs at once)."""
    opts = WorkerOptions(**options)
    app = make_app(opts.app_spec, opts.url)
    app.configure(lease_seconds=opts.lease_seconds, shutdown_timeout=opts.shutdown_timeout)
    _setup_logging(opts.log_level)
    if opts.processes > 1:
        ctx.exit(_supervise(app, opts))
    ctx.exit(asyncio.run(_serve(app, opts)))


async def _serve(app: Conveyor, opts: WorkerOptions) -> int:
    running = app.worker(queues=opts.queues, concurrency=opts.concurrency, burst=opts.burst)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_on_stop_signals(_stopper(running)))
            if opts.supervised:
                stack.enter_context(_stop_when_supervisor_exits(running))
            await app.open()
            _log_start(app, running, burst=opts.burst)
            await running.run()
    finally:
        await app.close()
    log.info("conveyor worker (pid %d) exited", os.getpid())
    return 0


def _log_start(app: Conveyor, running: Worker, *, burst: bool) -> None:
    settings = app.settings
    log.info(
        "conveyor worker (pid %d) starting: store %s, concurrency %d, lease %gs "
        "(heartbeat %gs), shutdown timeout %gs%s",
        os.getpid(),
        redact(settings.url),
        running.config.concurrency,
        settings.lease_seconds,
        settings.heartbeat_seconds,
        settings.shutdown_timeout,
        ", burst" if burst else "",
    )


def _stopper(running: Worker) -> Callable[[int], None]:
    received = 0

    def on_signal(signum: int) -> None:
        nonlocal received
        received += 1
        running.stop()  # before logging: once the line shows, no new job is claimed
        name = signal.Signals(signum).name
        if received == 1:
            log.info(
                "%s: no new jobs; running jobs get up to %gs to finish (send it again to "
                "release them now)",
                name,
                running.config.shutdown_timeout,
            )
        else:
            log.warning("%s again: releasing running jobs now", name)

    return on_signal


@contextlib.contextmanager
def _on_stop_signals(stop: Callable[[int], None]) -> Iterator[None]:
    """Call ``stop(signum)`` on SIGTERM/SIGINT while the block runs (in the loop)."""
    loop = asyncio.get_running_loop()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        yield
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def _stop_when_supervisor_exits(running: Worker) -> Iterator[None]:
    """Stop the worker when stdin reaches EOF: the supervisor holds the only write end
    of that pipe, so EOF means it died (even by SIGKILL) and nobody forwards signals."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def on_readable() -> None:
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            log.warning("the supervisor went away; stopping")
            running.stop()

    loop.add_reader(fd, on_readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)


def _supervise(app: Conveyor, opts: WorkerOptions) -> int:
    # Open the store once here: a bad URL or directory fails with one clear line instead
    # of N crashing children, and an embedded store is migrated before they race to it.
    run(app, app.open)
    config = SupervisorConfig(
        command=_child_command(opts),
        processes=opts.processes,
        burst=opts.burst,
        kill_after=app.settings.shutdown_timeout + 10.0,
    )
    return asyncio.run(_run_supervisor(config))


async def _run_supervisor(config: SupervisorConfig) -> int:
    supervisor = Supervisor(config)
    with _on_stop_signals(supervisor.stop):
        code = await supervisor.run()
    if supervisor.failure is not None:
        raise click.ClickException(supervisor.failure)
    return code


def _child_command(opts: WorkerOptions) -> list[str]:
    """The ``conveyor worker`` command line of one supervised process."""
    command = [sys.executable, "-m", "conveyor", "worker", "--app", opts.app_spec]
    command += ["--processes", "1", "--supervised", "--log-level", opts.log_level]
    optional: dict[str, object] = {
        "--url": opts.url,
        "--concurrency": opts.concurrency,
        "--queues": ",".join(opts.queues) if opts.queues else None,
        "--lease-seconds": opts.lease_seconds,
        "--shutdown-timeout": opts.shutdown_timeout,
    }
    for flag, value in optional.items():
        if value is not None:
            command += [flag, str(value)]
    if opts.burst:
        command.append("--burst")
    return command


def _setup_logging(level: str) -> None:
    """Log to stderr: rich on a terminal, plain lines otherwise (files, journald, tests).
    Does nothing if the app's module configured logging itself."""
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(console=Console(stderr=True), show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
