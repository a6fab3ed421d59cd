"""A fresh, migrated PostgreSQL schema per test, dropped afterwards.

Each test gets a schema of its own (``t_<random>``) on the test database, so tests run
in parallel (pytest-xdist) without seeing each other's jobs; NOTIFY channels carry the
schema name, so wake-ups stay separate too.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from conveyor.backends import open_backend
from conveyor.backends.postgres.connection import migrate_blocking, parse_url


def with_schema(postgres_url: str, schema: str) -> str:
    """``postgres_url`` pointing at ``schema``."""
    parts = urlsplit(postgres_url)
    query = "&".join(filter(None, [parts.query, f"schema={schema}"]))
    return urlunsplit(parts._replace(query=query))


def _new_schema() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@contextlib.asynccontextmanager
async def fresh_postgres_schema(postgres_url: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """Yield the URL of a new schema (migrated unless ``migrate=False``); drop it after."""
    schema = _new_schema()
    url = with_schema(postgres_url, schema)
    if migrate:
        await open_backend(url).migrate()
    try:
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


@contextlib.contextmanager
def fresh_postgres_schema_sync(postgres_url: str, *, migrate: bool = True) -> Iterator[str]:
    """``fresh_postgres_schema`` for synchronous tests (e2e)."""
    schema = _new_schema()
    url = with_schema(postgres_url, schema)
    if migrate:
        migrate_blocking(parse_url(url))
    try:
        yield url
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
