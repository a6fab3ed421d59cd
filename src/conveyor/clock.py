"""Time as an input: the ``Clock`` protocol and the system clock.

This is the only module allowed to read the wall clock (ruff TID251 enforces it).
Every other piece of code that needs "now" takes a ``Clock``; tests pass a
``conveyor.testing.FakeClock``. All datetimes are aware and in UTC.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Protocol

UTC = dt.UTC


class Clock(Protocol):
    """Where code reads the current time and waits for time to pass."""

    def now(self) -> dt.datetime:
        """The current time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals and timeouts)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def ensure_aware(value: dt.datetime, *, name: str) -> dt.datetime:
    """Return ``value`` in UTC, refusing naive datetimes (their zone is a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be an aware datetime (e.g. datetime.now(timezone.utc)), got a naive one"
        )
    return value.astimezone(UTC)
