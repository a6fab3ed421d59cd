"""The conveyor app the benchmark's workers run: ``bench.apps.conveyor_noop:app``.

Job types whose handlers only call the completion probe (``bench.probe``):
``bench.noop`` for the enqueue and drain workloads, ``bench.stamped``, whose payload
carries the enqueue time, for enqueue-to-start latency, and ``bench.sleep`` (W4), which
awaits 10 ms of ``asyncio.sleep`` (a stand-in for a job waiting on I/O) and then
calls the probe, so W4 counts finished jobs. Handlers are
``async def``, conveyor's native form (sync handlers would add a thread-pool hop per
job). The store is ``CONVEYOR_URL``, set by the harness.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from bench.probe import probe_from_env
from conveyor import Conveyor

app = Conveyor()
probe = probe_from_env()


class Noop(BaseModel):
    """A payload as small as a real job's: one integer."""

    i: int


class Stamped(BaseModel):
    """A latency job: its sequence number and the wall-clock time of its enqueue."""

    seq: int
    t: float


@app.job("bench.noop")
async def noop(payload: Noop) -> None:
    """Count the job as run."""
    probe.hit()


@app.job("bench.stamped")
async def stamped(payload: Stamped) -> None:
    """Record how long after its enqueue this job started."""
    probe.hit(payload.seq, payload.t)


#: W4's simulated I/O wait, seconds.
SLEEP_SECONDS = 0.01


@app.job("bench.sleep")
async def sleep(payload: Noop) -> None:
    """Wait for 10 ms of simulated I/O, then count the job as done."""
    await asyncio.sleep(SLEEP_SECONDS)
    probe.hit()
