"""The shared schema-migration runner for the SQL stores (STYLE.md section 1.4).

Migrations are forward-only files ``NNNN_name.sql`` shipped inside a backend package
(``backends/<store>/migrations/``). This module owns what every SQL store does the same
way: finding and ordering the files, and the loop that applies each pending one in its
own transaction, under the store's blocking migration lock, recording its name in the
``conveyor_migrations`` table. A store supplies a ``MigrationSession``: how to take
that lock, read the recorded names and run one file.

Invariants:

* Files apply in name order (the zero-padded number), each at most once per store.
* Each file and its record commit together or not at all.
* The applied-check happens under the lock, so concurrent processes that open the same
  store wait for each other instead of racing (saq's try-lock-and-return lets a second
  process run before the tables exist).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

#: The table every SQL store records applied migrations in.
VERSION_TABLE = "conveyor_migrations"

_FILE_NAME = re.compile(r"(?P<name>\d{4}_[a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: ``name`` is the file name without ``.sql`` (``0001_init``)."""

    name: str
    sql: str


class MigrationSession(Protocol):
    """A store's side of ``apply_pending``: one connection, used from one thread."""

    def locked_transaction(self) -> AbstractContextManager[None]:
        """A transaction holding the store's migration lock, waiting for it if another
        process holds it. Commits on normal exit, rolls back on an exception."""
        ...

    def applied_names(self) -> set[str]:
        """Names recorded in the version table, creating the table if it is missing.
        Called inside ``locked_transaction``."""
        ...

    def apply(self, migration: Migration) -> None:
        """Run the migration's statements and record its name. Called inside
        ``locked_transaction``."""
        ...


def load_migrations(package: str, directory: str = "migrations") -> list[Migration]:
    """The migrations shipped in ``package``'s ``directory``, in the order they apply.

    Files whose names do not look like ``NNNN_name.sql`` are ignored. Raises
    ``ValueError`` if two files share a number, since their order would be a guess.
    """
    folder = resources.files(package).joinpath(directory)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is not None and entry.is_file():
            found.append(Migration(name=match["name"], sql=entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.name)
    numbers = [migration.name[:4] for migration in found]
    duplicates = sorted({number for number in numbers if numbers.count(number) > 1})
    if duplicates:
        raise ValueError(
            f"Migrations of {package} share the numbers {', '.join(duplicates)}: "
            "renumber them so that their order is explicit"
        )
    return found


def apply_pending(session: MigrationSession, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded, one transaction each; return their names.

    Safe to run from several processes at once: each file is checked and applied under
    the lock, so exactly one process applies it and the others see it recorded. Returns
    ``[]`` when the store is current.
    """
    applied_now: list[str] = []
    for migration in migrations:
        with session.locked_transaction():
            if migration.name in session.applied_names():
                continue
            session.apply(migration)
        applied_now.append(migration.name)
    return applied_now
