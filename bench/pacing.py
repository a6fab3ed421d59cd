"""The enqueue-to-start latency producer (W3), shared by every library's client.

One warm-up job first: the producer waits until a worker has run it (a probe file
counts one hit), so worker start-up is not counted, then leaves the worker idle for
``idle_seconds``, as a real worker between bursts would be. Then ``n`` jobs are
enqueued one at a time on a fixed schedule of ``rate`` jobs per second (not "as fast
as possible": the point is how soon an *idle* worker starts a job). Each job carries
its sequence number and the wall-clock time read just before its enqueue call, so the
latency includes the enqueue itself, as the user who enqueued it would see it.

Standard library only: this module is imported inside every peer's venv.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.probe import read_totals

WARMUP_SEQ = -1

Enqueue = Callable[[int, float], None]
AsyncEnqueue = Callable[[int, float], Awaitable[object]]


def wait_for_first_hit(probe_dir: Path, timeout: float = 60.0) -> None:
    """Poll the probe files until a worker has started a job.

    Raises ``TimeoutError`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while read_totals(probe_dir).count == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no job started under {probe_dir} within {timeout:g}s")
        time.sleep(0.002)


def produce(
    enqueue: Enqueue, *, n: int, rate: float, probe_dir: Path, idle_seconds: float
) -> float:
    """Run the W3 schedule with a synchronous ``enqueue(seq, t)``; return the seconds
    the paced part took."""
    enqueue(WARMUP_SEQ, time.time())
    wait_for_first_hit(probe_dir)
    time.sleep(idle_seconds)
    start = time.monotonic()
    for seq in range(n):
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        enqueue(seq, time.time())
    return time.monotonic() - start


async def produce_async(
    enqueue: AsyncEnqueue, *, n: int, rate: float, probe_dir: Path, idle_seconds: float
) -> float:
    """``produce`` for an async ``enqueue(seq, t)``."""
    await enqueue(WARMUP_SEQ, time.time())
    await asyncio.to_thread(wait_for_first_hit, probe_dir)
    await asyncio.sleep(idle_seconds)
    start = time.monotonic()
    for seq in range(n):
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await enqueue(seq, time.time())
    return time.monotonic() - start
