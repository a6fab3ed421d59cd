"""Run one claimed job and turn what happened into one ``Outcome``.

Three small steps, kept apart so none grows into a god function:
1. ``Executor.run``: load the payload, call the handler (async on the loop, sync in the
   thread pool) under the job type's timeout, serialise the result;
2. ``classify``: map an exception (or a cancel) to the next state, asking the job
   type's ``RetryPolicy`` (policy above, mechanism below);
3. the worker sends the ``Outcome`` to the backend in a batch (``finish_many``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Executor as ThreadPool
from typing import Any

from conveyor.backends.base import ClaimedJob, ErrorInfo, Outcome
from conveyor.errors import PayloadValidationError, ResultSerializationError
from conveyor.jobs import JobType
from conveyor.retry import Fail, Retry, RetryPolicy, decide_failure
from conveyor.states import JobState
from conveyor.worker.context import JobContext

log = logging.getLogger("conveyor.worker")

#: Cancel reasons the worker gives a context, and what each means for the outcome.
CANCEL_REQUESTED = "cancelled"  # app.cancel(): the job ends cancelled
SHUTDOWN = "shutdown"  # worker stopping past its drain timeout: the lease is released
LEASE_LOST = "lease_lost"  # another worker owns the job now: report nothing

_TRACEBACK_LIMIT = 16_000
_DEFAULT_POLICY = RetryPolicy()


class HandlerTimeoutError(TimeoutError):
    """An attempt ran past its job type's timeout."""


class Executor:
    """Runs claimed jobs of the types in ``registry``."""

    def __init__(self, registry: Mapping[str, JobType[Any, Any]], *, threads: ThreadPool) -> None:
        self._registry = registry
        self._threads = threads

    async def run(self, job: ClaimedJob, ctx: JobContext) -> Outcome | None:
        """Execute one attempt. Returns the outcome to record, or ``None`` when the
        lease was lost (the new owner records the outcome, not us)."""
        job_type = self._registry.get(job.type)
        try:
            if job_type is None:
                raise LookupError(
                    f"no handler is registered for job type {job.type!r} in this worker"
                )
            payload = job_type.load_payload(job.payload_json)
            result = await self._call(job_type, payload, ctx)
            result_json = job_type.dump_result(result)
        except asyncio.CancelledError as error:
            if ctx.cancel_reason is not None:
                return await self.classify(job, job_type, ctx, asyncio.CancelledError())
            if _task_is_cancelling():  # not ours: the worker itself is being torn down
                raise
            # Nobody cancelled this task: the handler raised it (e.g. it awaited a future
            # someone else cancelled). That is the handler failing, like any error.
            return await self.classify(job, job_type, ctx, error)
        except (Exception, SystemExit, KeyboardInterrupt) as error:  # noqa: BLE001
            # Any handler error is an outcome, never a crash; the CLI worker takes its
            # signals on the loop, so a SystemExit or KeyboardInterrupt here was raised
            # by the handler (sys.exit() in library code) and must not kill the worker.
            return await self.classify(job, job_type, ctx, error)
        if ctx.cancel_reason == CANCEL_REQUESTED:
            # The handler saw ctx.cancelled and returned: stopping is how it obeys the
            # cancel, so the job ends cancelled, whatever it returned.
            return _outcome(job, JobState.CANCELLED, "cancelled", None)
        return Outcome(
            job_id=job.id,
            lease_token=job.lease_token,
            state=JobState.SUCCEEDED,
            reason="succeeded",
            result_json=result_json,
        )

    async def _call(self, job_type: JobType[Any, Any], payload: Any, ctx: JobContext) -> Any:
        timeout = job_type.options.timeout
        if job_type.is_async:
            if timeout is None:  # the common case: no timer to arm per job
                return await job_type(payload, ctx)
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    return await job_type(payload, ctx)
            except TimeoutError:
                if deadline.expired():  # ours, not a TimeoutError raised by the handler
                    raise HandlerTimeoutError(_timeout_message(timeout)) from None
                raise
        loop = asyncio.get_running_loop()
        call = functools.partial(job_type, payload, ctx)
        started: asyncio.Future[None] | None = None
        if timeout is not None:
            started = loop.create_future()
            call = functools.partial(_signal_start, loop, started, call)
        future = loop.run_in_executor(self._threads, call)
        # A sync handler cannot be interrupted: on timeout its thread runs on until it
        # returns (its result is discarded); ctx.cancelled tells it to stop early. Such
        # a thread keeps its pool slot, so the next sync job may wait for a thread: its
        # timeout counts from when it starts, and if it is stopped (timeout, cancel,
        # lost lease, shutdown) before it starts, it never starts.
        try:
            if started is not None:
                await asyncio.wait({started, future}, return_when=asyncio.FIRST_COMPLETED)
            done, _ = await asyncio.wait({future}, timeout=timeout)
        except BaseException:
            future.cancel()
            raise
        if not done:
            future.cancel()
            ctx.request_cancel("timeout")
            raise HandlerTimeoutError(_timeout_message(timeout))
        return future.result()

    async def classify(
        self,
        job: ClaimedJob,
        job_type: JobType[Any, Any] | None,
        ctx: JobContext,
        error: BaseException,
    ) -> Outcome | None:
        """Decide the next state after a failed or interrupted attempt."""
        if ctx.cancel_reason == LEASE_LOST:
            return None
        info = _error_info(error)
        if ctx.cancel_reason == SHUTDOWN:
            return _outcome(job, JobState.QUEUED, "released", info)
        if ctx.cancel_reason == CANCEL_REQUESTED:
            return _outcome(job, JobState.CANCELLED, "cancelled", info)
        if isinstance(error, PayloadValidationError | ResultSerializationError):
            error = Fail(str(error))  # retrying cannot fix a payload or result of the wrong shape
            info = _error_info(error)
        policy = job_type.options.retry if job_type else _DEFAULT_POLICY
        decision = decide_failure(
            error=error, attempts=job.attempt, max_attempts=job.max_attempts, policy=policy
        )
        if not decision.dead:
            log.info(
                "job %s (%s) attempt %d failed: %s", job.id, job.type, job.attempt, info.message
            )
            return _outcome(job, JobState.RETRYING, _reason(error), info, decision.retry_in)
        log.warning(
            "job %s (%s) is dead after attempt %d: %s", job.id, job.type, job.attempt, info.message
        )
        if job_type is not None and job_type.options.on_dead is not None:
            await _call_on_dead(job_type, ctx, error)
        return _outcome(job, JobState.DEAD, _reason(error), info)


def _outcome(
    job: ClaimedJob, state: JobState, reason: str, error: ErrorInfo | None, retry_in: float = 0.0
) -> Outcome:
    return Outcome(
        job_id=job.id,
        lease_token=job.lease_token,
        state=state,
        reason=reason,
        error=error,
        retry_in=retry_in,
    )


async def _call_on_dead(job_type: JobType[Any, Any], ctx: JobContext, error: BaseException) -> None:
    """Run the type's ``on_dead`` hook; its own errors are logged, never change the outcome."""
    hook = job_type.options.on_dead
    assert hook is not None  # noqa: S101 (checked by the caller)
    with contextlib.suppress(asyncio.CancelledError):
        try:
            result = hook(ctx, error)
            if inspect.isawaitable(result):
                await result
        except (Exception, SystemExit, KeyboardInterrupt):
            log.exception(
                "on_dead hook of job type %r failed for job %s", job_type.name, ctx.job_id
            )


def _reason(error: BaseException) -> str:
    if isinstance(error, HandlerTimeoutError):
        return "timeout"
    if isinstance(error, Fail):
        return "fail"
    if isinstance(error, Retry):
        return "retry"
    return "error"


def _error_info(error: BaseException) -> ErrorInfo:
    formatted = "".join(traceback.format_exception(error))
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 (a broken __str__ must not lose the outcome)
        message = "<exception str() failed>"  # what traceback prints for it
    return ErrorInfo(
        type=_storable(type(error).__qualname__),
        message=_storable(message),
        traceback=_storable(formatted)[-_TRACEBACK_LIMIT:],
    )


def _storable(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (bytes decoded with ``surrogateescape``,
    e.g. file names) become ``\\udcXX`` escapes, which every store accepts."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _task_is_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _signal_start(
    loop: asyncio.AbstractEventLoop, started: asyncio.Future[None], call: Callable[[], Any]
) -> Any:
    """Run ``call`` in a pool thread, first telling the loop that it started."""
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
        loop.call_soon_threadsafe(_set_started, started)
    return call()


def _set_started(started: asyncio.Future[None]) -> None:
    if not started.done():
        started.set_result(None)


def _timeout_message(timeout: float | None) -> str:
    return f"the attempt ran past its timeout of {timeout:g} s"
