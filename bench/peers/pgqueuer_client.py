"""PgQueuer's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.pgqueuer_client`` in the peers' venv.

``setup`` installs PgQueuer's schema (``Queries.install``, what ``pgq install`` does);
W1 is ``await queries.enqueue("noop", payload)`` one job per call; W1b the same call
with lists (PgQueuer's batch insert) in chunks.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from pgqueuer.queries import Queries

from bench import clientcli
from bench.pacing import produce_async
from bench.peers.pgqueuer_app import connect


def _payload(i: int) -> bytes:
    return json.dumps({"i": i}).encode()


async def _setup() -> None:
    await Queries(await connect()).install()


async def _enqueue(n: int, warmup: int) -> float:
    queries = Queries(await connect())
    for i in range(warmup):
        await queries.enqueue("noop", _payload(i))
    start = time.perf_counter()
    for i in range(n):
        await queries.enqueue("noop", _payload(i))
    return time.perf_counter() - start


async def _enqueue_many(n: int, chunk: int, job: str = "noop") -> float:
    queries = Queries(await connect())
    size = chunk or n
    start = time.perf_counter()
    for low in range(0, n, size):
        count = min(low + size, n) - low
        payloads: list[bytes | None] = [_payload(i) for i in range(low, low + count)]
        await queries.enqueue([job] * count, payloads, [0] * count)
    return time.perf_counter() - start


async def _produce(n: int, rate: float, probe_dir: Path, idle: float) -> float:
    queries = Queries(await connect())

    async def one(seq: int, t: float) -> object:
        return await queries.enqueue("stamped", json.dumps({"seq": seq, "t": t}).encode())

    return await produce_async(one, n=n, rate=rate, probe_dir=probe_dir, idle_seconds=idle)


class PgQueuerClient:
    """``bench.clientcli.Client`` for PgQueuer."""

    def setup(self) -> None:
        asyncio.run(_setup())

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        return asyncio.run(_enqueue(n, warmup))

    def enqueue_many(self, n: int, chunk: int) -> float:
        return asyncio.run(_enqueue_many(n, chunk))

    def fill(self, n: int, job: str) -> None:
        asyncio.run(_enqueue_many(n, 1000, job))

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return asyncio.run(_produce(n, rate, probe_dir, idle))


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.pgqueuer_client", PgQueuerClient())
