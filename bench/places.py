"""The stores a run measures on, and a fresh, private place in one of them per run.

- ``sqlite``: a new directory (each library puts its database file there).
- ``postgres``: the shared server at ``BENCH_POSTGRES`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``). A library whose ``pg_place`` is
  ``"database"`` (the peers: they install tables, types and functions of their own) gets
  a new database ``bench_<pid>_<n>``, dropped afterwards (``WITH (FORCE)``); conveyor
  (``"schema"``) gets a new schema ``bench_<pid>_<n>`` in the server's database, as in
  its documented URL ``postgresql://.../test?schema=<name>``, dropped afterwards.
- ``redis``: the shared server at ``BENCH_REDIS`` (default ``redis://127.0.0.1:6379``).
  Each run gets a key prefix ``bench<pid>_<n>`` and a database number (the library's
  ``redis_db``: conveyor uses db 0 with its prefix, the peers db ``PEERS_REDIS_DB`` = 15,
  reserved for the benchmark, because several of them cannot prefix every key).
  Afterwards the keys matching the library's ``redis_patterns(prefix)`` are deleted
  (``SCAN`` + ``DEL``): never ``FLUSHALL``/``FLUSHDB`` on the shared server.

The harness runs in conveyor's venv, so ``psycopg`` and ``redis`` (conveyor's extras)
are imported here lazily, only when such a store is used.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

STORES = ("sqlite", "postgres", "redis")
#: The Redis database the peers use (documented in docs/benchmarks.md).
PEERS_REDIS_DB = 15

_places = itertools.count(1)


def postgres_url() -> str:
    return os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def with_database(url: str, database: str) -> str:
    """``url`` with its path (the database name) replaced."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@dataclass(frozen=True, slots=True)
class Place:
    """Where one run of one library keeps its jobs."""

    store: str
    name: str  # bench<pid>_<n>: schema, database or key prefix
    directory: Path  # the run's directory (SQLite files, probe files, logs)
    postgres: str = ""  # a libpq URL (sqlalchemy-free) of the run's database
    schema: str = ""  # conveyor on PostgreSQL: the schema it gets
    redis: str = ""  # redis://host:port/db


def unavailable(store: str) -> str | None:
    """Why ``store``'s server cannot be used (``None``: it can)."""
    if store == "postgres":
        import psycopg

        try:
            with psycopg.connect(postgres_url(), connect_timeout=3) as connection:
                connection.execute("SELECT 1")
        except (OSError, psycopg.Error) as exc:
            return f"PostgreSQL at {postgres_url()} is unreachable ({exc.__class__.__name__})"
    elif store == "redis":
        import redis

        try:
            client = redis.Redis.from_url(redis_url(), socket_connect_timeout=3)
            client.ping()
            client.close()
        except (OSError, redis.RedisError) as exc:
            return f"Redis at {redis_url()} is unreachable ({exc.__class__.__name__})"
    return None


@contextlib.contextmanager
def fresh(
    store: str,
    directory: Path,
    *,
    pg_place: str = "database",
    redis_db: int = PEERS_REDIS_DB,
    redis_patterns: Sequence[str] = (),
) -> Iterator[Place]:
    """A new place for one run, removed afterwards (see the module docstring)."""
    name = f"bench{os.getpid()}_{next(_places)}"
    if store == "sqlite":
        yield Place(store, name, directory)
    elif store == "postgres":
        with _postgres(name, directory, pg_place) as place:
            yield place
    else:
        url = f"{redis_url()}/{redis_db}"
        try:
            yield Place(store, name, directory, redis=url)
        finally:
            delete_keys(url, [p.format(prefix=name) for p in redis_patterns])


@contextlib.contextmanager
def _postgres(name: str, directory: Path, pg_place: str) -> Iterator[Place]:
    import psycopg
    from psycopg import sql

    admin = postgres_url()
    with psycopg.connect(admin, autocommit=True) as connection:
        if pg_place == "schema":
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            url = admin
        else:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            url = with_database(admin, name)
    try:
        yield Place("postgres", name, directory, postgres=url, schema=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(drop)


def delete_keys(url: str, patterns: Sequence[str]) -> int:
    """Delete the keys matching ``patterns`` (``SCAN`` globs) in the database of ``url``."""
    import redis

    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        for pattern in patterns:
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted
