"""The worker against every real store: outcomes, retries, timeouts, cancel, leases."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest
from pydantic import BaseModel

from conveyor import Conveyor, Fail, JobContext, Retry, RetryPolicy
from conveyor.errors import InvalidTransitionError, JobNotFoundError
from conveyor.testing import ClaimBarrier, FakeClock, drain, run_duties, wait_for_state


class Add(BaseModel):
    a: int
    b: int


async def test_enqueue_drain_succeeds_with_result(app: Conveyor) -> None:
    @app.job("math.add")
    async def add(payload: Add, ctx: JobContext) -> int:
        return payload.a + payload.b

    job = await add.enqueue(Add(a=1, b=2))
    assert job.state == "queued"
    assert await drain(app, timeout=10) == 1
    done = await app.get(job.id)
    assert (done.state, done.result, done.attempts) == ("succeeded", 3, 1)
    assert done.started_at is not None
    assert done.finished_at is not None
    attempts = await app.attempts(job.id)
    assert [(a.number, a.outcome) for a in attempts] == [(1, "succeeded")]


async def test_sync_handler_runs_in_a_thread(app: Conveyor) -> None:
    seen: list[str] = []

    @app.job("sync")
    def work(payload: Add) -> int:
        seen.append(threading.current_thread().name)
        return payload.a * payload.b

    job = await work.enqueue({"a": 3, "b": 4})
    await drain(app, timeout=10)
    assert (await app.get(job.id)).result == 12
    assert seen[0].startswith("conveyor-job")


async def test_error_retries_with_backoff_then_dead(app: Conveyor, clock: FakeClock) -> None:
    @app.job("flaky", max_attempts=2, retry=RetryPolicy(base=5, cap=5))
    async def flaky(payload: dict[str, int]) -> None:
        raise RuntimeError("boom")

    job = await flaky.enqueue({})
    await drain(app, timeout=10)
    retrying = await app.get(job.id)
    assert retrying.state == "retrying"
    assert retrying.error == "RuntimeError: boom"
    assert clock.now() <= retrying.run_at <= clock.now() + dt.timedelta(seconds=5)
    assert await drain(app, timeout=10) == 0  # backoff not elapsed: nothing runnable
    clock.advance(5)
    await drain(app, timeout=10)
    dead = await app.get(job.id)
    assert (dead.state, dead.attempts, dead.reason) == ("dead", 2, "error")
    attempts = await app.attempts(job.id)
    assert [a.outcome for a in attempts] == ["error", "error"]
    assert attempts[0].error_type == "RuntimeError"
    assert attempts[0].traceback is not None
    assert "boom" in attempts[0].traceback


async def test_retry_signal_reschedules_explicitly(app: Conveyor, clock: FakeClock) -> None:
    runs: list[int] = []

    @app.job("again", max_attempts=3)
    async def again(payload: dict[str, int], ctx: JobContext) -> int:
        runs.append(ctx.attempt)
        if ctx.attempt == 1:
            raise Retry(after=dt.timedelta(seconds=30))
        return ctx.attempt

    job = await again.enqueue({})
    await drain(app, timeout=10)
    waiting = await app.get(job.id)
    assert waiting.state == "retrying"
    assert waiting.run_at == clock.now() + dt.timedelta(seconds=30)
    clock.advance(30)
    await drain(app, timeout=10)
    assert (await app.get(job.id)).result == 2
    assert runs == [1, 2]


async def test_fail_goes_dead_at_once_and_calls_on_dead(app: Conveyor) -> None:
    hooked: list[tuple[str, str]] = []

    async def on_dead(ctx: JobContext, error: BaseException) -> None:
        hooked.append((ctx.job_id, str(error)))

    @app.job("doomed", max_attempts=5, on_dead=on_dead)
    async def doomed(payload: dict[str, int]) -> None:
        raise Fail("bad input")

    job = await doomed.enqueue({})
    await drain(app, timeout=10)
    dead = await app.get(job.id)
    assert (dead.state, dead.attempts, dead.reason) == ("dead", 1, "fail")
    assert hooked == [(job.id, "bad input")]


async def test_failing_on_dead_hook_does_not_lose_the_outcome(app: Conveyor) -> None:
    def on_dead(ctx: JobContext, error: BaseException) -> None:
        raise ValueError("hook broke")

    @app.job("doomed", max_attempts=1, on_dead=on_dead)
    async def doomed(payload: dict[str, int]) -> None:
        raise RuntimeError("x")

    job = await doomed.enqueue({})
    await drain(app, timeout=10)
    assert (await app.get(job.id)).state == "dead"


async def test_manual_retry_of_a_dead_job(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job("once", max_attempts=1)
    async def once(payload: dict[str, int], ctx: JobContext) -> str:
        calls.append(ctx.attempt)
        if len(calls) == 1:
            raise RuntimeError("first time fails")
        return "ok"

    job = await once.enqueue({})
    await drain(app, timeout=10)
    assert (await app.get(job.id)).state == "dead"
    requeued = await app.retry(job.id)
    assert (requeued.state, requeued.reason) == ("queued", "manual_retry")
    await drain(app, timeout=10)
    done = await app.get(job.id)
    assert (done.state, done.result, done.attempts) == ("succeeded", "ok", 2)
    with pytest.raises(InvalidTransitionError, match="only dead jobs"):
        await app.retry(job.id)


async def test_async_handler_past_its_timeout(app: Conveyor) -> None:
    @app.job("hang", timeout=0.2, max_attempts=1)
    async def hang(payload: dict[str, int]) -> None:
        await asyncio.Event().wait()

    job = await hang.enqueue({})
    await drain(app, timeout=10)
    dead = await app.get(job.id)
    assert (dead.state, dead.reason) == ("dead", "timeout")
    assert dead.error is not None
    assert "timeout of 0.2 s" in dead.error


async def test_sync_handler_past_its_timeout(app: Conveyor) -> None:
    release = threading.Event()

    @app.job("hang-sync", timeout=0.2, max_attempts=1)
    def hang(payload: dict[str, int], ctx: JobContext) -> None:
        release.wait(10)

    job = await hang.enqueue({})
    try:
        await drain(app, timeout=10)
    finally:
        release.set()
    assert (await app.get(job.id)).reason == "timeout"


async def test_handler_that_raises_its_own_timeout_error_is_an_error(app: Conveyor) -> None:
    @app.job("own-timeout", timeout=30, max_attempts=1)
    async def own(payload: dict[str, int]) -> None:
        raise TimeoutError("upstream timed out")

    job = await own.enqueue({})
    await drain(app, timeout=10)
    assert (await app.get(job.id)).reason == "error"


async def test_unserialisable_result_is_dead_with_a_clear_error(app: Conveyor) -> None:
    @app.job("weird", max_attempts=3)
    async def weird(payload: dict[str, int]) -> object:
        return object()

    job = await weird.enqueue({})
    await drain(app, timeout=10)
    dead = await app.get(job.id)
    assert dead.state == "dead"
    assert dead.attempts == 1
    assert dead.error is not None
    assert "cannot be stored as JSON" in dead.error


async def test_cancel_a_running_job_is_observed_quickly(app: Conveyor) -> None:
    started = asyncio.Event()

    @app.job("long")
    async def long(payload: dict[str, int], ctx: JobContext) -> str:
        started.set()
        await ctx.wait_cancelled()
        raise RuntimeError("stopped because cancelled")

    job = await long.enqueue({})
    worker = app.worker(burst=True)
    run = asyncio.create_task(worker.run())
    async with asyncio.timeout(10):
        await started.wait()
    requested = await app.cancel(job.id)
    assert requested.state == "running"
    assert requested.cancel_requested
    loop = asyncio.get_running_loop()
    began = loop.time()
    await wait_for_state(app, job.id, "cancelled", timeout=5)
    assert loop.time() - began < 2.0
    await asyncio.wait_for(run, 10)
    assert [a.outcome for a in await app.attempts(job.id)] == ["cancelled"]


async def test_cancel_waiting_and_finished_jobs(app: Conveyor) -> None:
    @app.job("noop")
    async def noop(payload: dict[str, int]) -> None:
        return None

    waiting = await noop.enqueue({}, delay=60)
    cancelled = await app.cancel(waiting.id)
    assert (cancelled.state, cancelled.reason) == ("cancelled", "cancelled")
    assert (await app.cancel(waiting.id)).state == "cancelled"  # idempotent
    done = await noop.enqueue({})
    await drain(app, timeout=10)
    with pytest.raises(InvalidTransitionError, match="succeeded"):
        await app.cancel(done.id)
    with pytest.raises(JobNotFoundError):
        await app.cancel("no-such-job")


async def test_delay_and_expiry(app: Conveyor, clock: FakeClock) -> None:
    @app.job("later")
    async def later(payload: dict[str, int]) -> str:
        return "ran"

    delayed = await later.enqueue({}, delay=10)
    assert delayed.state == "scheduled"
    expiring = await later.enqueue({}, delay=10, expire_at=clock.now() + dt.timedelta(seconds=5))
    assert await drain(app, timeout=10) == 0
    clock.advance(10)
    assert await drain(app, timeout=10) == 1
    assert (await app.get(delayed.id)).result == "ran"
    expired = await app.get(expiring.id)
    assert (expired.state, expired.reason) == ("cancelled", "expired")


async def test_late_finish_from_a_worker_that_lost_its_lease_is_rejected(
    app: Conveyor, clock: FakeClock
) -> None:
    ran_by: list[str] = []

    @app.job("once")
    async def once(payload: dict[str, int], ctx: JobContext) -> str:
        ran_by.append(ctx.worker_id)
        return ctx.worker_id

    job = await once.enqueue({})
    barrier = ClaimBarrier()
    slow = app.worker(burst=True, hooks=barrier.hooks(), duties=False, worker_id="slow")
    slow_run = asyncio.create_task(slow.run())
    claimed = await barrier.wait_claimed(timeout=10)
    assert [c.id for c in claimed] == [job.id]

    clock.advance(app.settings.lease_seconds + 1)  # the slow worker misses its lease
    assert (await run_duties(app))["reap"] == 1
    reaped = await app.get(job.id)
    assert (reaped.state, reaped.reason) == ("queued", "lease_expired")
    fast = app.worker(burst=True, duties=False, worker_id="fast")
    await asyncio.wait_for(fast.run(), 10)
    assert (await app.get(job.id)).result == "fast"

    barrier.release()  # the slow worker now runs and tries to finish
    await asyncio.wait_for(slow_run, 10)
    final = await app.get(job.id)
    assert ran_by == ["fast", "slow"]
    assert (final.state, final.result, final.attempts) == ("succeeded", "fast", 2)
    outcomes = [a.outcome for a in await app.attempts(job.id)]
    assert outcomes == ["lease_expired", "succeeded"]


async def test_crash_rescue_counts_as_attempt_and_poison_goes_dead(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job("poison", max_attempts=1)
    async def poison(payload: dict[str, int]) -> None:
        return None

    job = await poison.enqueue({})
    barrier = ClaimBarrier()
    # duties=False: the worker's own reaper (every 2 s of real time, on the fake clock)
    # must not race run_duties below; with SKIP LOCKED, the loser reaps nothing and the
    # job still reads as running (seen once in CI).
    stuck_worker = app.worker(burst=True, hooks=barrier.hooks(), duties=False)
    stuck = asyncio.create_task(stuck_worker.run())
    await barrier.wait_claimed(timeout=10)
    clock.advance(app.settings.lease_seconds + 1)
    await run_duties(app)
    dead = await app.get(job.id)
    assert (dead.state, dead.reason) == ("dead", "lease_expired")
    barrier.release()
    await asyncio.wait_for(stuck, 10)
    assert (await app.get(job.id)).state == "dead"


async def test_idempotency_key_returns_the_existing_job(app: Conveyor) -> None:
    @app.job("once")
    async def once(payload: dict[str, int]) -> None:
        return None

    first = await app.enqueue("once", {}, idempotency_key="k1")
    second = await app.enqueue("once", {}, idempotency_key="k1")
    other_tenant = await app.enqueue("once", {}, idempotency_key="k1", tenant="acme")
    assert first.id == second.id
    assert other_tenant.id != first.id
    assert other_tenant.tenant == "acme"


async def test_results_are_pruned_after_the_ttl(app: Conveyor, clock: FakeClock) -> None:
    @app.job("noop")
    async def noop(payload: dict[str, int]) -> int:
        return 1

    job = await noop.enqueue({})
    await drain(app, timeout=10)
    clock.advance(app.settings.result_ttl - dt.timedelta(seconds=1))
    assert (await run_duties(app))["janitor"] == 0
    clock.advance(2)
    assert (await run_duties(app))["janitor"] == 1
    with pytest.raises(JobNotFoundError):
        await app.get(job.id)


async def test_list_filters_and_pages(app: Conveyor) -> None:
    @app.job("noop")
    async def noop(payload: dict[str, int]) -> None:
        return None

    jobs = await noop.enqueue_many([{} for _ in range(7)], tenant="acme")
    await noop.enqueue({}, tenant="other")
    page = await app.list(tenant="acme", limit=3)
    seen = [j.id for j in page.items]
    while page.next_cursor:
        page = await app.list(tenant="acme", limit=3, cursor=page.next_cursor)
        seen += [j.id for j in page.items]
    assert seen == sorted((j.id for j in jobs), reverse=True)  # newest first, each once
    assert (await app.list(state="queued", type="noop", limit=50)).items[0].state == "queued"


async def test_enqueue_sync_from_a_plain_thread(app: Conveyor) -> None:
    @app.job("math.add")
    async def add(payload: Add) -> int:
        return payload.a + payload.b

    job = await asyncio.to_thread(add.enqueue_sync, Add(a=2, b=2))
    await drain(app, timeout=10)
    assert (await app.get(job.id)).result == 4


async def test_enqueue_sync_inside_a_running_loop_is_refused(app: Conveyor) -> None:
    @app.job("noop")
    async def noop(payload: dict[str, int]) -> None:
        return None

    with pytest.raises(RuntimeError, match="await the async method"):
        noop.enqueue_sync({})


async def test_unknown_job_id(app: Conveyor) -> None:
    with pytest.raises(JobNotFoundError, match="no-such"):
        await app.get("no-such")
    with pytest.raises(JobNotFoundError):
        await app.attempts("no-such")


async def test_a_mass_of_jobs_falling_due_at_once_all_run(app: Conveyor, clock: FakeClock) -> None:
    @app.job("later")
    async def later(payload: dict[str, int]) -> None:
        return None

    await later.enqueue_many([{} for _ in range(1200)], delay=60)
    clock.advance(61)
    assert await drain(app, timeout=30) == 1200  # claims promote in bounded steps
    assert (await app.stats()).states["succeeded"] == 1200


async def test_drain_past_its_timeout_raises_and_releases_the_job(app: Conveyor) -> None:
    @app.job("stuck")
    async def stuck(payload: dict[str, int]) -> None:
        await asyncio.Event().wait()

    job = await stuck.enqueue({})
    with pytest.raises(TimeoutError, match="still had work"):
        await drain(app, timeout=0.5)
    released = await app.get(job.id)
    assert (released.state, released.reason) == ("queued", "released")
    assert [a.outcome for a in await app.attempts(job.id)] == ["released"]


async def test_handler_that_returns_after_a_cancel_ends_cancelled(app: Conveyor) -> None:
    started = asyncio.Event()

    @app.job("polite")
    async def polite(payload: dict[str, int], ctx: JobContext) -> str:
        started.set()
        await ctx.wait_cancelled()
        return "partial"  # stops as asked, by returning

    job = await polite.enqueue({})
    run = asyncio.create_task(app.worker(burst=True).run())
    async with asyncio.timeout(10):
        await started.wait()
    await app.cancel(job.id)
    done = await wait_for_state(app, job.id, "cancelled", timeout=5)
    assert (done.reason, done.result) == ("cancelled", None)
    await asyncio.wait_for(run, 10)


async def test_shutdown_does_not_wait_forever_for_a_handler_that_ignores_cancellation(
    app: Conveyor,
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @app.job("stubborn")
    async def stubborn(payload: dict[str, int]) -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows every cancellation: a badly behaved handler

    await stubborn.enqueue({})
    worker = app.worker(shutdown_timeout=0.1, release_grace=0.2)
    run = asyncio.create_task(worker.run())
    async with asyncio.timeout(10):
        await started.wait()
    worker.stop()
    try:
        await asyncio.wait_for(asyncio.shield(run), 10)  # returns after the grace
    finally:
        release.set()
        await asyncio.wait_for(run, 10)


async def test_an_outcome_the_store_rejects_costs_only_its_own_job(app: Conveyor) -> None:
    @app.job("far", max_attempts=5)
    async def far(payload: dict[str, int]) -> None:
        raise Retry(after=1e300)  # finite, but no store can hold a run_at that far away

    @app.job("fine")
    async def fine(payload: dict[str, int]) -> str:
        return "ok"

    bad = await far.enqueue({})
    good = [await fine.enqueue({}) for _ in range(3)]
    await drain(app, timeout=10)  # must not wedge on the bad outcome
    assert [(await app.get(j.id)).result for j in good] == ["ok", "ok", "ok"]
    assert (await app.get(bad.id)).state == "running"  # until its lease expires


async def test_sync_twins_and_last_attempt_flag(app: Conveyor) -> None:
    seen: list[bool] = []

    @app.job("count", max_attempts=2)
    async def count(payload: Add, ctx: JobContext) -> int:
        seen.append(ctx.is_last_attempt)
        if ctx.attempt == 1:
            raise Retry(after=0)
        return payload.a + payload.b

    jobs = await asyncio.to_thread(count.enqueue_many_sync, [Add(a=1, b=1), Add(a=2, b=2)])
    await drain(app, timeout=10)
    done = [await asyncio.to_thread(app.get_sync, job.id) for job in jobs]
    assert [(j.state, j.result) for j in done] == [("succeeded", 2), ("succeeded", 4)]
    assert sorted(seen) == [False, False, True, True]
