"""conveyor's side of the client workloads, run as ``python -m bench.workloads_conveyor``.

The subcommands and the JSON line are those of ``bench.clientcli``, on the store named
by ``CONVEYOR_URL`` (SQLite, PostgreSQL or Redis: the same code for all three):

- ``setup``: migrate the store, as ``conveyor migrate`` does (not timed).
- ``enqueue --mode async``: W1, ``await noop.enqueue(payload)`` one job per call, the
  primary API; ``--mode sync``: the same through ``enqueue_sync`` (the sync bridge).
- ``enqueue-many --chunk C``: W1b, ``enqueue_many`` in chunks of ``C`` payloads (0: all
  in one call).
- ``fill``: queue jobs for a drain workload with ``enqueue_many`` (not timed).
- ``produce``: W3's paced producer (``bench.pacing``).

Opening the store (and migrating it) and ``warmup`` calls happen before the clock
starts: the figure is the steady rate of the call itself, payload models included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from bench import clientcli
from bench.apps.conveyor_noop import Noop, Stamped, app, noop, sleep, stamped
from bench.pacing import produce_async


async def _setup() -> None:
    # What `conveyor migrate` does: a server store (PostgreSQL) refuses to open an
    # out-of-date schema; an embedded one (SQLite) would also migrate on open.
    try:
        await app.backend.migrate()
    finally:
        await app.close()


async def _enqueue_async(n: int, warmup: int) -> float:
    async with app:
        for i in range(warmup):
            await noop.enqueue(Noop(i=i))
        start = time.perf_counter()
        for i in range(n):
            await noop.enqueue(Noop(i=i))
        return time.perf_counter() - start


def _enqueue_sync(n: int, warmup: int) -> float:
    try:
        for i in range(warmup):
            noop.enqueue_sync(Noop(i=i))
        start = time.perf_counter()
        for i in range(n):
            noop.enqueue_sync(Noop(i=i))
        return time.perf_counter() - start
    finally:
        app.portal.call(app.close())
        app.portal.stop()


async def _enqueue_many(n: int, chunk: int, job: str = "noop") -> float:
    size = chunk or n
    kind = sleep if job == "sleep" else noop
    async with app:
        start = time.perf_counter()
        for low in range(0, n, size):
            await kind.enqueue_many([Noop(i=i) for i in range(low, min(low + size, n))])
        return time.perf_counter() - start


async def _produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    async def enqueue_one(seq: int, t: float) -> object:
        return await stamped.enqueue(Stamped(seq=seq, t=t))

    async with app:
        return await produce_async(
            enqueue_one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle
        )


class ConveyorClient:
    """``bench.clientcli.Client`` for conveyor."""

    def setup(self) -> None:
        asyncio.run(_setup())

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        if mode == "sync":
            return _enqueue_sync(n, warmup)
        if mode not in ("async", "default"):
            raise SystemExit(f"unknown --mode {mode!r} (async or sync)")
        return asyncio.run(_enqueue_async(n, warmup))

    def enqueue_many(self, n: int, chunk: int) -> float:
        return asyncio.run(_enqueue_many(n, chunk))

    def fill(self, n: int, job: str) -> None:
        asyncio.run(_enqueue_many(n, 1000, job))

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return asyncio.run(_produce(n, rate, probe_dir, idle))


def main(argv: Sequence[str] | None = None) -> None:
    """Run one subcommand and print its JSON line."""
    clientcli.main("python -m bench.workloads_conveyor", ConveyorClient(), argv)


if __name__ == "__main__":
    main()
