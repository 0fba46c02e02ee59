"""What to do about an AWS error: retry now, defer the records, or give up on them.

- Throttling and 5xx are retried inside the invocation with exponential backoff and full jitter,
  as long as the function's remaining time allows (``call_with_retries``). When attempts or time
  run out, the records are deferred.
- ``TooManyInvalidationsInProgress`` is not retried in a loop: in-progress invalidations take
  seconds to minutes to complete, so the records are deferred (returned to the queue with a
  growing delay, ``deferral_seconds``).
- Everything else (AccessDenied, NoSuchDistribution, InvalidArgument, BatchTooLarge, ...) will
  not get better by waiting: the records are dead-lettered and a FAILED notification names their
  keys. AccessDenied gets a grace first (``in_access_grace``): right after a deploy the role's
  new permissions may not have reached every AWS endpoint yet, so the first
  ``ACCESS_GRACE_DELIVERIES`` deliveries are deferred and a later one is dead-lettered.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from cfinvalidator.errors import CloudFrontError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "NetworkError",  # the adapters' code for connection errors and timeouts
    }
)
# TimeNearlyOut is the service's own: too little of the invocation is left to call CloudFront.
DEFER_CODES = frozenset({"TooManyInvalidationsInProgress", "TimeNearlyOut"})
MAX_DEFERRAL_SECONDS = 900
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
# IAM changes are eventually consistent (docs/aws-behaviour.md): with the default 30 s
# DeferDelaySeconds, three deferrals wait between 1.75 and 3.5 minutes before delivery 4.
ACCESS_GRACE_DELIVERIES = 3


class Action(Enum):
    RETRY = "retry"
    DEFER = "defer"
    FAIL = "fail"


def classify(error: CloudFrontError) -> Action:
    if (
        error.code in THROTTLING_CODES
        or error.code in TRANSIENT_CODES
        or error.status == 429
        or error.status >= 500
    ):
        return Action.RETRY
    if error.code in DEFER_CODES:
        return Action.DEFER
    return Action.FAIL


def in_access_grace(error: CloudFrontError, receive_count: int) -> bool:
    """True for AccessDenied on one of the first ACCESS_GRACE_DELIVERIES deliveries of a
    record: deferred, not dead-lettered, in case the permission is still propagating."""
    return error.code in ACCESS_DENIED_CODES and receive_count <= ACCESS_GRACE_DELIVERIES


def is_throttling(error: CloudFrontError) -> bool:
    return error.code in THROTTLING_CODES


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    base_seconds: float = 0.2
    cap_seconds: float = 5.0
    max_attempts: int = 8
    reserve_seconds: float = 10.0  # time left for deferring records and notifying

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_seconds, self.base_seconds * 2**attempt))


def call_with_retries[T](
    call: Callable[[], T],
    *,
    backoff: Backoff,
    remaining_seconds: Callable[[], float],
    sleep: Callable[[float], None],
    rng: random.Random,
    on_retry: Callable[[CloudFrontError, float], None],
) -> T:
    """``call()``, retried while it fails with a retryable error and time and attempts remain.

    The last error is raised when retrying stops; the caller decides (``classify``) what then.
    """
    attempt = 0
    while True:
        if remaining_seconds() < backoff.reserve_seconds:
            raise CloudFrontError("TimeNearlyOut", "too little invocation time left to call")
        try:
            return call()
        except CloudFrontError as error:
            if classify(error) is not Action.RETRY or attempt + 1 >= backoff.max_attempts:
                raise
            delay = backoff.delay(attempt, rng)
            if remaining_seconds() - delay < backoff.reserve_seconds:
                raise
            on_retry(error, delay)
            sleep(delay)
            attempt += 1


def deferral_seconds(receive_count: int, base_seconds: int, rng: random.Random) -> int:
    """Visibility delay for a record deferred on its ``receive_count``-th delivery.

    Doubles with each delivery (base, 2 x base, 4 x base...) up to 15 minutes, with "equal
    jitter" (between half and all of it) so deferred records do not return in lockstep.
    """
    ceiling = min(MAX_DEFERRAL_SECONDS, base_seconds * 2 ** max(0, receive_count - 1))
    return max(1, int(ceiling / 2 + rng.uniform(0, ceiling / 2)))
