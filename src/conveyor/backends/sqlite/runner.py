"""Where the SQLite backend's store calls run: on the caller's thread or on its own.

``StoreRunner`` owns one backend instance's thread (a single-worker executor), its two
``SQLiteStore`` connections, the write lock over them and the checkpointer their
commits feed. ``backend.py`` states the concurrency model this implements: write
transitions marked ``inline`` run on the caller's thread when the write lock is free
and no other connection holds SQLite's, and on the thread otherwise; reads, migrations
and checkpoints run on the thread. Driver errors leave as ``conveyor.errors`` types.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from conveyor.backends.sqlite.checkpoints import Checkpointer
from conveyor.backends.sqlite.connection import WriteLockBusy, translate_error
from conveyor.backends.sqlite.store import SQLiteStore
from conveyor.errors import StoreUnavailableError

T = TypeVar("T")

#: Builds the error for a call made after ``close()`` (the backend names its URL).
ClosedError = Callable[[], StoreUnavailableError]


class StoreRunner:
    """The thread, connections and write lock of one open backend instance.

    Create it with ``await StoreRunner.open(...)``; ``close()`` is idempotent, and
    calls made after it raise the error ``closed()`` builds.
    """

    def __init__(
        self,
        path: str,
        executor: ThreadPoolExecutor,
        store: SQLiteStore,
        inline: SQLiteStore | None,
        closed: ClosedError,
    ) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = executor
        self._store = store  # confined to the executor's thread
        self._inline = inline  # any thread, under the write lock; None: not WAL mode
        self._closed_error = closed
        self._write_lock = threading.Lock()
        self._checkpointer = Checkpointer(path, self._write_lock, executor.submit)

    @classmethod
    async def open(cls, path: str, now_us: int, closed: ClosedError) -> StoreRunner:
        """Start the thread, open and migrate the file on it, open the inline
        connection. Raises ``StoreUnavailableError`` for an unusable file."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conveyor-sqlite")
        try:
            store, inline = await asyncio.get_running_loop().run_in_executor(
                executor, _open_stores, path, now_us
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, store, inline, closed)

    async def close(self) -> None:
        """Close the connections, then stop the thread. Idempotent."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_on_thread)
        finally:
            # A checkpoint round queued meanwhile finds the checkpointer closed.
            executor.shutdown(wait=True)

    def _close_on_thread(self) -> None:
        # Under the write lock: an inline transition that started before close() (on
        # another thread's loop) finishes first; later ones find no inline connection.
        with self._write_lock:
            inline, self._inline = self._inline, None
            self._checkpointer.close()
            for store in (inline, self._store):
                if store is not None:
                    store.close()

    async def write(self, transition: Callable[..., T], *args: object, inline: bool) -> T:
        """Run ``transition(store, *args)``, one write transaction, and count its commit.

        ``inline``: on the caller's thread when the write lock is free and no other
        connection holds SQLite's; otherwise (and for every call with ``inline=False``)
        on the thread, which waits for both.
        """
        if inline:
            # WriteLockBusy: another connection is writing, so wait for it on the thread.
            with contextlib.suppress(WriteLockBusy):
                return self._write_inline(transition, args)
        return await self._on_thread(self._write_on_thread, transition, args)

    async def read(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function(connection, *args)`` on the thread's connection."""
        return await self._on_thread(function, self._store.connection, *args)

    def _write_inline(self, transition: Callable[..., T], args: tuple[object, ...]) -> T:
        lock = self._write_lock
        if not lock.acquire(blocking=False):
            raise WriteLockBusy("this backend's thread is writing")
        try:
            store = self._inline
            if store is None:
                raise WriteLockBusy("no inline connection (closed, or not in WAL mode)")
            try:
                result = transition(store, *args)
            except sqlite3.Error as exc:
                raise translate_error(exc, self._path) from exc
            self._committed(store)
            return result
        finally:
            lock.release()

    def _write_on_thread(self, transition: Callable[..., T], args: tuple[object, ...]) -> T:
        with self._write_lock:
            result = transition(self._store, *args)
            self._committed(self._store)
        return result

    def _committed(self, store: SQLiteStore) -> None:
        changes = store.take_changes()
        if changes:
            self._checkpointer.committed(changes)

    async def _on_thread(self, function: Callable[..., T], *args: object) -> T:
        executor = self._executor
        if executor is None:
            raise self._closed_error()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, self._translated, function, args
            )
        except RuntimeError as exc:  # close() shut the thread down since we looked
            raise self._closed_error() from exc
        return await future

    def _translated(self, function: Callable[..., T], args: tuple[object, ...]) -> T:
        try:
            return function(*args)
        except sqlite3.Error as exc:
            raise translate_error(exc, self._path) from exc


def _open_stores(path: str, now_us: int) -> tuple[SQLiteStore, SQLiteStore | None]:
    """The thread's store (migrated first) and the inline one (``None`` when the file
    is not in WAL mode: then every write runs on the thread)."""
    store: SQLiteStore | None = None
    try:
        store = SQLiteStore(path)
        store.migrate(now_us)
        inline = SQLiteStore(path, fail_fast=True) if store.in_wal_mode() else None
    except BaseException as exc:
        if store is not None:
            store.close()
        if isinstance(exc, sqlite3.Error):
            raise translate_error(exc, path) from exc
        raise
    return store, inline
