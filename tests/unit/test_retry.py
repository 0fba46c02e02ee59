"""Error classification, backoff within the remaining time, growing deferral delays."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfinvalidator.errors import CloudFrontError
from cfinvalidator.retry import (
    MAX_DEFERRAL_SECONDS,
    Action,
    Backoff,
    call_with_retries,
    classify,
    deferral_seconds,
)


@pytest.mark.parametrize(
    ("code", "status", "action"),
    [
        ("Throttling", 400, Action.RETRY),
        ("ServiceUnavailable", 503, Action.RETRY),
        ("SomethingNew", 502, Action.RETRY),
        ("NetworkError", 0, Action.RETRY),
        ("SlowDownPlease", 429, Action.RETRY),
        ("TimeNearlyOut", 0, Action.DEFER),
        ("TooManyInvalidationsInProgress", 400, Action.DEFER),
        ("AccessDenied", 403, Action.FAIL),
        ("NoSuchDistribution", 404, Action.FAIL),
        ("InvalidArgument", 400, Action.FAIL),
        ("BatchTooLarge", 413, Action.FAIL),
    ],
)
def test_errors_are_classified_as_aws_documents_them(
    code: str, status: int, action: Action
) -> None:
    """Given an AWS error code and status, then it is retried, deferred or failed."""
    assert classify(CloudFrontError(code, "m", status)) is action


class Flaky:
    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise CloudFrontError(self.failures.pop(0), "m", 400)
        return "ok"


DEFAULT = Backoff()


def run(
    call: Flaky, remaining: float = 60.0, backoff: Backoff = DEFAULT
) -> tuple[str, list[float]]:
    slept: list[float] = []
    result = call_with_retries(
        call,
        backoff=backoff,
        remaining_seconds=lambda: remaining - sum(slept),
        sleep=slept.append,
        rng=random.Random(1),
        on_retry=lambda error, delay: None,
    )
    return result, slept


def test_retryable_errors_are_retried_until_success() -> None:
    """Given two throttles then success, then the call succeeds after two jittered sleeps."""
    result, slept = run(Flaky(["Throttling", "ServiceUnavailable"]))
    assert result == "ok"
    assert len(slept) == 2
    assert 0 <= slept[0] <= 0.2
    assert 0 <= slept[1] <= 0.4


def test_non_retryable_errors_are_raised_at_once() -> None:
    """Given AccessDenied or TooManyInvalidationsInProgress, then nothing is retried."""
    for code in ("AccessDenied", "TooManyInvalidationsInProgress"):
        call = Flaky([code])
        with pytest.raises(CloudFrontError):
            run(call)
        assert call.calls == 1


def test_retries_stop_at_the_attempt_limit_and_when_time_runs_out() -> None:
    """Given endless throttling, then at most max_attempts calls are made; with only the
    reserve left, no retry is attempted; with less, not even the first call."""
    call = Flaky(["Throttling"] * 100)
    with pytest.raises(CloudFrontError):
        run(call, backoff=Backoff(max_attempts=4))
    assert call.calls == 4
    short = Flaky(["Throttling"] * 100)
    with pytest.raises(CloudFrontError):
        run(short, remaining=Backoff().reserve_seconds)
    assert short.calls == 1
    late = Flaky([])
    with pytest.raises(CloudFrontError, match="TimeNearlyOut"):
        run(late, remaining=Backoff().reserve_seconds - 1)
    assert late.calls == 0


@given(base=st.integers(1, 900), seed=st.integers(0, 1000))
def test_deferral_delays_grow_and_stay_within_bounds(base: int, seed: int) -> None:
    """Given any base delay, then each delivery's delay is between half and all of
    min(900, base * 2**(n-1)), so the ceiling doubles and delays never exceed 15 minutes."""
    rng = random.Random(seed)
    for receive_count in range(1, 12):
        ceiling = min(MAX_DEFERRAL_SECONDS, base * 2 ** (receive_count - 1))
        delay = deferral_seconds(receive_count, base, rng)
        assert max(1, ceiling // 2) <= delay <= ceiling
