"""Retry policy and the control signals handlers raise. Pure: no I/O.

The executor asks a job type's ``RetryPolicy`` what to do after a failure and passes
the decision to the backend; backends never compute backoff (policy above, mechanism
below).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass


class Retry(Exception):
    """Raise inside a handler to run the job again later.

    ``after`` is seconds or a ``timedelta``; ``None`` uses the job type's backoff.
    The attempt still counts: once ``max_attempts`` is reached the job goes to ``dead``.
    """

    def __init__(self, after: float | dt.timedelta | None = None, reason: str = "") -> None:
        if isinstance(after, dt.timedelta):
            after = after.total_seconds()
        if after is not None and after < 0:
            raise ValueError(f"Retry(after=...) must not be negative, got {after}")
        if after is not None and not math.isfinite(after):
            raise ValueError(f"Retry(after=...) must be a finite number of seconds, got {after}")
        super().__init__(reason or (f"retry requested after {after}s" if after else "retry"))
        self.after: float | None = after
        self.reason = reason


class Fail(Exception):
    """Raise inside a handler to send the job to ``dead`` at once, with no more attempts."""

    def __init__(self, reason: str = "failed") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped.

    The delay before attempt ``n + 1`` (after ``n`` failed attempts, ``n >= 1``) is
    drawn uniformly from ``[0, min(cap, base * 2 ** (n - 1))]`` ("full jitter", which
    spreads a burst of failures out instead of retrying them in lockstep).
    """

    base: float = 1.0
    cap: float = 300.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError("RetryPolicy base and cap must be positive")
        if self.cap < self.base:
            raise ValueError("RetryPolicy cap must be at least base")

    def ceiling(self, attempts: int) -> float:
        """The largest delay (seconds) after ``attempts`` failed attempts."""
        exponent = min(max(attempts, 1) - 1, 62)  # 2**62 already exceeds any cap
        return min(self.cap, math.ldexp(self.base, exponent))

    def backoff(self, attempts: int, *, rng: random.Random | None = None) -> float:
        """A jittered delay in seconds after ``attempts`` failed attempts."""
        draw = (rng or _RNG).random()
        return draw * self.ceiling(attempts)


_RNG = random.Random()  # noqa: S311 (jitter, not cryptography)


@dataclass(frozen=True, slots=True)
class FailureDecision:
    """What the executor tells the backend after a failed attempt."""

    dead: bool
    retry_in: float  # seconds; meaningless when dead


def decide_failure(
    *,
    error: BaseException,
    attempts: int,
    max_attempts: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> FailureDecision:
    """Classify a failed attempt: retry (and when) or dead.

    ``attempts`` counts the attempt that just failed. ``Fail`` is dead at once;
    ``Retry(after=...)`` honours its delay while attempts remain; anything else backs off.
    """
    if isinstance(error, Fail) or attempts >= max_attempts:
        return FailureDecision(dead=True, retry_in=0.0)
    if isinstance(error, Retry) and error.after is not None:
        return FailureDecision(dead=False, retry_in=error.after)
    return FailureDecision(dead=False, retry_in=policy.backoff(attempts, rng=rng))
