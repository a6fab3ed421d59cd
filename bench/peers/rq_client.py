"""RQ's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.rq_client`` in the peers' venv: ``queue.enqueue(noop, i)`` one
job per call; W1b with ``queue.enqueue_many`` (one pipeline per chunk). The queue is
named after the run's prefix, in the peers' Redis db."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue

from bench import clientcli
from bench.pacing import produce
from bench.peers import env
from bench.peers.rq_app import noop, sleep, stamped


def make_queue() -> Any:
    return Queue(env.prefix(), connection=Redis.from_url(env.redis_url()))


class RqClient:
    """``bench.clientcli.Client`` for RQ."""

    def setup(self) -> None:
        pass

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        queue = make_queue()
        for i in range(warmup):
            queue.enqueue(noop, i)
        start = time.perf_counter()
        for i in range(n):
            queue.enqueue(noop, i)
        return time.perf_counter() - start

    def enqueue_many(self, n: int, chunk: int, job: Any = noop) -> float:
        queue = make_queue()
        size = chunk or n
        start = time.perf_counter()
        for low in range(0, n, size):
            batch = [Queue.prepare_data(job, (i,)) for i in range(low, min(low + size, n))]
            queue.enqueue_many(batch)
        return time.perf_counter() - start

    def fill(self, n: int, job: str) -> None:
        self.enqueue_many(n, 1000, sleep if job == "sleep" else noop)

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        queue = make_queue()
        return produce(
            lambda seq, t: queue.enqueue(stamped, seq, t),
            n=n,
            rate=rate,
            probe_dir=probe_dir,
            idle_seconds=idle,
        )


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.rq_client", RqClient())
