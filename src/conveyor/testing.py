"""Test helpers, shipped with the library (as Oban.Testing is).

- ``FakeClock``: pass to ``Conveyor(clock=...)`` to control "now" in the store;
- ``drain(app, timeout=...)``: run jobs in-process until nothing is runnable;
- ``run_duties(app)``: run each housekeeping duty once (reap, promote, janitor);
- ``ClaimBarrier``: hold a worker between claim and execution;
- ``wait_for_state(app, job_id, state, timeout=...)``: wait on the event log.

No helper sleeps for a fixed time; every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from conveyor.app import Conveyor
from conveyor.backends.base import ClaimedJob
from conveyor.clock import UTC
from conveyor.errors import JobNotFoundError
from conveyor.models import Job, JobId
from conveyor.states import JobState
from conveyor.worker.worker import WorkerHooks

__all__ = ["ClaimBarrier", "FakeClock", "drain", "run_duties", "wait_for_state"]


class FakeClock:
    """A clock that moves only when told. ``sleep`` advances it instead of waiting."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2030, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._monotonic = 0.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float | dt.timedelta) -> dt.datetime:
        """Move time forward; returns the new now."""
        delta = seconds if isinstance(seconds, dt.timedelta) else dt.timedelta(seconds=seconds)
        if delta < dt.timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now += delta
        self._monotonic += delta.total_seconds()
        return self._now


async def drain(
    app: Conveyor, *, timeout: float = 30.0, queues: Sequence[str] | None = None
) -> int:
    """Run jobs in-process until none is runnable; returns the attempts run."""
    return await app.drain(timeout=timeout, queues=queues)


async def run_duties(app: Conveyor) -> dict[str, int]:
    """Run each housekeeping duty once; returns what each did (rows touched)."""
    await app.open()
    return {duty.name: await duty.run_once() for duty in app.duties()}


class ClaimBarrier:
    """Holds a worker after it claims a batch, before the jobs start.

    >>> barrier = ClaimBarrier()
    >>> worker = app.worker(hooks=barrier.hooks())       # doctest: +SKIP
    >>> claimed = await barrier.wait_claimed(timeout=5)  # doctest: +SKIP
    >>> barrier.release()                                # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._claimed: asyncio.Queue[Sequence[ClaimedJob]] = asyncio.Queue()
        self._release = asyncio.Event()

    def hooks(self) -> WorkerHooks:
        return WorkerHooks(after_claim=self._after_claim)

    async def _after_claim(self, jobs: Sequence[ClaimedJob]) -> None:
        await self._claimed.put(jobs)
        await self._release.wait()

    async def wait_claimed(self, *, timeout: float = 10.0) -> Sequence[ClaimedJob]:
        """The next batch the worker claimed (it is held until ``release()``)."""
        async with asyncio.timeout(timeout):
            return await self._claimed.get()

    def release(self) -> None:
        """Let held and future batches run."""
        self._release.set()


async def wait_for_state(
    app: Conveyor,
    job_id: JobId,
    state: JobState | str,
    *,
    timeout: float = 10.0,
    poll_interval: float = 0.01,
) -> Job:
    """Wait until the event log shows ``job_id`` entering ``state``; return the job.

    Raises ``TimeoutError`` (naming the job's current state) if it does not happen in
    ``timeout`` seconds, and ``JobNotFoundError`` for an unknown job.
    """
    target = JobState(state)
    after = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                events = await app.events(job_id=job_id, after=after, limit=500)
                if any(e.state is target for e in events):
                    return await app.get(job_id)
                if events:
                    after = events[-1].id
                elif after == 0:
                    await app.get(job_id)  # raises JobNotFoundError for an unknown id
                await asyncio.sleep(poll_interval)
    except TimeoutError:
        try:
            current = (await app.get(job_id)).state.value
        except JobNotFoundError:
            current = "deleted"
        raise TimeoutError(
            f"job {job_id} did not reach {target.value} within {timeout:g} s (it is {current})"
        ) from None
