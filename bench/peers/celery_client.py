"""Celery's side of the client workloads (``bench.clientcli``), run as
``python -m bench.peers.celery_client`` in the peers' venv: ``task.delay(i)`` one job
per call (Celery has no bulk publish: ``group`` sends one message per task)."""

from __future__ import annotations

import time
from pathlib import Path

from bench import clientcli
from bench.pacing import produce
from bench.peers.celery_app import noop, sleep, stamped


class CeleryClient:
    """``bench.clientcli.Client`` for Celery."""

    def setup(self) -> None:
        pass

    def enqueue(self, n: int, warmup: int, mode: str) -> float:
        for i in range(warmup):
            noop.delay(i)
        start = time.perf_counter()
        for i in range(n):
            noop.delay(i)
        return time.perf_counter() - start

    def enqueue_many(self, n: int, chunk: int) -> float:
        raise SystemExit("Celery has no bulk enqueue API")

    def fill(self, n: int, job: str) -> None:
        task = sleep if job == "sleep" else noop
        for i in range(n):
            task.delay(i)

    def produce(self, n: int, rate: float, probe_dir: Path, idle: float) -> float:
        return produce(
            lambda seq, t: stamped.delay(seq, t),
            n=n,
            rate=rate,
            probe_dir=probe_dir,
            idle_seconds=idle,
        )


if __name__ == "__main__":
    clientcli.main("python -m bench.peers.celery_client", CeleryClient())
