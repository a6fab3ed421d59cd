"""The worker: claim loop, bounded concurrency, lease heartbeats, batched acks, drain.

One worker runs in one event loop. Its tasks, all owned by one ``TaskGroup``:

- the claim loop asks the store for as many jobs as it has free slots (one call per
  batch) and starts one task per job; when the queues are empty it sleeps until the
  store's wake-up iterator fires;
- the ack loop flushes finished outcomes in batches with ``finish_many``;
- the heartbeat loop renews every held lease in one ``extend_leases`` call, and stops
  jobs whose lease was lost;
- the cancel watcher polls for ``app.cancel`` requests on running jobs;
- the duty loop reaps expired leases, promotes due jobs and prunes old results.

Shutdown order (``stop()``, SIGTERM/SIGINT): stop claiming, let running jobs finish up
to ``shutdown_timeout``, cancel the rest and give their leases back (``released``),
flush every outcome, then stop the loops. A second ``stop()`` skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from conveyor.backends.base import Backend, ClaimedJob, ClaimParams, Lease, LeaseParams, Outcome
from conveyor.errors import StoreUnavailableError
from conveyor.jobs import JobType
from conveyor.scheduler import Duty, run_duties_forever
from conveyor.states import JobState
from conveyor.worker.context import JobContext
from conveyor.worker.executor import CANCEL_REQUESTED, LEASE_LOST, SHUTDOWN, Executor

log = logging.getLogger("conveyor.worker")

_FIRST_BACKOFF = 0.1
ClaimHook = Callable[[Sequence[ClaimedJob]], Awaitable[None]]
NowFn = Callable[[], Any]


@dataclass(slots=True, kw_only=True)
class WorkerHooks:
    """Test signals (River's TestSignal, GUSTO's barriers): no-ops in production.

    ``after_claim`` runs after a batch is claimed and before its jobs start, so a test
    can hold a worker between claim and execution (``conveyor.testing.ClaimBarrier``).
    """

    after_claim: ClaimHook | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """How a worker runs. ``burst``: return once nothing is runnable."""

    queues: Sequence[str] = ("default",)
    concurrency: int = 16
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    shutdown_timeout: float = 30.0
    burst: bool = False
    ack_batch: int = 100
    ack_delay: float = 0.005
    cancel_poll: float = 0.5
    cancel_grace: float = 5.0
    release_grace: float = 5.0  # how long cancelled handlers get to unwind at shutdown
    idle_poll: float = 1.0
    worker_id: str = field(default_factory=lambda: default_worker_id())


def default_worker_id() -> str:
    """``host:pid:random``: unique per worker, readable in attempt history."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(slots=True, eq=False)
class _Running:
    job: ClaimedJob
    ctx: JobContext
    task: asyncio.Task[None] | None = None
    hard_cancel: asyncio.TimerHandle | None = None


class Worker:
    """Runs jobs of ``registry`` from ``backend`` (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        registry: Mapping[str, JobType[Any, Any]],
        config: WorkerConfig,
        *,
        now: NowFn,
        duties: Sequence[Duty] = (),
        hooks: WorkerHooks | None = None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.id = config.worker_id
        self.hooks = hooks or WorkerHooks()
        self.processed = 0
        self._now = now
        self._duties = duties
        self._threads = ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="conveyor-job"
        )
        self._executor = Executor(registry, threads=self._threads)
        self._running: dict[str, _Running] = {}
        self._outcomes: list[Outcome] = []
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()  # second stop(): skip the drain wait
        self._closing = asyncio.Event()  # background loops end
        self._wake = asyncio.Event()  # new work may be runnable
        self._slot_freed = asyncio.Event()
        self._acks_pending = asyncio.Event()
        self._acks_full = asyncio.Event()
        self._acks_idle = asyncio.Event()
        self._acks_idle.set()
        self._claim_backoff = _FIRST_BACKOFF

    # -- control ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to stop gracefully; a second call stops waiting for jobs."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()
        self._wake.set()
        self._slot_freed.set()

    async def run(self) -> int:
        """Work until ``stop()`` (or, in burst mode, until nothing is runnable).
        Returns how many attempts this worker finished."""
        log.info("worker %s starting on queues %s", self.id, ",".join(self.config.queues))
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._ack_loop())
                group.create_task(self._heartbeat_loop())
                group.create_task(self._cancel_watch_loop())
                wakeup_task = group.create_task(self._wakeup_loop())
                if self._duties:
                    group.create_task(run_duties_forever(self._duties, self._closing))
                try:
                    await self._claim_loop()
                finally:
                    await self._drain_running()
                    await self._flush_all_acks()
                    self._closing.set()
                    self._acks_pending.set()  # let the ack loop see _closing
                    wakeup_task.cancel()
        finally:
            self._threads.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped after %d attempts", self.id, self.processed)
        return self.processed

    # -- claiming ---------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        idle_checks = 0
        while not self._stopping.is_set():
            free = self.config.concurrency - len(self._running)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._wake.clear()
            claimed = await self._claim(free)
            if claimed is None:
                continue
            if claimed:
                idle_checks = 0
                await self._start(claimed)
                continue
            if self.config.burst:
                # Nothing runnable now: finish what runs, flush acks (a retry may become
                # runnable), and look once more before calling it a day.
                await self._wait_running_done()
                await self._flush_all_acks()
                idle_checks += 1
                if idle_checks >= 2 and not self._running:
                    return
                continue
            await self._wait_for_work()

    async def _claim(self, limit: int) -> list[ClaimedJob] | None:
        """One claim; ``None`` after a store error (logged, then a pause that grows
        while errors last, so a store outage is survived without hammering it)."""
        try:
            claimed = await self.backend.claim_batch(
                ClaimParams(
                    queues=self.config.queues,
                    limit=limit,
                    worker_id=self.id,
                    lease_seconds=self.config.lease_seconds,
                    now=self._now(),
                )
            )
        except Exception:
            if self.config.burst:
                raise  # drain() and --burst report the failure instead of waiting it out
            log.exception("could not claim jobs; trying again in %.1fs", self._claim_backoff)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._claim_backoff):
                    await self._stopping.wait()
            self._claim_backoff = min(self._claim_backoff * 2, 5.0)
            return None
        self._claim_backoff = _FIRST_BACKOFF
        return claimed

    async def _start(self, claimed: Sequence[ClaimedJob]) -> None:
        if self.hooks.after_claim is not None:
            await self.hooks.after_claim(claimed)
        for job in claimed:
            ctx = JobContext(
                job_id=job.id,
                job_type=job.type,
                attempt=job.attempt,
                max_attempts=job.max_attempts,
                queue=job.queue,
                priority=job.priority,
                tenant=job.tenant,
                idempotency_key=job.idempotency_key,
                worker_id=self.id,
                meta_json=job.meta_json,
            )
            running = _Running(job, ctx)
            self._running[job.id] = running
            running.task = asyncio.create_task(self._execute(running), name=f"job-{job.id}")

    async def _execute(self, running: _Running) -> None:
        try:
            outcome = await self._executor.run(running.job, running.ctx)
        finally:
            if running.hard_cancel is not None:
                running.hard_cancel.cancel()
            if self._running.get(running.job.id) is running:
                # Not a newer attempt of the same job that this worker claimed after
                # this one lost its lease.
                del self._running[running.job.id]
            self.processed += 1
            self._slot_freed.set()
        if outcome is not None:
            self._outcomes.append(outcome)
            self._acks_pending.set()
            if len(self._outcomes) >= self.config.ack_batch:
                self._acks_full.set()

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.idle_poll):
                await self._wake.wait()

    async def _wakeup_loop(self) -> None:
        """Turn the store's wake-up iterator into the ``_wake`` event (cancelled at close)."""
        async with contextlib.aclosing(self.backend.wakeups(self.config.queues)) as wakeups:
            async for _ in wakeups:
                self._wake.set()

    # -- acknowledging ----------------------------------------------------------------

    async def _ack_loop(self) -> None:
        while not self._closing.is_set():
            self._acks_idle.set()
            await self._acks_pending.wait()
            self._acks_idle.clear()
            if len(self._outcomes) < self.config.ack_batch:
                # Give finishing siblings a few ms to join the batch.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.ack_delay):
                        await self._acks_full.wait()
            await self._flush_acks()

    async def _flush_acks(self) -> None:
        batch, self._outcomes = self._outcomes, []
        self._acks_pending.clear()
        self._acks_full.clear()
        if not batch:
            return
        applied = await self._finish_with_retries(batch)
        if len(applied) != len(batch):
            lost = {o.job_id for o in batch} - set(applied)
            log.info("ignored %d outcome(s) for jobs whose lease was lost: %s", len(lost), lost)
        if any(o.state in (JobState.RETRYING, JobState.QUEUED) for o in batch):
            self._wake.set()  # a retry with no backoff is runnable at once

    async def _finish_with_retries(self, batch: list[Outcome]) -> list[str]:
        """``finish_many`` until it succeeds, or a second ``stop()`` says not to wait: only
        then are outcomes dropped. If the store stays down past the lease, the jobs run
        again elsewhere (at-least-once)."""
        delay = 0.05
        while True:
            try:
                return await self.backend.finish_many(batch, now=self._now())
            except StoreUnavailableError as exc:
                if self._hurry.is_set():
                    log.error(
                        "could not record %d outcome(s) (%s); not waiting any longer "
                        "(stopping now): their jobs run again once their leases expire",
                        len(batch),
                        exc,
                    )
                    return []
                log.warning(
                    "could not record %d outcome(s) (%s); retry in %.2fs", len(batch), exc, delay
                )
            except Exception:  # one bad outcome must not wedge the batch: split it
                if len(batch) > 1:
                    return await self._finish_one_by_one(batch)
                log.exception("could not record the outcome of job %s; dropped", batch[0].job_id)
                return []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._hurry.wait()
            delay = min(delay * 2, 5.0)

    async def _finish_one_by_one(self, batch: list[Outcome]) -> list[str]:
        """Record a batch that failed as a whole one outcome at a time, so an outcome the
        store rejects (a bug, a value it cannot hold) costs only its own job: that job
        stays ``running`` until its lease expires and the reaper takes it back."""
        applied: list[str] = []
        for outcome in batch:
            applied += await self._finish_with_retries([outcome])
        return applied

    async def _flush_all_acks(self) -> None:
        while self._outcomes:
            await self._flush_acks()
        await self._acks_idle.wait()

    # -- leases and cancellation ------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.heartbeat_seconds):
                    await self._closing.wait()
            if self._running and not self._closing.is_set():
                await self._heartbeat()

    async def _heartbeat(self) -> None:
        held = list(self._running.values())
        try:
            kept = set(
                await self.backend.extend_leases(
                    LeaseParams(
                        leases=[Lease(r.job.id, r.job.lease_token) for r in held],
                        lease_seconds=self.config.lease_seconds,
                        now=self._now(),
                    )
                )
            )
        except Exception:
            log.exception("could not renew %d lease(s)", len(held))
            return
        for running in held:
            if running.job.id not in kept and running.job.id in self._running:
                log.warning("lost the lease on job %s; stopping it", running.job.id)
                self._interrupt(running, LEASE_LOST, grace=0.0)

    async def _cancel_watch_loop(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.cancel_poll):
                    await self._closing.wait()
            if not self._running or self._closing.is_set():
                continue
            try:
                requested = await self.backend.list_cancel_requests(list(self._running))
            except Exception:
                log.exception("could not poll cancel requests")
                continue
            for job_id in requested:
                running = self._running.get(job_id)
                if running is not None and not running.ctx.cancelled:
                    self._interrupt(running, CANCEL_REQUESTED, grace=self.config.cancel_grace)

    def _interrupt(self, running: _Running, reason: str, *, grace: float) -> None:
        """Tell the handler to stop; cancel its task if it has not stopped after ``grace``."""
        running.ctx.request_cancel(reason)
        task = running.task
        if task is None or task.done():
            return
        if grace <= 0:
            task.cancel()
        elif running.hard_cancel is None:
            running.hard_cancel = asyncio.get_running_loop().call_later(grace, task.cancel)

    # -- shutdown ---------------------------------------------------------------------

    def _running_tasks(self) -> list[asyncio.Task[None]]:
        return [r.task for r in self._running.values() if r.task is not None]

    async def _wait_running_done(self) -> None:
        """Wait until every running job is done, or until ``stop()`` is called."""
        await _wait_all(self._running_tasks(), unless=self._stopping)

    async def _drain_running(self) -> None:
        if not self._running:
            return
        tasks = self._running_tasks()
        log.info(
            "waiting up to %.0fs for %d running job(s)", self.config.shutdown_timeout, len(tasks)
        )
        await _wait_all(tasks, unless=self._hurry, timeout=self.config.shutdown_timeout)
        leftovers = list(self._running.values())
        for running in leftovers:
            self._interrupt(running, SHUTDOWN, grace=0.0)
        if leftovers:
            log.warning("releasing %d job(s) still running at shutdown", len(leftovers))
            tasks = [r.task for r in leftovers if r.task is not None]
            # A handler that swallows its cancellation must not hold shutdown forever;
            # its job's lease then expires and the reaper gives it to another worker.
            await _wait_all(tasks, unless=self._closing, timeout=self.config.release_grace)


async def _wait_all(
    tasks: Sequence[asyncio.Task[None]], *, unless: asyncio.Event, timeout: float | None = None
) -> None:
    """Wait until every task is done, ``unless`` is set, or ``timeout`` seconds pass
    (whichever comes first). The tasks themselves are left running."""
    if not tasks:
        return
    all_done = asyncio.ensure_future(asyncio.wait(tasks))
    interrupted = asyncio.ensure_future(unless.wait())
    try:
        await asyncio.wait(
            {all_done, interrupted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        all_done.cancel()
        interrupted.cancel()
