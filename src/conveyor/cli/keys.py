"""``conveyor keys create|list|revoke``: API keys of the HTTP service.

A new key is printed once, on stdout (so ``KEY=$(conveyor keys create ...)`` works);
the store keeps only its SHA-256.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from conveyor.cli.common import cli, make_app, run, store_options
from conveyor.models import ApiKey


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys of the HTTP service."""


@keys.command("create")
@store_options(app_required=False)
@click.option("--tenant", help="The tenant the key acts for (required unless --admin).")
@click.option("--admin", is_flag=True, help="The key sees and changes every tenant's jobs.")
@click.option("--name", help="A label to recognise the key by in `keys list`.")
def create_key(
    app_spec: str | None, url: str | None, tenant: str | None, admin: bool, name: str | None
) -> None:
    """Create a key and print it (shown this once; only its hash is stored)."""
    try:
        from conveyor.web.auth import issue_key
    except ImportError as exc:
        raise click.ClickException(
            f"API keys belong to the HTTP service, which needs the web extra ({exc}): "
            "pip install 'conveyor[web]'"
        ) from None
    try:
        issued = issue_key(tenant=tenant, admin=admin, name=name)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    app = make_app(app_spec, url)

    async def store() -> ApiKey:
        await app.open()
        return await app.backend.create_api_key(issued.record, now=app.store_now())

    key = run(app, store)
    click.echo(issued.secret)
    scope = "admin (every tenant)" if key.admin else f"tenant {key.tenant!r}"
    click.echo(
        f"created key {key.id} for {scope}; it is shown only this once, store it now. "
        f"Use it as 'Authorization: Bearer KEY'.",
        err=True,
    )


@keys.command("list")
@store_options(app_required=False)
@click.option("--tenant", help="Only keys of this tenant.")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON lines.")
def list_keys(app_spec: str | None, url: str | None, tenant: str | None, as_json: bool) -> None:
    """List keys (revoked ones too), oldest first. Secrets are never shown."""
    app = make_app(app_spec, url)

    async def read() -> list[ApiKey]:
        await app.open()
        return await app.backend.list_api_keys(tenant=tenant)

    found = run(app, read)
    if as_json:
        for key in found:
            click.echo(key.model_dump_json())
        return
    table = Table("id", "tenant", "admin", "name", "created", "revoked")
    for key in found:
        table.add_row(*_row(key))
    Console(file=sys.stdout).print(table)


@keys.command("revoke")
@store_options(app_required=False)
@click.argument("key_id", metavar="ID")
def revoke_key(app_spec: str | None, url: str | None, key_id: str) -> None:
    """Revoke key ID at once (idempotent); requests with it answer 401."""
    app = make_app(app_spec, url)

    async def revoke() -> ApiKey | None:
        await app.open()
        return await app.backend.revoke_api_key(key_id, now=app.store_now())

    key = run(app, revoke)
    if key is None:
        raise click.ClickException(f"no API key with id {key_id!r} (see 'conveyor keys list')")
    click.echo(f"revoked {key.id}", err=True)


def _row(key: ApiKey) -> list[Any]:
    def when(value: Any) -> str:
        return "" if value is None else value.isoformat(timespec="seconds")

    return [
        key.id,
        key.tenant or "",
        "yes" if key.admin else "",
        key.name or "",
        when(key.created_at),
        when(key.revoked_at),
    ]
