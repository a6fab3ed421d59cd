"""The key layout version of a prefix: ``{prefix}:schema`` (``keys.SCHEMA_VERSION``).

Redis has no schema to create: every key appears when it is first written. What can
still change between releases is the key layout, so each prefix records the layout
version it holds. ``open()`` stamps a fresh prefix with the current version (it holds
nothing yet, so it is current by definition) and refuses an older one;
``conveyor migrate`` upgrades it.
"""

from __future__ import annotations

from redis.asyncio import Redis

from conveyor.backends.redis.connection import command
from conveyor.backends.redis.keys import MIGRATIONS, SCHEMA_VERSION, Keys
from conveyor.errors import SchemaOutOfDateError, StoreError


async def migrate(client: Redis, keys: Keys) -> list[str]:
    """Bring the prefix to ``SCHEMA_VERSION``; the migrations applied (``[]`` when
    current)."""
    raw = await command(client, "GET", keys.schema)
    version = 0 if raw is None else int(raw)
    if version >= SCHEMA_VERSION:
        return []
    # Layout 1 needs no data changes: its keys appear as they are first written.
    await command(client, "SET", keys.schema, SCHEMA_VERSION)
    return list(MIGRATIONS[version:])


async def check(client: Redis, keys: Keys, shown_url: str, *, stamp: bool) -> None:
    """Raise ``SchemaOutOfDateError`` if the prefix's layout is older than the code
    (``StoreError`` if newer); with ``stamp``, first give a fresh prefix the current
    version."""
    if stamp:
        await command(client, "SET", keys.schema, SCHEMA_VERSION, "NX")
    raw = await command(client, "GET", keys.schema)
    version = 0 if raw is None else int(raw)
    where = f"The Redis prefix {keys.prefix!r} at {shown_url}"
    if version < SCHEMA_VERSION:
        raise SchemaOutOfDateError(
            f"{where} has key layout {version}, older than this conveyor's "
            f"{SCHEMA_VERSION}: run `conveyor migrate`"
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{where} has key layout {version}, newer than this conveyor's "
            f"{SCHEMA_VERSION}: upgrade conveyor"
        )
