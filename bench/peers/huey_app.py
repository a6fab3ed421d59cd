"""The Huey app the benchmark's consumer runs: ``bench.peers.huey_app.huey``.

The same tasks as conveyor's bench app (``bench.apps.conveyor_noop``), with handlers
that only call the completion probe; W4's ``bench.sleep`` blocks its worker thread for
10 ms (``time.sleep``: Huey's thread workers are its form of concurrent I/O waits).
Runs in the peers' venv.

Durability is matched to conveyor's: both use WAL with ``synchronous=NORMAL``. Huey's
``SqliteStorage`` leaves ``synchronous`` at SQLite's default (FULL: an fsync of the WAL
on every commit, about 8x slower for one-row commits on this machine), and its
``fsync=False`` switches it OFF (weaker than conveyor); so the storage subclass below
sets NORMAL. ``BENCH_HUEY_SYNCHRONOUS=default`` keeps Huey's own default instead, for
the extra "Huey as installed" row.
"""

from __future__ import annotations

import os
import sqlite3
import time

from huey import SqliteHuey
from huey.storage import SqliteStorage

from bench.probe import probe_from_env

DB_ENV = "BENCH_HUEY_DB"
SYNCHRONOUS_ENV = "BENCH_HUEY_SYNCHRONOUS"


class NormalSyncSqliteStorage(SqliteStorage):  # type: ignore[misc]  # huey has no type hints
    """Huey's SQLite storage with ``synchronous=NORMAL`` (conveyor's setting)."""

    def _create_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = super()._create_connection()
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection


def _make_huey() -> SqliteHuey:
    filename = os.environ.get(DB_ENV, "huey-bench.db")
    if os.environ.get(SYNCHRONOUS_ENV, "normal") == "default":
        return SqliteHuey("bench", filename=filename)
    return SqliteHuey("bench", filename=filename, storage_class=NormalSyncSqliteStorage)


huey = _make_huey()
probe = probe_from_env()


def _noop(i: int) -> None:
    probe.hit()


def _stamped(seq: int, t: float) -> None:
    probe.hit(seq, t)


def _sleep(i: int) -> None:
    time.sleep(0.01)
    probe.hit()


# Decorators applied as calls: huey is untyped, and mypy --strict rejects an untyped
# decorator on a typed function.
noop = huey.task(name="bench.noop")(_noop)
stamped = huey.task(name="bench.stamped")(_stamped)
sleep = huey.task(name="bench.sleep")(_sleep)
