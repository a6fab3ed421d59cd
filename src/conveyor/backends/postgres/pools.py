"""Connections of one ``PostgresBackend``, per event loop.

psycopg's async connections and pools belong to the event loop that created them, while
one backend instance serves several loops: the application's, and the portal loop that
runs the ``*_sync`` twins (``conveyor.sync``). So each loop that uses the backend gets
its own ``LoopConnections``: a pool for every statement, plus one dedicated connection
for lease heartbeats, so that a pool exhausted by slow callers never delays a
heartbeat (a lost lease would make a healthy job run twice).

Every connection is in autocommit mode (each statement is its own transaction unless
a method opens one), runs in UTC, and prepares statements on first use.

A loop can end before the backend does (each ``asyncio.run()`` of a script or a sync
web view is a new loop): its connections can no longer be closed the async way, so
``abandon()`` closes their sockets directly. The backend does that for every closed
loop it still knows when a new loop arrives and at ``close()``, so a process that
runs one short loop per request keeps at most one idle pool, instead of one server
connection more per loop until the server refuses new ones.
"""

from __future__ import annotations

import asyncio
import select
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import ConnStatus
from psycopg_pool import AsyncConnectionPool

from conveyor.backends.postgres.connection import CONNECT_TIMEOUT_SECONDS

#: Connections per loop's pool. A worker process uses a few at a time (claim, finish,
#: duties, the app's reads); the heartbeat has its own.
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 8

AsyncConn = psycopg.AsyncConnection[Any]

_CONNECTION_KWARGS: dict[str, Any] = {
    "autocommit": True,
    # Prepare every statement on first use: the hot path runs the same few statements.
    "prepare_threshold": 0,
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
}


async def _configure(connection: AsyncConn) -> None:
    # timestamptz values come back as UTC datetimes.
    await connection.execute("SET TIME ZONE 'UTC'")


async def _check(connection: AsyncConn) -> None:
    """Discard (by raising) a pooled connection the server closed while it sat idle,
    without a round trip. Pooled connections LISTEN to nothing, so an idle one has
    nothing to read unless the server said goodbye (a restart or an administrator's
    terminate sends an error, then closes). The cost is one ``select``; a rare spurious
    discard (a stray notice) costs a reconnect."""
    pgconn = connection.pgconn
    if not connection.broken and pgconn.status == ConnStatus.OK:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
        if not readable:
            return
    # Closed, the pool replaces it (an open one would be handed out again).
    await connection.close()
    raise psycopg.OperationalError("the server closed this idle connection")


async def connect(conninfo: str) -> AsyncConn:
    """One configured connection outside any pool (heartbeats, tests)."""
    connection = await psycopg.AsyncConnection.connect(conninfo, **_CONNECTION_KWARGS)
    try:
        await _configure(connection)
    except BaseException:
        await connection.close()
        raise
    return connection


class LoopConnections:
    """The pool and the heartbeat connection of one event loop."""

    def __init__(self, conninfo: str, loop: asyncio.AbstractEventLoop) -> None:
        self.conninfo = conninfo
        self.loop = loop
        self._made: weakref.WeakSet[AsyncConn] = weakref.WeakSet()  # for abandon()
        self.pool = AsyncConnectionPool(
            conninfo,
            min_size=POOL_MIN_SIZE,
            max_size=POOL_MAX_SIZE,
            kwargs=_CONNECTION_KWARGS,
            configure=self._configure,
            check=_check,
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            name="conveyor",
        )
        self._heartbeat: AsyncConn | None = None
        self._heartbeat_lock = asyncio.Lock()

    async def _configure(self, connection: AsyncConn) -> None:
        await _configure(connection)
        self._made.add(connection)

    async def open(self) -> None:
        """Open the pool, waiting for its first connection (raises psycopg's
        ``PoolTimeout`` if none can be made)."""
        await self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)

    @asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[AsyncConn]:
        """The heartbeat connection, one user at a time; reconnected after a failure."""
        async with self._heartbeat_lock:
            connection = self._heartbeat
            if connection is None or connection.closed or connection.broken:
                connection = self._heartbeat = await connect(self.conninfo)
                self._made.add(connection)
            try:
                yield connection
            except psycopg.Error:
                self._heartbeat = None
                await connection.close()
                raise

    def abandon(self) -> None:
        """Close every connection made here, without the event loop (which has closed:
        nothing can be awaited on it any more). Each one's socket is closed at once
        (libpq's ``PQfinish``, which tells the server goodbye); the pool object and its
        cancelled tasks are left to the garbage collector."""
        self._heartbeat = None
        for connection in list(self._made):
            if not connection.closed:
                connection.pgconn.finish()

    async def close(self) -> None:
        """Close the pool and the heartbeat connection (on this object's loop)."""
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            await heartbeat.close()
        await self.pool.close()
