"""JobContext: what a running handler knows about its job and how it hears a cancel.

A context is created per attempt by the executor. Cancellation is cooperative: the
worker sets the flag when ``app.cancel`` is observed (or the lease is lost, or the
worker shuts down past its drain timeout); handlers check ``ctx.cancelled`` or await
``ctx.wait_cancelled()``. The flag is one attribute written once by the worker's loop
(an atomic store in CPython), so sync handlers in the thread pool can poll it too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from conveyor.models import JobId

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestInfo:
    """The HTTP request that submitted a job through an async endpoint, as captured:
    header names are lower case, and ``Authorization``, ``Cookie`` and configured
    headers read ``[redacted]``."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    path_params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    query_params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> RequestInfo | None:
        """The request kept under ``meta["request"]``, or ``None``."""
        raw = meta.get("request")
        if not isinstance(raw, Mapping):
            return None
        return cls(
            method=str(raw.get("method", "")),
            path=str(raw.get("path", "")),
            headers=MappingProxyType(dict(raw.get("headers") or {})),
            path_params=MappingProxyType(dict(raw.get("path_params") or {})),
            query_params=MappingProxyType(dict(raw.get("query_params") or {})),
        )


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
    cancel_reason: str | None = None
    meta_json: str | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """The JSON object stored with the job (``{}`` if none); parsed on each access,
        so jobs that never look pay nothing."""
        return {} if self.meta_json is None else dict(json.loads(self.meta_json))

    @property
    def request(self) -> RequestInfo | None:
        """The HTTP request that submitted the job through ``conveyor.web.async_endpoint``
        (headers, path and query parameters), or ``None`` for jobs enqueued otherwise."""
        return None if self.meta_json is None else RequestInfo.from_meta(self.meta)

    @property
    def cancelled(self) -> bool:
        """True once the job should stop: cancel requested, lease lost, or shutdown."""
        return self.cancel_reason is not None

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure of this attempt sends the job to ``dead``."""
        return self.attempt >= self.max_attempts

    async def wait_cancelled(self, *, poll_interval: float = 0.05) -> None:
        """Return once ``cancelled`` is true (poll interval bounds the delay)."""
        while self.cancel_reason is None:  # noqa: ASYNC110 (a plain flag, readable from any thread)
            await asyncio.sleep(poll_interval)

    def request_cancel(self, reason: str) -> None:
        """Set the flag (worker-side). The first reason wins."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
