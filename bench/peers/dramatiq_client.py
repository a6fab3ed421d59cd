"""Dramatiq's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.dramatiq_client`` in the peers' venv: ``actor.send(i)`` one job
per call (Dramatiq has no bulk enqueue: ``group`` sends one message per job)."""

from __future__ import annotations

import time
from pathlib import Path

from bench import clientcli
from bench.pacing import produce
from bench.peers.dramatiq_app import noop, sleep, stamped


class DramatiqClient:
    """``bench.clientcli.Client`` for Dramatiq."""

    def setup(self) -> None:
        pass

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        for i in range(warmup):
            noop.send(i)
        start = time.perf_counter()
        for i in range(n):
            noop.send(i)
        return time.perf_counter() - start

    def enqueue_many(self, n: int, chunk: int) -> float:
        raise SystemExit("Dramatiq has no bulk enqueue API")

    def fill(self, n: int, job: str) -> None:
        actor = sleep if job == "sleep" else noop
        for i in range(n):
            actor.send(i)

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return produce(
            lambda seq, t: stamped.send(seq, t),
            n=n,
            rate=rate,
            probe_dir=probe_dir,
            idle_seconds=idle,
        )


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.dramatiq_client", DramatiqClient())
