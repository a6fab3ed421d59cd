"""Housekeeping duties, each a ``run_once()`` coroutine, and the loop that spaces them.

- ``promote``: due ``scheduled``/``retrying`` jobs -> ``queued`` (claims promote the
  queues they serve too; this keeps counts right when no worker serves a queue);
- ``reap``: jobs whose lease expired (worker crashed) -> ``queued`` or ``dead``;
- ``janitor``: delete finished jobs older than the result TTL.

Every worker runs them; each is an idempotent compare-and-set step in the store, so
several workers doing it at once is safe (leader election can later thin them out).
Tests call ``conveyor.testing.run_duties(app)`` instead of waiting for the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from conveyor.backends.base import Backend

log = logging.getLogger("conveyor.scheduler")

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Duty:
    """A named housekeeping step and how often to run it (seconds)."""

    name: str
    interval: float
    run_once: Callable[[], Awaitable[int]]


def standard_duties(
    backend: Backend,
    *,
    now: Callable[[], dt.datetime | None],
    result_ttl: dt.timedelta,
    lease_seconds: float,
    wall_now: Callable[[], dt.datetime],
) -> list[Duty]:
    """The duties every worker runs. ``now()`` is what to bind as the store's "now"
    (``None`` in production: the store's clock); ``wall_now()`` is the app clock,
    used for the janitor's cut-off."""

    async def promote() -> int:
        return await backend.promote_due(limit=_BATCH, now=now())

    async def reap() -> int:
        reaped = await backend.reap_expired_leases(limit=_BATCH, now=now())
        if reaped:
            log.warning("recovered %d job(s) whose worker stopped heartbeating", len(reaped))
        return len(reaped)

    async def janitor() -> int:
        return await backend.prune_finished(older_than=wall_now() - result_ttl, limit=_BATCH)

    # Reap often enough that a crashed worker's jobs run again within lease + ~2 s.
    return [
        Duty("promote", 1.0, promote),
        Duty("reap", min(2.0, max(lease_seconds / 4, 0.25)), reap),
        Duty("janitor", 60.0, janitor),
    ]


async def run_duties_forever(duties: Sequence[Duty], stop: asyncio.Event) -> None:
    """Run each duty at its interval until ``stop`` is set. A failing duty is logged
    and tried again at its next turn; it never stops the worker."""
    loop = asyncio.get_running_loop()
    due = dict.fromkeys((d.name for d in duties), loop.time())
    while not stop.is_set():
        for duty in duties:
            if loop.time() >= due[duty.name]:
                due[duty.name] = loop.time() + duty.interval
                try:
                    await duty.run_once()
                except Exception:
                    log.exception("duty %s failed; will try again", duty.name)
        delay = max(0.0, min(due.values()) - loop.time())
        try:
            async with asyncio.timeout(delay):
                await stop.wait()
        except TimeoutError:
            pass
