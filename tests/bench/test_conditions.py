"""The simulated CloudFront conditions: what AWS states, and the same for every strategy."""

from __future__ import annotations

import random

from emulator.benchmark.conditions import IDEAL, REALISTIC, realistic_completion
from emulator.benchmark.runner import STRATEGIES, run_case
from emulator.benchmark.workloads import Workload
from emulator.simulation.report import percentile
from emulator.simulation.settings import Upload

BY_NAME = {strategy.name: strategy for strategy in STRATEGIES}


def test_realistic_completion_has_p95_under_25_s_and_a_tail_of_minutes() -> None:
    rng = random.Random(1)
    samples = [realistic_completion(rng) for _ in range(20_000)]

    p95 = percentile(samples, 95)
    assert p95 is not None
    assert 10 < p95 < 25
    tail = [s for s in samples if s >= 60]
    assert 0.02 < len(tail) / len(samples) < 0.04
    assert max(samples) > 200
    assert min(samples) > 0


def test_the_realistic_condition_throttles_and_the_ideal_one_does_not() -> None:
    """Given 60 keys in one second, one request each (the per-object strategy),
    When run under both conditions,
    Then only the realistic one answers Throttling beyond its rate, and the service's
    collapsed request is never throttled."""
    uploads = tuple(Upload(n / 60, f"page-{n:02d}.html") for n in range(60))
    workload = Workload("quick", "60 keys in a second", uploads, ())

    ideal = run_case(workload, BY_NAME["per-object"], condition=IDEAL)
    realistic = run_case(workload, BY_NAME["per-object"], condition=REALISTIC)
    service = run_case(workload, BY_NAME["service"], condition=REALISTIC)

    assert ideal.throttled_calls == 0
    assert realistic.throttled_calls > 0
    assert realistic.condition == "realistic"
    assert service.throttled_calls == 0
    assert service.keys_lost == service.dead_lettered == 0
