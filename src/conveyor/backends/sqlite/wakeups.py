"""Wake-ups for idle consumers of one ``SQLiteBackend`` instance.

Two sources feed them. Writes made through the same instance call ``notify()``, which
wakes the matching iterators at once (on whichever event loop each one runs, through
``call_soon_threadsafe`` when that is another thread's loop). Writes from other
processes are seen by reading ``PRAGMA data_version`` every ``POLL_SECONDS``: the
counter changes when another connection commits, and reading it costs a few
microseconds and never waits for a writer, so the poll runs on the iterator's own
event loop instead of paying a hop to the backend's thread. A slow safety-net tick
covers scheduled and retrying jobs becoming due, which no write announces.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field

from conveyor.backends.sqlite import queries
from conveyor.backends.sqlite.connection import connect, translate_error

#: How often an idle iterator reads the change counter.
POLL_SECONDS = 0.005
#: The longest an idle iterator stays silent.
SAFETY_NET_SECONDS = 1.0


@dataclass(eq=False, slots=True)
class _Waiter:
    """One running iterator, on the event loop that iterates it."""

    loop: asyncio.AbstractEventLoop
    queues: frozenset[str]
    event: asyncio.Event = field(default_factory=asyncio.Event)


class WakeupHub:
    """The iterators of one backend instance and the watch connection they poll.

    Thread-safe: iterators may run on several event loops (the app drives sync calls
    through a portal loop of its own), so one lock guards the waiter set and the watch
    connection.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._waiters: set[_Waiter] = set()
        self._watch: sqlite3.Connection | None = None
        self._closed = False

    def notify(self, queues: Collection[str] | None) -> None:
        """Wake the iterators serving any of ``queues`` (all of them for ``None``)."""
        if not self._waiters:
            return
        with self._lock:
            waiters = list(self._waiters)
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for waiter in waiters:
            if queues is not None and waiter.queues.isdisjoint(queues):
                continue
            if waiter.event.is_set():
                continue  # already awake: spare the cross-thread call
            if waiter.loop is current:
                waiter.event.set()
                continue
            # A closed loop raises RuntimeError: its iterator is gone with it.
            with contextlib.suppress(RuntimeError):
                waiter.loop.call_soon_threadsafe(waiter.event.set)

    def close(self) -> None:
        """End every iterator and close the watch connection. Idempotent."""
        with self._lock:
            self._closed = True
            watch, self._watch = self._watch, None
        self.notify(None)
        if watch is not None:
            with self._lock:
                watch.close()

    async def iterate(self, queues: Sequence[str]) -> AsyncIterator[None]:
        """See ``SQLiteBackend.wakeups``."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop, frozenset(queues))
        with self._lock:
            if self._closed:
                return
            self._waiters.add(waiter)
        try:
            # Read before every yield: a commit made while the consumer works shows
            # up as a change at the next poll, so no wake-up is lost.
            version = self._data_version()
            last_wake = loop.time()
            yield
            while not self._closed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await waiter.event.wait()
                if self._closed:
                    return
                current = self._data_version()
                changed = current is not None and current != version
                if current is not None:
                    version = current
                if (
                    changed
                    or waiter.event.is_set()
                    or loop.time() - last_wake >= SAFETY_NET_SECONDS
                ):
                    waiter.event.clear()
                    last_wake = loop.time()
                    yield
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def _data_version(self) -> int | None:
        """The change counter, or ``None`` if it cannot be read right now (closed, or
        the file is busy with a recovery): the next poll tries again."""
        with self._lock:
            if self._closed:
                return None
            try:
                if self._watch is None:
                    self._watch = connect(self._path, busy_timeout=0.0, configure=False)
                row = self._watch.execute(queries.DATA_VERSION).fetchone()
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                    return None
                raise translate_error(exc, self._path) from exc
            except sqlite3.Error as exc:
                raise translate_error(exc, self._path) from exc
            return int(row[0])
