"""SAQ's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.saq_client`` in the peers' venv: ``await queue.enqueue(name,
i=i)`` one job per call (SAQ has no bulk enqueue: ``Queue.map`` waits for results)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench import clientcli
from bench.pacing import produce_async
from bench.peers.saq_app import make_queue


async def _enqueue(n: int, warmup: int, job: str = "noop") -> float:
    queue = make_queue()
    await queue.connect()
    for i in range(warmup):
        await queue.enqueue(job, i=i)
    start = time.perf_counter()
    for i in range(n):
        await queue.enqueue(job, i=i)
    elapsed = time.perf_counter() - start
    await queue.disconnect()
    return elapsed


async def _produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    queue = make_queue()
    await queue.connect()

    async def one(seq: int, t: float) -> object:
        return await queue.enqueue("stamped", seq=seq, t=t)

    elapsed = await produce_async(one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle)
    await queue.disconnect()
    return elapsed


class SaqClient:
    """``bench.clientcli.Client`` for SAQ."""

    def setup(self) -> None:
        pass

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        return asyncio.run(_enqueue(n, warmup))

    def enqueue_many(self, n: int, chunk: int) -> float:
        raise SystemExit("SAQ has no bulk enqueue API")

    def fill(self, n: int, job: str) -> None:
        asyncio.run(_enqueue(n, 0, job))

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return asyncio.run(_produce(n, rate, probe_dir, idle))


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.saq_client", SaqClient())
