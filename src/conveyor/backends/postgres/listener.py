"""The LISTEN connection: one per process and store, shared by every ``wakeups()``
iterator of every backend instance and event loop in the process.

A ``Listener`` owns a daemon thread with one synchronous psycopg connection that
LISTENs on the store's channel (``conveyor:<schema>``; the payload is a queue name).
Each notification wakes the iterators serving that queue, on whatever event loop each
one runs (``call_soon_threadsafe``). When the connection drops, the thread logs it,
wakes every iterator (notifications sent meanwhile are lost, so consumers should look
for work) and reconnects with a growing backoff (0.1 s up to 5 s). Iterators keep a
slow safety-net tick meanwhile, and always: scheduled jobs falling due are announced
by nobody.

The thread runs while at least one iterator exists and stops shortly after the last
one ends (it checks every ``STOP_CHECK_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from conveyor.backends.postgres.connection import CONNECT_TIMEOUT_SECONDS, PostgresTarget

log = logging.getLogger("conveyor.backends.postgres")

#: The longest an idle iterator stays silent (the safety-net poll).
SAFETY_NET_SECONDS = 1.0
#: How long the first wake-up waits for the LISTEN to be in place (so that a change
#: made right after it is heard); past it, the iterator starts on the safety net.
READY_TIMEOUT_SECONDS = 2.0
#: How often the thread checks whether it should stop.
STOP_CHECK_SECONDS = 0.25
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 5.0


@dataclass(eq=False, slots=True)
class Waiter:
    """One running iterator, on the event loop that iterates it."""

    loop: asyncio.AbstractEventLoop
    queues: frozenset[str]
    event: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def wake(self) -> None:
        """Set the event from any thread. A closed loop means the iterator is gone."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.event.set)


class Listener:
    """The LISTEN thread of one store in this process (see the module docstring)."""

    def __init__(self, target: PostgresTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._waiters: set[Waiter] = set()
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()

    def add(self, waiter: Waiter) -> None:
        """Register ``waiter`` and make sure the thread runs."""
        with self._lock:
            self._waiters.add(waiter)
            if self._thread is None or not self._thread.is_alive():
                self._listening.clear()
                self._thread = threading.Thread(
                    target=self._run, name=f"conveyor-listen-{self.target.schema}", daemon=True
                )
                self._thread.start()

    def discard(self, waiter: Waiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)

    async def ready(self) -> None:
        """Wait (at most ``READY_TIMEOUT_SECONDS``) until the LISTEN is in place."""
        if not self._listening.is_set():
            await asyncio.to_thread(self._listening.wait, READY_TIMEOUT_SECONDS)

    def _wake(self, queue: str | None) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            if queue is None or queue in waiter.queues:
                waiter.wake()

    def _idle(self) -> bool:
        with self._lock:
            if self._waiters:
                return False
            self._thread = None  # the next add() starts a new thread
            return True

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._idle():
            try:
                with psycopg.connect(
                    self.target.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
                ) as connection:
                    connection.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(self.target.channel))
                    )
                    if backoff > _FIRST_BACKOFF:
                        log.info("LISTEN connection to %s is back", self.target.schema)
                    backoff = _FIRST_BACKOFF
                    self._listening.set()
                    self._wake(None)  # anything sent while we were away is lost: look
                    while not self._idle():
                        for notify in connection.notifies(timeout=STOP_CHECK_SECONDS):
                            self._wake(notify.payload)
            except psycopg.Error as exc:
                self._listening.clear()
                log.warning(
                    "LISTEN connection for schema %s lost (%s); reconnecting in %.1fs",
                    self.target.schema,
                    str(exc).strip() or type(exc).__name__,
                    backoff,
                )
                self._wake(None)
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)


_listeners: dict[PostgresTarget, Listener] = {}
_listeners_lock = threading.Lock()


def listener_for(target: PostgresTarget) -> Listener:
    """The process's listener for ``target``'s store."""
    with _listeners_lock:
        listener = _listeners.get(target)
        if listener is None:
            listener = _listeners[target] = Listener(target)
        return listener


class Wakeups:
    """The ``wakeups()`` iterators of one backend instance: they share the process's
    listener, and end when this instance closes."""

    def __init__(self, target: PostgresTarget) -> None:
        self._listener = listener_for(target)
        self._lock = threading.Lock()
        self._waiters: set[Waiter] = set()
        self._closed = False

    def close(self) -> None:
        """End every iterator of this instance. Idempotent."""
        with self._lock:
            self._closed = True
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.closed = True
            waiter.wake()

    async def iterate(self, queues: Sequence[str]) -> AsyncGenerator[None, None]:
        """See ``PostgresBackend.wakeups``."""
        waiter = Waiter(asyncio.get_running_loop(), frozenset(queues))
        with self._lock:
            if self._closed:
                return
            self._waiters.add(waiter)
        self._listener.add(waiter)
        try:
            await self._listener.ready()
            while not waiter.closed:
                waiter.event.clear()
                yield
                if waiter.closed:
                    return
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SAFETY_NET_SECONDS):
                        await waiter.event.wait()
        finally:
            self._listener.discard(waiter)
            with self._lock:
                self._waiters.discard(waiter)
