"""The URL grammar, connection settings, migrations and error translation of the
PostgreSQL store: the one place where ``psycopg`` exceptions become ``conveyor.errors``
types (nothing from ``psycopg`` leaves this package).

URL: ``postgresql://user:password@host:port/database?schema=myapp`` (``postgres://``
too). ``schema`` (default ``conveyor``) names the PostgreSQL schema that holds the
store's tables; it is removed before the rest of the URL goes to libpq, so every other
libpq parameter (``sslmode``, ``connect_timeout``, ``application_name``...) works as
documented by PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors

from conveyor.backends.migrate import Migration, apply_pending, load_migrations
from conveyor.backends.postgres import queries
from conveyor.backends.postgres.queries import Statements
from conveyor.errors import (
    ConfigurationError,
    SchemaOutOfDateError,
    StoreError,
    StoreUnavailableError,
)

DEFAULT_SCHEMA = "conveyor"
#: Schema names: plain lower-case identifiers, short enough that the NOTIFY channel
#: ``conveyor:<schema>`` stays under PostgreSQL's 63-byte identifier limit.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")
#: Seconds to wait for a connection before calling the store unavailable.
CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """Where a store lives: the libpq URL (without conveyor's options) and the schema."""

    conninfo: str
    schema: str

    @property
    def channel(self) -> str:
        """The NOTIFY channel of this store (see ``notify_runnable`` in 0001_init.sql)."""
        return f"conveyor:{self.schema}"


def parse_url(url: str) -> PostgresTarget:
    """Split a ``postgresql://`` URL into the libpq URL and the schema name.

    Raises ``ConfigurationError`` for another scheme or an invalid schema name.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"Not a PostgreSQL URL: {url!r} (expected postgresql://user@host/database)"
        )
    schema = DEFAULT_SCHEMA
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError(
            f"Invalid schema {schema!r} in {url!r}: use lower-case letters, digits and "
            "underscores (at most 48, not starting with a digit), e.g. ?schema=myapp"
        )
    conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(kept)))
    return PostgresTarget(conninfo=conninfo, schema=schema)


def translate_error(exc: psycopg.Error, target: PostgresTarget) -> StoreError:
    """The ``conveyor.errors`` type for a psycopg error.

    Connection trouble (refused, dropped, server restarting, pool exhausted) becomes
    ``StoreUnavailableError``: callers may retry it (the worker retries acknowledgements
    only on that). A missing table means the schema was never migrated.
    """
    where = f"PostgreSQL store (schema {target.schema!r})"
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedFunction):
        return SchemaOutOfDateError(
            f"The {where} has no conveyor tables: run `conveyor migrate --url <your URL>` "
            f"first ({exc.sqlstate}: {str(exc).strip()})"
        )
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or (
        exc.sqlstate is not None and exc.sqlstate[:2] in ("08", "57")
    ):
        # 08: connection exceptions; 57: operator intervention (admin shutdown, crash
        # recovery, cannot connect now).
        return StoreUnavailableError(f"The {where} is unavailable: {str(exc).strip()}")
    return StoreError(f"The {where} failed: {type(exc).__name__}: {str(exc).strip()}")


def migrations() -> list[Migration]:
    """The migrations shipped with this backend, in order."""
    return load_migrations("conveyor.backends.postgres")


def missing_migrations(applied: set[str]) -> list[str]:
    """Names of shipped migrations not in ``applied``."""
    return [m.name for m in migrations() if m.name not in applied]


def out_of_date(target: PostgresTarget, missing: list[str], url: str) -> SchemaOutOfDateError:
    """The error open() and ping() raise for a schema older than the code."""
    return SchemaOutOfDateError(
        f"The PostgreSQL schema {target.schema!r} is older than this version of conveyor "
        f"(missing migrations: {', '.join(missing)}). Run `conveyor migrate --url {_redact(url)}` "
        "once, then start the workers again."
    )


class _MigrationSession:
    """``migrate.MigrationSession`` on one synchronous psycopg connection."""

    def __init__(self, connection: psycopg.Connection[tuple[object, ...]], target: PostgresTarget):
        self.connection = connection
        self.target = target
        self.statements = Statements.for_schema(target.schema)

    @contextmanager
    def locked_transaction(self) -> Iterator[None]:
        with self.connection.transaction():
            self.connection.execute(queries.LOCK_MIGRATIONS, {"schema": self.target.schema})
            yield

    def applied_names(self) -> set[str]:
        s = self.statements
        self.connection.execute(s.CREATE_SCHEMA)
        self.connection.execute(s.CREATE_MIGRATIONS_TABLE)
        rows = self.connection.execute(s.LIST_APPLIED_MIGRATIONS).fetchall()
        return {str(row[0]) for row in rows}

    def apply(self, migration: Migration) -> None:
        s = self.statements
        # The functions of a migration pin the search_path they were created under.
        self.connection.execute(s.SET_SEARCH_PATH)
        # Our own file: many statements and no parameters, so the simple query protocol.
        self.connection.execute(migration.sql.encode())
        self.connection.execute(s.RECORD_MIGRATION, {"name": migration.name})


def migrate_blocking(target: PostgresTarget) -> list[str]:
    """Apply pending migrations on a connection of its own (run in a thread).

    Concurrent calls, from any number of processes, wait for each other on the
    advisory lock; each migration is applied exactly once. Raises
    ``StoreUnavailableError`` if the server cannot be reached.
    """
    try:
        with psycopg.connect(
            target.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            return apply_pending(_MigrationSession(connection, target), migrations())
    except psycopg.Error as exc:
        raise translate_error(exc, target) from exc


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
