"""JobContext: what a running handler knows about its job and how it hears a cancel.

A context is created per attempt by the executor. Cancellation is cooperative: the
worker sets the flag when ``app.cancel`` is observed (or the lease is lost, or the
worker shuts down past its drain timeout); handlers check ``ctx.cancelled`` or await
``ctx.wait_cancelled()``. The flag is thread-safe, so sync handlers (run in a thread
pool) can poll it too.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from conveyor.models import JobId


@dataclass(slots=True, kw_only=True, eq=False)
class JobContext:
    """The running attempt of one job, handed to the handler as its second argument."""

    job_id: JobId
    job_type: str
    attempt: int
    max_attempts: int
    queue: str
    priority: int
    tenant: str | None
    idempotency_key: str | None
    worker_id: str
    _cancel_flag: threading.Event = field(default_factory=threading.Event, repr=False)
    cancel_reason: str | None = None

    @property
    def cancelled(self) -> bool:
        """True once the job should stop: cancel requested, lease lost, or shutdown."""
        return self._cancel_flag.is_set()

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure of this attempt sends the job to ``dead``."""
        return self.attempt >= self.max_attempts

    async def wait_cancelled(self, *, poll_interval: float = 0.05) -> None:
        """Return once ``cancelled`` is true (poll interval bounds the delay)."""
        while not self._cancel_flag.is_set():  # noqa: ASYNC110 (a threading.Event: sync handlers set it too)
            await asyncio.sleep(poll_interval)

    def request_cancel(self, reason: str) -> None:
        """Set the flag (worker-side). The first reason wins."""
        if not self._cancel_flag.is_set():
            self.cancel_reason = reason
            self._cancel_flag.set()
