"""WAL checkpoints of one ``SQLiteBackend``, run on its thread instead of inside a COMMIT.

SQLite's automatic checkpoint runs in the COMMIT that takes the WAL past
``wal_autocheckpoint`` pages: that caller copies the WAL into the database file and
waits for two fsyncs, which on the enqueue hot path averages out to about 40 µs per
transaction. The store's connections turn it off (``CONFIGURE_STORE_CONNECTION``).
Instead the backend's runner (``runner.py``) reports every committed write here, and
after ``CHECKPOINT_AFTER_COMMITS`` commits or ``CHECKPOINT_AFTER_CHANGES`` changed
rows one checkpoint round is queued on the backend's thread, where it overlaps with
the transactions that keep running on the callers' threads.

Keeping the WAL bounded: SQLite starts the WAL over from its beginning (at the next
commit) only once every frame in it has been copied into the database, and a PASSIVE
checkpoint running beside writers never catches up with the frames they append
meanwhile. So a round is:

1. PASSIVE, holding nothing: copies what is there while writes go on. When writing
   pauses, this completes the WAL, and the next commit starts it over.
2. Only once the WAL holds more than ``RESTART_ABOVE_FRAMES`` frames: RESTART, under
   the backend's write lock (this process's writers wait, about 2 ms: pass 1 left
   little to copy) and SQLite's (other processes' writers wait too). It waits up to
   ``RESTART_WAIT_SECONDS`` for readers of older snapshots, and then the next commit
   starts the WAL over. If a reader holds on past that wait, the next round tries
   again. Under steady writing the WAL file thus cycles up to about 16-20 MiB, which
   ``journal_size_limit`` keeps allocated (overwriting blocks is cheaper than
   extending the file) but cuts back after a bigger burst. A pass 2 in every round
   would keep the WAL smaller, at the price of that stall every round (about 14 µs
   per commit, measured).

Durability does not change: a commit is in the WAL (``synchronous=NORMAL``) before it
returns; checkpoints only copy committed pages into the database file. When the last
connection to the file closes, SQLite checkpoints and removes the WAL itself.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future

from conveyor.backends.sqlite import queries
from conveyor.backends.sqlite.connection import connect
from conveyor.errors import StoreError

log = logging.getLogger("conveyor.sqlite")

#: A round after this many committed write transactions (a one-job enqueue writes
#: about 6 pages: close to SQLite's default of a checkpoint every 1,000 pages) ...
CHECKPOINT_AFTER_COMMITS = 128
#: ... or this many changed rows (lifecycle events and attempts included), for batches.
CHECKPOINT_AFTER_CHANGES = 2048
#: Above this many frames (16 MiB of 4 KiB pages) pass 2 is a RESTART (see above).
RESTART_ABOVE_FRAMES = 4096
#: How long a RESTART waits for the write lock and for readers of older snapshots.
RESTART_WAIT_SECONDS = 0.05

Submit = Callable[[Callable[[], None]], "Future[None]"]


class Checkpointer:
    """Counts one backend's commits and runs its checkpoint rounds.

    ``committed()`` is called with the backend's write lock held, so the counters need
    no lock of their own; ``run()`` runs on the backend's thread (``submit`` queues it
    there) with a connection of its own.
    """

    def __init__(self, path: str, write_lock: threading.Lock, submit: Submit) -> None:
        self._path = path
        self._write_lock = write_lock
        self._submit = submit
        self._commits = 0
        self._changes = 0
        self._pending: Future[None] | None = None
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    def committed(self, changes: int) -> None:
        """Count one committed write transaction that changed ``changes`` rows, and
        queue a round when enough have accumulated and none is queued yet."""
        self._commits += 1
        self._changes += changes
        if self._commits < CHECKPOINT_AFTER_COMMITS and self._changes < CHECKPOINT_AFTER_CHANGES:
            return
        pending = self._pending
        if pending is not None and not pending.done():
            return
        self._commits = self._changes = 0
        # RuntimeError: the backend is closing and its thread takes no more work; the
        # last connection's close checkpoints the WAL anyway.
        with contextlib.suppress(RuntimeError):
            self._pending = self._submit(self.run)

    def run(self) -> None:
        """One round (on the backend's thread). Failures are logged, never raised: the
        WAL stays valid, and the next round tries again."""
        try:
            self._round()
        except (sqlite3.Error, StoreError) as exc:
            log.warning("checkpoint of the SQLite store %r failed: %s", self._path, exc)
        except Exception:  # a bug: nobody awaits the round, so say it here
            log.exception("checkpoint of the SQLite store %r failed", self._path)

    def _round(self) -> None:
        if self._closed:
            return
        connection = self._connection
        if connection is None:
            connection = self._connection = connect(self._path, busy_timeout=RESTART_WAIT_SECONDS)
        busy, frames, _ = connection.execute(queries.CHECKPOINT_PASSIVE).fetchone()
        if busy or frames <= RESTART_ABOVE_FRAMES:
            return  # another connection is checkpointing, or the WAL is still small
        with self._write_lock:
            connection.execute(queries.CHECKPOINT_RESTART).fetchone()

    def close(self) -> None:
        """Close the connection; later rounds do nothing. Call on the backend's thread."""
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
