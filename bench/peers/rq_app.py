"""RQ's job functions (peers' venv), run by ``rq worker -w rq.worker.SimpleWorker``.

Functions that only call the completion probe. RQ's default ``Worker`` forks a work
horse per job, which its docs describe as the price of isolation; for throughput they
point to ``SimpleWorker``, which runs jobs in the worker process itself: the harness
uses it. An RQ worker runs one job at a time (no thread or async pool), so RQ takes no
part in W4.
"""

from __future__ import annotations

import time

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()


def noop(i: int) -> None:
    probe.hit()


def stamped(seq: int, t: float) -> None:
    probe.hit(seq, t)


def sleep(i: int) -> None:
    time.sleep(env.SLEEP_SECONDS)
    probe.hit()
