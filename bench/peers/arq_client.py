"""arq's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.arq_client`` in arq's venv: ``await pool.enqueue_job(name, i)``
one job per call (arq has no bulk enqueue)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from arq import create_pool

from bench import clientcli
from bench.pacing import produce_async
from bench.peers.arq_app import QUEUE, redis_settings


async def _pool() -> Any:
    return await create_pool(redis_settings(), default_queue_name=QUEUE)


async def _enqueue(n: int, warmup: int, job: str = "noop") -> float:
    pool = await _pool()
    for i in range(warmup):
        await pool.enqueue_job(job, i)
    start = time.perf_counter()
    for i in range(n):
        await pool.enqueue_job(job, i)
    elapsed = time.perf_counter() - start
    await pool.aclose()
    return elapsed


async def _produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    pool = await _pool()

    async def one(seq: int, t: float) -> object:
        return await pool.enqueue_job("stamped", seq, t)

    elapsed = await produce_async(one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle)
    await pool.aclose()
    return elapsed


class ArqClient:
    """``bench.clientcli.Client`` for arq."""

    def setup(self) -> None:
        pass

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        return asyncio.run(_enqueue(n, warmup))

    def enqueue_many(self, n: int, chunk: int) -> float:
        raise SystemExit("arq has no bulk enqueue API")

    def fill(self, n: int, job: str) -> None:
        asyncio.run(_enqueue(n, 0, job))

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return asyncio.run(_produce(n, rate, probe_dir, idle))


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.arq_client", ArqClient())
