"""The conditions CloudFront is simulated under; every strategy runs on the same ones.

- ``ideal``: every invalidation completes in exactly 20 s, nothing throttles, nothing fails.
- ``realistic``: completion times drawn from a seeded distribution consistent with AWS's
  statement that most invalidations complete quickly (P95 under 25 s) with a tail of minutes;
  CreateInvalidation rate-limited (``Throttling: Rate exceeded`` beyond a number of calls per
  second; AWS does not publish the rate: UNCONFIRMED, so it is a parameter, and the benchmark
  shows a sensitivity row); and a ServiceUnavailable (503) now and then.

See docs/aws-behaviour.md ("CloudFront statuses and completion", "CloudFront errors and
throttling") for what AWS says.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from emulator.simulation.engine import Simulation
from emulator.simulation.settings import SimSettings

__all__ = ["CONDITIONS", "IDEAL", "REALISTIC", "Condition", "realistic_completion"]

TAIL_SHARE: Final = 0.03  # invalidations in the tail of minutes
BODY_MEDIAN_SECONDS: Final = 12.0
BODY_SIGMA: Final = 0.3  # lognormal: the body's 97.9th percentile is about 22 s
TAIL_SECONDS: Final = (60.0, 300.0)
DEFAULT_RATE_PER_SECOND: Final = 3  # UNCONFIRMED: AWS publishes no CreateInvalidation rate
SERVER_ERRORS_PER_HOUR: Final = 30.0
INJECTION_HORIZON_SECONDS: Final = 7_200.0


def realistic_completion(rng: random.Random) -> float:
    """Seconds from InProgress to Completed: lognormal around 12 s for 97 %, uniformly one to
    five minutes for the other 3 %, so P95 stays under 25 s (the body's 97.9th percentile)."""
    if rng.random() < TAIL_SHARE:
        return rng.uniform(*TAIL_SECONDS)
    return BODY_MEDIAN_SECONDS * math.exp(rng.gauss(0.0, BODY_SIGMA))


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    title: str
    completion: float | Callable[[random.Random], float] = 20.0
    rate_per_second: int | None = None  # CreateInvalidation calls per second before Throttling
    server_errors_per_hour: float = 0.0

    def settings(self, base: SimSettings) -> SimSettings:
        return replace(base, completion_seconds=self.completion)

    def prepare(self, simulation: Simulation) -> None:
        """Throttling and 503s, the same for every strategy (seeded by the run's seed)."""
        fake = simulation.cloudfront_fake
        if self.rate_per_second is not None:
            fake.throttle_after(self.rate_per_second, 1.0)
        if self.server_errors_per_hour <= 0:
            return
        rng = random.Random(simulation.settings.seed + 503)  # noqa: S311 - a simulation
        moment = 0.0
        while True:
            moment += rng.expovariate(self.server_errors_per_hour / 3600.0)
            if moment > INJECTION_HORIZON_SECONDS:
                break
            simulation.at(moment, _inject_server_error)

    def with_rate(self, rate_per_second: int) -> Condition:
        return replace(
            self, name=f"{self.name}, {rate_per_second}/s", rate_per_second=rate_per_second
        )


def _inject_server_error(simulation: Simulation) -> None:
    simulation.cloudfront_fake.inject("CreateInvalidation", "ServiceUnavailable")


IDEAL: Final = Condition("ideal", "every invalidation completes in 20 s; no throttling or 5xx")
REALISTIC: Final = Condition(
    "realistic",
    f"completion lognormal around {BODY_MEDIAN_SECONDS:.0f} s with {TAIL_SHARE:.0%} taking 1-5 "
    f"minutes (P95 < 25 s); CreateInvalidation throttled beyond {DEFAULT_RATE_PER_SECOND} "
    f"calls/s (UNCONFIRMED rate); about {SERVER_ERRORS_PER_HOUR:.0f} 503s an hour",
    completion=realistic_completion,
    rate_per_second=DEFAULT_RATE_PER_SECOND,
    server_errors_per_hour=SERVER_ERRORS_PER_HOUR,
)
CONDITIONS: Final = (IDEAL, REALISTIC)
