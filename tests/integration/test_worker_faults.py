"""The worker when handlers or the store misbehave: odd exceptions, busy threads, outages.

Each test bounds its waits; a regression shows as a failed assertion or a TimeoutError,
never as a hung run.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from conveyor import Conveyor, JobContext
from conveyor.backends.base import Outcome
from conveyor.errors import StoreUnavailableError
from conveyor.testing import FakeClock, drain, run_duties, wait_for_state


async def test_error_message_with_a_lone_surrogate_is_recorded(app: Conveyor) -> None:
    # A file name decoded with surrogateescape, quoted in an error message: not UTF-8.
    @app.job("read", max_attempts=1)
    async def read(payload: dict[str, int]) -> None:
        raise RuntimeError("cannot read /data/caf\udce9.txt")

    @app.job("fine")
    async def fine(payload: dict[str, int]) -> str:
        return "ok"

    bad = await read.enqueue({})
    good = await fine.enqueue({})
    async with asyncio.timeout(15):
        assert await drain(app, timeout=10) == 2
    dead = await app.get(bad.id)
    assert (dead.state, dead.reason) == ("dead", "error")
    assert dead.error == "RuntimeError: cannot read /data/caf\\udce9.txt"
    assert (await app.get(good.id)).state == "succeeded"


async def test_error_whose_str_fails_is_recorded(app: Conveyor) -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise AttributeError("detail")

    @app.job("broken", max_attempts=1)
    async def broken(payload: dict[str, int]) -> None:
        raise Broken

    job = await broken.enqueue({})
    async with asyncio.timeout(15):
        await drain(app, timeout=10)
    dead = await app.get(job.id)
    assert (dead.state, dead.reason) == ("dead", "error")
    assert dead.error is not None
    assert dead.error.startswith("test_error_whose_str_fails_is_recorded.<locals>.Broken")


async def test_cancelled_error_raised_by_the_handler_is_a_failure(app: Conveyor) -> None:
    # Awaiting something another party cancelled raises CancelledError in the handler
    # without the worker having cancelled anything: that is the handler failing.
    @app.job("awaits-cancelled", max_attempts=1)
    async def awaits_cancelled(payload: dict[str, int]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future

    job = await awaits_cancelled.enqueue({})
    async with asyncio.timeout(15):
        assert await drain(app, timeout=10) == 1
    dead = await app.get(job.id)
    assert (dead.state, dead.reason) == ("dead", "error")
    assert dead.error == "CancelledError"


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt()], ids=repr)
@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_system_exit_from_a_handler_fails_the_job_not_the_worker(
    app: Conveyor, error: BaseException, sync: bool
) -> None:
    def bail(payload: dict[str, int]) -> None:
        raise error

    async def bail_async(payload: dict[str, int]) -> None:
        raise error

    def on_dead(ctx: JobContext, failure: BaseException) -> None:
        raise failure  # the hook misbehaving the same way changes nothing either

    bails = app.job("bail", max_attempts=1, on_dead=on_dead)(bail if sync else bail_async)

    @app.job("fine")
    async def fine(payload: dict[str, int]) -> str:
        return "ok"

    bad = await bails.enqueue({})
    good = await fine.enqueue({})
    async with asyncio.timeout(15):
        assert await drain(app, timeout=10) == 2
    dead = await app.get(bad.id)
    assert (dead.state, dead.reason) == ("dead", "error")
    assert dead.error is not None
    assert dead.error.startswith(type(error).__name__)
    assert (await app.get(good.id)).state == "succeeded"


async def test_sync_timeout_counts_from_when_the_handler_starts(app: Conveyor) -> None:
    # One thread, held past its timeout by a handler that ignores ctx.cancelled: the
    # next sync job waits for the thread, and its timeout must not run out meanwhile
    # (nor may its handler start after its attempt was already recorded).
    ran: list[str] = []

    @app.job("hog", timeout=0.2, max_attempts=1)
    def hog(payload: dict[str, int]) -> None:
        time.sleep(1.0)  # the scenario: a handler that overstays its timeout

    @app.job("quick", timeout=0.2, max_attempts=1)
    def quick(payload: dict[str, int], ctx: JobContext) -> str:
        ran.append(ctx.job_id)
        return "done"

    hogging = await hog.enqueue({})
    waiting = await quick.enqueue({})
    worker = app.worker(concurrency=1, duties=False)
    run = asyncio.create_task(worker.run())
    try:
        assert (await wait_for_state(app, hogging.id, "dead", timeout=10)).reason == "timeout"
        done = await wait_for_state(app, waiting.id, "succeeded", timeout=10)
    finally:
        worker.stop()
        await asyncio.wait_for(run, 10)
    assert (done.result, done.attempts) == ("done", 1)
    assert ran == [waiting.id]


async def test_cancelled_sync_job_waiting_for_a_thread_never_starts(app: Conveyor) -> None:
    release = threading.Event()
    ran: list[str] = []

    @app.job("hog", timeout=0.1, max_attempts=1)
    def hog(payload: dict[str, int]) -> None:
        release.wait(10)  # overstays its timeout: its thread stays busy

    @app.job("record")
    def record(payload: dict[str, int], ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    hogging = await hog.enqueue({})
    worker = app.worker(concurrency=1, duties=False, cancel_poll=0.02, cancel_grace=0.05)
    run = asyncio.create_task(worker.run())
    try:
        await wait_for_state(app, hogging.id, "dead", timeout=10)
        victim = await record.enqueue({})  # waits in the pool behind the hog
        await wait_for_state(app, victim.id, "running", timeout=10)
        await app.cancel(victim.id)
        await wait_for_state(app, victim.id, "cancelled", timeout=10)
        sentinel = await record.enqueue({})  # queued in the pool behind the victim
        await wait_for_state(app, sentinel.id, "running", timeout=10)
        release.set()
        await wait_for_state(app, sentinel.id, "succeeded", timeout=10)
    finally:
        release.set()
        worker.stop()
        await asyncio.wait_for(run, 10)
    assert ran == [sentinel.id]  # the cancelled job's handler never started


async def test_drain_timeout_is_kept_while_the_store_rejects_outcomes(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    @app.job("noop")
    async def noop(payload: dict[str, int]) -> None:
        return None

    job = await noop.enqueue({})

    async def store_down(outcomes: Sequence[Outcome], **_: Any) -> list[str]:
        raise StoreUnavailableError("the store is down")

    monkeypatch.setattr(app.backend, "finish_many", store_down)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TimeoutError, match="still had work"):
        async with asyncio.timeout(15):
            await drain(app, timeout=0.5)
    assert loop.time() - began < 10
    monkeypatch.undo()
    assert (await app.get(job.id)).state == "running"  # its lease expires: it runs again


async def test_cancelled_drain_stops_its_worker_and_releases_the_job(app: Conveyor) -> None:
    # asyncio.wait_for(app.drain(), ...) giving up must not leave a worker running jobs
    # in the background of the caller's loop.
    started = asyncio.Event()

    @app.job("stuck")
    async def stuck(payload: dict[str, int]) -> None:
        started.set()
        await asyncio.Event().wait()

    job = await stuck.enqueue({})
    draining = asyncio.create_task(drain(app, timeout=30))
    async with asyncio.timeout(10):
        await started.wait()
    draining.cancel()
    async with asyncio.timeout(10):
        await asyncio.wait({draining})
    assert draining.cancelled()
    released = await app.get(job.id)
    assert (released.state, released.reason) == ("queued", "released")


async def test_stale_attempt_ending_late_leaves_the_new_attempt_tracked(
    app: Conveyor, clock: FakeClock
) -> None:
    # Attempt 1 overstays its lease (say the loop was blocked), is reaped, and this same
    # worker claims the job again. When attempt 1 finally ends, the worker must still
    # track attempt 2: heartbeat it, hear its cancel, wait for it at shutdown.
    started = {1: asyncio.Event(), 2: asyncio.Event()}
    finish_first = asyncio.Event()

    @app.job("slow", max_attempts=3)
    async def slow(payload: dict[str, int], ctx: JobContext) -> str:
        started[ctx.attempt].set()
        if ctx.attempt == 1:
            await finish_first.wait()
            return "late"
        await ctx.wait_cancelled()
        raise RuntimeError("stopped: cancelled")

    job = await slow.enqueue({})
    worker = app.worker(concurrency=2, duties=False, idle_poll=0.02, cancel_poll=0.02)
    run = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            await started[1].wait()
        clock.advance(app.settings.lease_seconds + 1)
        assert (await run_duties(app))["reap"] == 1
        async with asyncio.timeout(10):
            await started[2].wait()  # the same worker claimed it again
        finish_first.set()  # attempt 1 ends now; its outcome is rejected
        await app.cancel(job.id)
        cancelled = await wait_for_state(app, job.id, "cancelled", timeout=10)
    finally:
        finish_first.set()
        worker.stop()
        worker.stop()
        await asyncio.wait_for(run, 10)
    assert cancelled.attempts == 2
