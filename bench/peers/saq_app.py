"""SAQ's worker settings: ``saq bench.peers.saq_app.settings`` (peers' venv).

Coroutine jobs that only call the completion probe (``sleep`` first awaits 10 ms); the
queue is named after the run's prefix; ``concurrency`` (SAQ's jobs at once per worker
process, default 10) comes from ``BENCH_CONCURRENCY``. Everything else is SAQ's default
(dequeue by blocking list move, no polling).
"""

from __future__ import annotations

import asyncio
from typing import Any

from saq import Queue

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()


def make_queue() -> Any:
    return Queue.from_url(env.redis_url(), name=env.prefix())


async def noop(ctx: Any, *, i: int) -> None:
    probe.hit()


async def stamped(ctx: Any, *, seq: int, t: float) -> None:
    probe.hit(seq, t)


async def sleep(ctx: Any, *, i: int) -> None:
    await asyncio.sleep(env.SLEEP_SECONDS)
    probe.hit()


settings = {
    "queue": make_queue(),
    "functions": [noop, stamped, sleep],
    "concurrency": env.concurrency(),
}
