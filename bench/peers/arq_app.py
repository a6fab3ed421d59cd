"""The arq worker's settings: ``arq bench.peers.arq_app.WorkerSettings`` (arq's venv).

Coroutine jobs that only call the completion probe (``sleep`` first awaits 10 ms).
Tuned for throughput as arq's docs allow: ``max_jobs`` (concurrent jobs, from
``BENCH_CONCURRENCY``), ``poll_delay`` 0.01 s (default 0.5 s: an idle worker would wait
up to half a second for new jobs), and results not kept (``keep_result=0``; no
caller reads them). The queue is named after the run's prefix.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import RedisSettings

from bench.peers import env
from bench.probe import probe_from_env

probe = probe_from_env()
QUEUE = f"{env.prefix()}:arq:queue"


async def noop(ctx: dict[str, Any], i: int) -> None:
    probe.hit()


async def stamped(ctx: dict[str, Any], seq: int, t: float) -> None:
    probe.hit(seq, t)


async def sleep(ctx: dict[str, Any], i: int) -> None:
    await asyncio.sleep(env.SLEEP_SECONDS)
    probe.hit()


def redis_settings() -> Any:
    return RedisSettings.from_dsn(env.redis_url())


class WorkerSettings:
    """arq's worker configuration class."""

    functions = (noop, stamped, sleep)
    redis_settings = redis_settings()
    queue_name = QUEUE
    max_jobs = env.concurrency()
    poll_delay = 0.01
    keep_result = 0
