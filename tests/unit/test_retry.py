"""Retry policy arithmetic and failure classification (pure)."""

import datetime as dt
import random

import pytest

from conveyor.retry import Fail, Retry, RetryPolicy, decide_failure


def test_ceiling_doubles_and_caps() -> None:
    policy = RetryPolicy(base=1, cap=10)
    assert [policy.ceiling(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert policy.ceiling(10_000) == 10  # no overflow on huge attempt counts


def test_full_jitter_stays_within_zero_and_ceiling() -> None:
    policy = RetryPolicy(base=2, cap=60)
    rng = random.Random(7)
    draws = [policy.backoff(4, rng=rng) for _ in range(2000)]
    assert min(draws) >= 0
    assert max(draws) <= 16
    assert max(draws) > 12  # spread over the whole range, not a fixed delay
    assert min(draws) < 4


@pytest.mark.parametrize(("base", "cap"), [(0, 10), (-1, 10), (5, 1), (1, 0)])
def test_invalid_policy(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(base=base, cap=cap)


def test_fail_is_dead_at_once() -> None:
    decision = decide_failure(error=Fail("bad"), attempts=1, max_attempts=5, policy=RetryPolicy())
    assert decision.dead


def test_exhausted_attempts_are_dead() -> None:
    decision = decide_failure(error=ValueError(), attempts=3, max_attempts=3, policy=RetryPolicy())
    assert decision.dead


def test_error_with_attempts_left_backs_off() -> None:
    decision = decide_failure(
        error=ValueError(),
        attempts=2,
        max_attempts=3,
        policy=RetryPolicy(base=10, cap=10),
        rng=random.Random(1),
    )
    assert not decision.dead
    assert 0 <= decision.retry_in <= 10


def test_explicit_retry_after_is_honoured() -> None:
    decision = decide_failure(
        error=Retry(after=dt.timedelta(minutes=2)),
        attempts=1,
        max_attempts=3,
        policy=RetryPolicy(),
    )
    assert decision == decision.__class__(dead=False, retry_in=120.0)


def test_explicit_retry_still_counts_attempts() -> None:
    decision = decide_failure(
        error=Retry(after=1), attempts=3, max_attempts=3, policy=RetryPolicy()
    )
    assert decision.dead


def test_retry_rejects_negative_delay() -> None:
    with pytest.raises(ValueError, match="negative"):
        Retry(after=-1)


@pytest.mark.parametrize("after", [float("inf"), float("nan")])
def test_retry_rejects_a_delay_that_is_not_a_finite_number(after: float) -> None:
    # The store cannot compute a run_at from it: the outcome could never be recorded.
    with pytest.raises(ValueError, match="finite"):
        Retry(after=after)
