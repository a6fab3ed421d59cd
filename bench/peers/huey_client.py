"""Huey's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.huey_client`` in the peers' venv.

- ``enqueue``: W1, calling the task (``noop(i)``) once per job: Huey's only enqueue API,
  synchronous. Huey has no bulk enqueue, so there is no W1b.
- ``fill``: the same calls, untimed; ``produce``: W3's paced producer.

The store is ``BENCH_HUEY_DB``; opening it happens before the clock starts.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import clientcli
from bench.pacing import produce
from bench.peers.huey_app import huey, noop, sleep, stamped


class HueyClient:
    """``bench.clientcli.Client`` for Huey."""

    def setup(self) -> None:
        huey.storage.conn  # noqa: B018 (opening the connection creates the tables)

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        self.setup()
        for i in range(warmup):
            noop(i)
        start = time.perf_counter()
        for i in range(n):
            noop(i)
        return time.perf_counter() - start

    def enqueue_many(self, n: int, chunk: int) -> float:
        raise SystemExit("Huey has no bulk enqueue API")

    def fill(self, n: int, job: str) -> None:
        task = sleep if job == "sleep" else noop
        for i in range(n):
            task(i)

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        self.setup()
        return produce(
            lambda seq, t: stamped(seq, t),
            n=n,
            rate=rate,
            probe_dir=probe_dir,
            idle_seconds=idle,
        )


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.huey_client", HueyClient())
