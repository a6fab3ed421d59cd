"""The ``conveyor`` command line: run workers, enqueue and inspect jobs, migrate the store.

Every command finds its store as the app does: ``--url`` if given, else the ``--app``'s
own settings, which read ``CONVEYOR_URL`` (default ``sqlite:///conveyor.db``).
``--app module:attribute`` (or ``CONVEYOR_APP``) imports a ``Conveyor`` object, with
the current directory on ``sys.path`` as uvicorn does; with ``--url`` too, the app's
job types run against that store.

This is a thin surface: it parses, calls the app and renders. User errors (any
``ConveyorError``, a malformed JSON argument, a bad ``--app``, a usage error) print
one line, ``error: ...``, on stderr and exit 1, or 2 for usage errors (click's
convention). Only a genuine bug shows a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from conveyor.app import Conveyor
from conveyor.errors import ConveyorError
from conveyor.models import Job, Stats
from conveyor.states import JobState
from conveyor.worker.supervisor import Supervisor, SupervisorConfig
from conveyor.worker.worker import Worker

log = logging.getLogger("conveyor.cli")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_STATE_STYLES = {
    JobState.SUCCEEDED: "green",
    JobState.RUNNING: "cyan",
    JobState.RETRYING: "yellow",
    JobState.DEAD: "red",
    JobState.CANCELLED: "dim",
}


# -- entry point and errors ----------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command line (the ``conveyor`` script and ``python -m conveyor``)."""
    try:
        result = cli.main(args=argv, prog_name="conveyor", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # plain `conveyor`: the help text, not an error line
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _exit_with_error(_click_message(exc), exc.exit_code)
    except click.Abort:
        _exit_with_error("interrupted", 130)
    except ConveyorError as exc:
        _exit_with_error(str(exc), 1)
    except ExceptionGroup as group:
        # A worker's TaskGroup wraps a store failure; show it like any other user error.
        errors, rest = group.split(ConveyorError)
        if errors is None or rest is not None:
            raise
        _exit_with_error("; ".join(str(e) for e in _leaves(errors)), 1)
    sys.exit(result if isinstance(result, int) else 0)


def _exit_with_error(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _click_message(exc: click.ClickException) -> str:
    message = exc.format_message()
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


def _leaves(group: BaseExceptionGroup[ConveyorError]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


# -- finding the app and the store ---------------------------------------------------


def load_app(spec: str) -> Conveyor:
    """Import ``module:attribute`` (the attribute may be dotted) with the current
    directory on ``sys.path``, and check that it is a ``Conveyor``.

    Raises ``click.BadParameter`` naming what is wrong. Errors raised by the module's
    own code other than imports (a ``SyntaxError``, say) propagate: they are bugs to
    see in full.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise _bad_app(f"expected MODULE:ATTRIBUTE such as 'myproject.jobs:app', got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        target: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):
            raise _bad_app(f"no module named {exc.name!r} (looked in {cwd} and sys.path)") from None
        raise _bad_app(f"importing {module_name!r} failed: {exc}") from None
    except ImportError as exc:
        raise _bad_app(f"importing {module_name!r} failed: {exc}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise _bad_app(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(target, Conveyor):
        raise _bad_app(f"{spec} is {type(target).__name__!r}, not a Conveyor app")
    return target


def _bad_app(message: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint="'--app'")


def _make_app(app_spec: str | None, url: str | None) -> Conveyor:
    """The ``--app``'s Conveyor (re-pointed at ``--url`` if given), or a bare one."""
    if app_spec is None:
        return Conveyor(url)
    app = load_app(app_spec)
    if url is not None:
        app.configure(url=url)
    return app


def _run(app: Conveyor, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` in a fresh event loop and close the app's store afterwards."""

    async def run_and_close() -> T:
        try:
            return await work()
        finally:
            await app.close()

    return asyncio.run(run_and_close())


def _store_options(*, app_required: bool) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        command = click.option(
            "--url",
            metavar="URL",
            help="Store URL; overrides the app's (default: $CONVEYOR_URL).",
        )(command)
        return click.option(
            "--app",
            "app_spec",
            metavar="MODULE:ATTR",
            envvar="CONVEYOR_APP",
            required=app_required,
            help="The Conveyor app to import, e.g. myproject.jobs:app (default: $CONVEYOR_APP).",
        )(command)

    return decorate


def _redact(url: str) -> str:
    """``url`` with its password masked, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# -- commands ------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conveyor")
def cli() -> None:
    """conveyor: durable background jobs."""


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
@_store_options(app_required=True)
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
    app = _make_app(opts.app_spec, opts.url)
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
        _redact(settings.url),
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
    _run(app, app.open)
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


def _parse_json(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise click.BadParameter(f"not valid JSON ({exc}): {shown!r}") from None


@cli.command()
@_store_options(app_required=True)
@click.argument("name")
@click.argument("payload", metavar="JSON", callback=_parse_json)
@click.option("--delay", type=click.FloatRange(min=0), metavar="SECONDS", help="Run later.")
@click.option("--idempotency-key", metavar="KEY", help="Enqueue once per tenant and key.")
@click.option("--tenant", help="The tenant the job belongs to.")
@click.option("--queue", help="Override the job type's queue.")
@click.option("--priority", type=int, help="Override the job type's priority (higher first).")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Override the attempt limit.")
def enqueue(app_spec: str, url: str | None, name: str, payload: Any, **options: Any) -> None:
    """Validate JSON as the payload of a NAME job, store the job and print its id.

    With an idempotency key already used by the tenant, the existing job's id is
    printed and nothing is stored.
    """
    app = _make_app(app_spec, url)
    job = _run(app, lambda: app.enqueue(name, payload, **options))
    click.echo(job.id)


@cli.command()
@_store_options(app_required=False)
@click.argument("job_id", metavar="ID")
def status(app_spec: str | None, url: str | None, job_id: str) -> None:
    """Print job ID as JSON."""
    app = _make_app(app_spec, url)
    job = _run(app, lambda: app.get(job_id))
    click.echo(job.model_dump_json(indent=2))


@cli.command("jobs")
@_store_options(app_required=False)
@click.option("--state", type=click.Choice([s.value for s in JobState]))
@click.option("--type", "type_", metavar="NAME", help="Only jobs of this job type.")
@click.option("--queue", help="Only jobs of this queue.")
@click.option("--tenant", help="Only jobs of this tenant.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--cursor", help="Continue a listing where the previous page ended.")
@click.option("--json", "as_json", is_flag=True, help="Print {items, next_cursor} as JSON.")
def jobs_command(
    app_spec: str | None,
    url: str | None,
    state: str | None,
    type_: str | None,
    queue: str | None,
    tenant: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List jobs, newest first, one page at a time.

    The table goes to stdout and the next page's cursor (if any) to stderr; with
    --json, both are in the JSON document.
    """
    app = _make_app(app_spec, url)
    page = _run(
        app,
        lambda: app.list(
            state=state, type=type_, queue=queue, tenant=tenant, limit=limit, cursor=cursor
        ),
    )
    if as_json:
        click.echo(page.model_dump_json(indent=2))
        return
    if not page.items:
        click.echo("no matching jobs", err=True)
        return
    _stdout().print(_jobs_table(page.items))
    if page.next_cursor is not None:
        click.echo(f"next page: --cursor {page.next_cursor}", err=True)


@cli.command()
@_store_options(app_required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def stats(app_spec: str | None, url: str | None, as_json: bool) -> None:
    """Count jobs per state, in total and per queue."""
    app = _make_app(app_spec, url)
    counts = _run(app, app.stats)
    if as_json:
        click.echo(counts.model_dump_json(indent=2))
    else:
        _stdout().print(_stats_table(counts))


@cli.command()
@_store_options(app_required=False)
def migrate(app_spec: str | None, url: str | None) -> None:
    """Apply the store's pending schema migrations and print their names."""
    app = _make_app(app_spec, url)
    # Not open() first: on a server store it refuses an out-of-date schema, and on an
    # embedded one it migrates by itself, so nothing would be left to report here.
    applied = _run(app, app.backend.migrate)
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo("up to date")


# -- rendering -----------------------------------------------------------------------


def _stdout() -> Console:
    # Off a terminal rich assumes 80 columns and would fold job ids across lines;
    # pipes and logs get whole rows instead.
    return Console(width=None if sys.stdout.isatty() else 200)


def _styled(state: JobState) -> str:
    style = _STATE_STYLES.get(state)
    return f"[{style}]{state.value}[/]" if style else state.value


def _jobs_table(jobs: Sequence[Job]) -> Table:
    table = Table("ID", "TYPE", "STATE", "QUEUE", "ATTEMPTS", "CREATED", "REASON")
    table.columns[0].no_wrap = True
    for job in jobs:
        table.add_row(
            job.id,
            job.type,
            _styled(job.state),
            job.queue,
            f"{job.attempts}/{job.max_attempts}",
            job.created_at.isoformat(timespec="seconds"),
            job.reason or "",
        )
    return table


def _stats_table(counts: Stats) -> Table:
    queues = sorted(counts.queues)
    table = Table("STATE", "TOTAL", *queues)
    for state in JobState:
        per_queue = [str(counts.queues[q].get(state.value, 0)) for q in queues]
        table.add_row(_styled(state), str(counts.states.get(state.value, 0)), *per_queue)
    return table
