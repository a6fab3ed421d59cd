"""Opening the SQLite file, transactions, migrations, and error translation.

Owns the URL grammar (``sqlite:///relative.db``, ``sqlite:////absolute.db``), the
connection settings (WAL, ``synchronous=NORMAL``, a busy timeout long enough for
several worker processes sharing one file, explicit transactions), the write
transaction (``immediate_transaction``, whose fail-fast form raises ``WriteLockBusy``
for the backend to catch), and the one place where ``sqlite3`` exceptions become
``conveyor.errors`` types: nothing from ``sqlite3`` leaves this package.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from conveyor.backends.migrate import Migration, apply_pending, load_migrations
from conveyor.backends.sqlite import queries
from conveyor.errors import ConfigurationError, StoreError, StoreUnavailableError

#: How long a statement waits for another connection's write lock before failing.
#: Several worker processes share one file, and a writer holds the lock for the length
#: of one transaction (well under a millisecond for the hot path), so this only runs
#: out when something is badly wrong (a process stopped while holding the lock).
BUSY_TIMEOUT_SECONDS = 30.0


def path_from_url(url: str) -> str:
    """The file path in a ``sqlite://`` URL: ``sqlite:///x.db`` is ``x.db`` relative to
    the working directory, ``sqlite:////srv/x.db`` is ``/srv/x.db``.

    Raises ``ConfigurationError`` for a host, a query string, an in-memory database
    (each connection would see its own empty database) or an empty path.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise ConfigurationError(f"Not a SQLite URL: {url!r} (expected sqlite:///path.db)")
    if parts.netloc:
        raise ConfigurationError(
            f"SQLite URL {url!r} names a host ({parts.netloc!r}); use sqlite:///relative.db "
            "or sqlite:////absolute/path.db"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"SQLite URL {url!r} takes no query string or fragment")
    path = unquote(parts.path)[1:]  # drop the slash that separates the empty host
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ConfigurationError(
            f"SQLite URL {url!r} must name a database file, e.g. sqlite:///conveyor.db "
            "(in-memory databases are not shared between connections)"
        )
    return path


def connect(
    path: str, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS, configure: bool = True
) -> sqlite3.Connection:
    """Open ``path`` (created if missing) with conveyor's settings.

    The connection is in autocommit mode (``isolation_level=None``): every transaction
    is an explicit ``BEGIN`` issued by this package. ``check_same_thread`` is off
    because the thread that opens a connection is not always the one that uses it;
    each owner confines or locks its connection. ``busy_timeout`` is how long a
    statement waits for another connection's lock. ``configure=False`` skips the
    PRAGMAs, for a connection that only reads counters of a store already opened
    (WAL mode is a property of the file, kept once set). Raises ``StoreUnavailableError`` naming the
    path and the fix when the file cannot be opened or written.
    """
    _check_access(path)
    try:
        connection = sqlite3.connect(
            path,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
    except sqlite3.Error as exc:
        raise translate_error(exc, path) from exc
    if configure:
        try:
            _configure(connection, busy_timeout)
        except sqlite3.Error as exc:
            connection.close()
            raise translate_error(exc, path) from exc
    connection.row_factory = sqlite3.Row
    return connection


def _configure(connection: sqlite3.Connection, busy_timeout: float) -> None:
    """Apply the PRAGMAs, waiting out a concurrent switch to WAL.

    Switching a new file to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY
    for it at once, without calling the busy handler, when another connection is
    switching the same file at that moment (several processes opening a new store).
    So retry for up to ``busy_timeout`` seconds, as the busy handler would.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            connection.executescript(queries.CONFIGURE_CONNECTION)
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            busy = code is not None and (code & 0xFF) in _LOCKED
            if not busy or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _check_access(path: str) -> None:
    """Fail early, with the fix in the message, where SQLite would fail late or vaguely:
    it opens a write-protected file read-only without a word, and then only the first
    write fails."""
    directory = Path(path).parent
    if not directory.is_dir():
        raise StoreUnavailableError(
            f"Cannot open the SQLite store {path!r}: its directory {str(directory)!r} does "
            f"not exist. Create it (mkdir -p {directory}) or use a sqlite:/// URL in an "
            "existing directory."
        )
    if not _writable(directory):
        raise StoreUnavailableError(
            f"Cannot open the SQLite store {path!r}: its directory {str(directory)!r} is not "
            "writable, and SQLite creates the database and its -wal and -shm files there. "
            "Fix the directory's permissions, or use a sqlite:/// URL in a writable directory."
        )
    if os.path.exists(path) and not _writable(Path(path)):
        raise StoreUnavailableError(
            f"Cannot open the SQLite store {path!r}: the file is read-only for this user. "
            "Fix its permissions (workers and the server all write to it), or use another "
            "sqlite:/// URL."
        )


def _writable(path: Path) -> bool:
    # effective_ids: judge by the user the process acts as, like the open() that follows.
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.W_OK, effective_ids=effective)


def translate_error(exc: sqlite3.Error, path: str) -> StoreError:
    """The ``conveyor.errors`` type for a driver error on the store at ``path``.

    Judged by SQLite's primary result code (errors raised by the Python module itself,
    such as use of a closed connection, carry none and become plain ``StoreError``).
    """
    message = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in _CANNOT_WRITE:
        return StoreUnavailableError(
            f"Cannot write the SQLite store {path!r} ({message}). SQLite needs write access "
            f"to the file and to its directory {str(Path(path).parent)!r}, where it creates "
            "the -wal and -shm files: fix the permissions, or use a sqlite:/// URL in a "
            "writable directory."
        )
    if primary in _NOT_A_DATABASE:
        return StoreUnavailableError(
            f"The file {path!r} is not a usable SQLite database ({message}). Point the "
            "store URL at a new file, or restore this one from a backup."
        )
    if primary in _LOCKED:
        return StoreUnavailableError(
            f"The SQLite store {path!r} stayed locked by another connection for more than "
            f"{BUSY_TIMEOUT_SECONDS:g}s ({message}). Look for a stuck process holding it."
        )
    if primary in _UNAVAILABLE:
        return StoreUnavailableError(f"The SQLite store {path!r} failed: {message}")
    return StoreError(f"The SQLite store {path!r} rejected an operation: {message}")


_CANNOT_WRITE = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM})
_NOT_A_DATABASE = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_PROTOCOL}
)


class WriteLockBusy(Exception):
    """``BEGIN IMMEDIATE`` on a connection that does not wait found the write lock taken.

    Nothing was done: the caller may run the same transaction again elsewhere (the
    backend runs it on its own thread, whose connection waits for the lock).
    """


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLITE_BUSY (any extended code: BUSY_SNAPSHOT, BUSY_RECOVERY)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


@contextmanager
def immediate_transaction(
    connection: sqlite3.Connection, *, fail_fast: bool = False
) -> Iterator[None]:
    """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error.

    IMMEDIATE takes the write lock up front (waiting for it under the busy timeout), so
    a transition never fails half-way because another process wrote in between. In WAL
    mode that is the only statement of the transaction that can report SQLITE_BUSY:
    the writer holds the lock until COMMIT, the commit only appends frames to the WAL,
    and these connections run no automatic checkpoint. With ``fail_fast`` (a connection
    whose busy timeout is 0) a busy BEGIN raises ``WriteLockBusy`` instead of a driver
    error, since nothing was done.
    """
    try:
        connection.execute(queries.BEGIN_IMMEDIATE)
    except sqlite3.OperationalError as exc:
        if fail_fast and is_busy(exc) and not connection.in_transaction:
            raise WriteLockBusy(str(exc)) from exc
        raise
    try:
        yield
        connection.execute(queries.COMMIT)
    except BaseException:
        if connection.in_transaction:
            connection.execute(queries.ROLLBACK)
        raise


class SQLiteMigrationSession:
    """``MigrationSession`` over one connection; the lock is ``BEGIN EXCLUSIVE``."""

    def __init__(self, connection: sqlite3.Connection, now_us: int) -> None:
        self._connection = connection
        self._now_us = now_us

    @contextmanager
    def locked_transaction(self) -> Iterator[None]:
        self._connection.execute(queries.BEGIN_EXCLUSIVE)
        try:
            yield
            self._connection.execute(queries.COMMIT)
        except BaseException:
            if self._connection.in_transaction:
                self._connection.execute(queries.ROLLBACK)
            raise

    def applied_names(self) -> set[str]:
        self._connection.execute(queries.CREATE_MIGRATIONS_TABLE)
        return {row[0] for row in self._connection.execute(queries.LIST_APPLIED_MIGRATIONS)}

    def apply(self, migration: Migration) -> None:
        # executescript() would COMMIT the open transaction first, so the file is split
        # into statements and run one by one inside it (DDL is transactional in SQLite).
        for statement in split_statements(migration.sql):
            self._connection.execute(statement)
        self._connection.execute(
            queries.RECORD_MIGRATION, {"name": migration.name, "applied_at": self._now_us}
        )


def split_statements(script: str) -> Iterator[str]:
    """The complete statements of an SQL script, trigger bodies kept whole."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_code(pending):
                yield pending.strip()
            pending = ""
    if _has_code(pending.removesuffix(";")):
        raise ValueError(f"Incomplete SQL statement at the end of a migration: {pending!r}")


def _has_code(text: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in text.splitlines())
    return any(line and line != ";" for line in lines)


def migrate(connection: sqlite3.Connection, now_us: int) -> list[str]:
    """Apply this package's pending migrations; return the names applied."""
    migrations = load_migrations("conveyor.backends.sqlite")
    return apply_pending(SQLiteMigrationSession(connection, now_us), migrations)
