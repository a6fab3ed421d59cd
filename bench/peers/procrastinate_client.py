"""Procrastinate's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.procrastinate_client`` in the peers' venv.

``setup`` applies Procrastinate's schema; W1 is ``await task.defer_async(i=i)`` one job
per call; W1b ``await task.batch_defer_async(*kwargs)`` in chunks.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench import clientcli
from bench.pacing import produce_async
from bench.peers.procrastinate_app import app, noop, sleep, stamped


async def _setup() -> None:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def _enqueue(n: int, warmup: int) -> float:
    async with app.open_async():
        for i in range(warmup):
            await noop.defer_async(i=i)
        start = time.perf_counter()
        for i in range(n):
            await noop.defer_async(i=i)
        return time.perf_counter() - start


async def _enqueue_many(n: int, chunk: int, task: Any = noop) -> float:
    size = chunk or n
    async with app.open_async():
        start = time.perf_counter()
        for low in range(0, n, size):
            await task.batch_defer_async(*({"i": i} for i in range(low, min(low + size, n))))
        return time.perf_counter() - start


async def _produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    async with app.open_async():

        async def one(seq: int, t: float) -> object:
            return await stamped.defer_async(seq=seq, t=t)

        return await produce_async(one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle)


class ProcrastinateClient:
    """``bench.clientcli.Client`` for Procrastinate."""

    def setup(self) -> None:
        asyncio.run(_setup())

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        return asyncio.run(_enqueue(n, warmup))

    def enqueue_many(self, n: int, chunk: int) -> float:
        return asyncio.run(_enqueue_many(n, chunk))

    def fill(self, n: int, job: str) -> None:
        asyncio.run(_enqueue_many(n, 1000, sleep if job == "sleep" else noop))

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return asyncio.run(_produce(n, rate, probe_dir, idle))


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.procrastinate_client", ProcrastinateClient())
