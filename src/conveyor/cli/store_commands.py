"""The store commands: ``enqueue``, ``status``, ``jobs``, ``stats``, ``migrate``, and how
their results are rendered."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from conveyor.cli.common import cli, make_app, run, store_options
from conveyor.models import Job, Stats
from conveyor.states import JobState

_STATE_STYLES = {
    JobState.SUCCEEDED: "green",
    JobState.RUNNING: "cyan",
    JobState.RETRYING: "yellow",
    JobState.DEAD: "red",
    JobState.CANCELLED: "dim",
}


def _parse_json(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise click.BadParameter(f"not valid JSON ({exc}): {shown!r}") from None


@cli.command()
@store_options(app_required=True)
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
    app = make_app(app_spec, url)
    job = run(app, lambda: app.enqueue(name, payload, **options))
    click.echo(job.id)


@cli.command()
@store_options(app_required=False)
@click.argument("job_id", metavar="ID")
def status(app_spec: str | None, url: str | None, job_id: str) -> None:
    """Print job ID as JSON."""
    app = make_app(app_spec, url)
    job = run(app, lambda: app.get(job_id))
    click.echo(job.model_dump_json(indent=2))


@cli.command("jobs")
@store_options(app_required=False)
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
    app = make_app(app_spec, url)
    page = run(
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
@store_options(app_required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def stats(app_spec: str | None, url: str | None, as_json: bool) -> None:
    """Count jobs per state, in total and per queue."""
    app = make_app(app_spec, url)
    counts = run(app, app.stats)
    if as_json:
        click.echo(counts.model_dump_json(indent=2))
    else:
        _stdout().print(_stats_table(counts))


@cli.command()
@store_options(app_required=False)
def migrate(app_spec: str | None, url: str | None) -> None:
    """Apply the store's pending schema migrations and print their names."""
    app = make_app(app_spec, url)
    # Not open() first: on a server store it refuses an out-of-date schema, and on an
    # embedded one it migrates by itself, so nothing would be left to report here.
    applied = run(app, app.backend.migrate)
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
