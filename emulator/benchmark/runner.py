"""Workloads x strategies on the simulated pipeline: cost, quota behaviour, loss and latency.

Every case runs :class:`emulator.simulation.Simulation` (SQS, the event source mapping, the
faithful CloudFront over moto, the tracker) in simulated time with the stack's defaults, once
per strategy (``emulator.benchmark.strategies`` and this service), on the same seeded
workload. The bucket has a known inventory, so over-invalidation (objects that did not change
but were invalidated) can be counted. Nothing here talks to AWS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from cfinvalidator.paths import paths_for_key
from cfinvalidator.planning import rules_from
from emulator.benchmark.conditions import IDEAL, Condition
from emulator.benchmark.strategies import (
    CdkStyle,
    Everything,
    PerObject,
    S3deployStyle,
    S3WebsiteStyle,
    SstStyle,
)
from emulator.benchmark.workloads import Workload
from emulator.simulation.engine import Simulation
from emulator.simulation.handler import BatchHandler, ServiceHandler
from emulator.simulation.report import Coverage, Report, percentile
from emulator.simulation.settings import SimSettings

__all__ = [
    "FREE_PATHS_PER_MONTH",
    "PRICE_PER_PATH",
    "STRATEGIES",
    "CaseResult",
    "Latency",
    "StrategySpec",
    "dollars",
    "immediate",
    "run_case",
    "run_matrix",
]

FREE_PATHS_PER_MONTH: Final = 1_000
# USD per path beyond the free 1,000 a month (docs/aws-behaviour.md#cloudfront-pricing).
PRICE_PER_PATH: Final = 0.005


# ---------------------------------------------------------------------------- strategies
def _unchanged(settings: SimSettings) -> SimSettings:
    return settings


# Lambda's asynchronous invocation: a failed event is retried twice (after about a minute, then
# about two more), then dropped unless a failure destination is set.
ASYNC_RETRY_SECONDS: Final = 90.0
ASYNC_ATTEMPTS: Final = 3


def immediate(settings: SimSettings) -> SimSettings:
    """How an S3-triggered Lambda runs: one event per invocation as it arrives, scaled as Lambda
    scales (not held to this stack's MaxConcurrency 2), a failed event tried again by Lambda's
    asynchronous retries (the visibility timeout stands for their delay, the receive limit for
    their count) and then dropped (the dead-letter count)."""
    return replace(
        settings,
        batching_window_seconds=0.0,
        batch_size=1,
        max_concurrency=1000,
        max_invocations=1_000_000,
        visibility_timeout_seconds=ASYNC_RETRY_SECONDS,
        max_receive_count=ASYNC_ATTEMPTS,
    )


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy: a fresh batch handler per run, the service environment it runs with, and
    how it changes the event source settings."""

    name: str
    title: str
    handler: Callable[[], BatchHandler]
    env: Mapping[str, str] = field(default_factory=dict)
    notifies: bool = False
    event_source: Callable[[SimSettings], SimSettings] = _unchanged


STRATEGIES: Final = (
    StrategySpec(
        "per-object", "per object (S3 -> Lambda, async retries)", PerObject, event_source=immediate
    ),
    StrategySpec("s3deploy", "s3deploy-style (<= 8 paths, else /*)", S3deployStyle),
    StrategySpec("cdk", "CDK-style (one /prefix* per deploy)", CdkStyle),
    StrategySpec("sst", "SST-style (3,000 files / 15 wildcards)", SstStyle),
    StrategySpec("s3_website", "s3_website-style (back-off on TooMany)", S3WebsiteStyle),
    StrategySpec("everything", "always /*", Everything),
    StrategySpec("service", "this service (defaults)", ServiceHandler, notifies=True),
    StrategySpec(
        "service-depth-1",
        "this service, BroadestWildcardDepth 1",
        ServiceHandler,
        env={"BROADEST_WILDCARD_DEPTH": "1"},
        notifies=True,
    ),
)


# ------------------------------------------------------------------------------- figures
def dollars(billed_paths: int) -> float:
    """The month's invalidation bill if these were its only paths."""
    return max(0, billed_paths - FREE_PATHS_PER_MONTH) * PRICE_PER_PATH


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float | None
    p99: float | None
    worst: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Latency:
        return cls(percentile(values, 50), percentile(values, 99), max(values, default=None))


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One strategy on one workload. Latencies are simulated seconds from the upload, over
    the uploads that were invalidated (lost and dead-lettered ones have none)."""

    workload: str
    strategy: str
    uploads: int
    create_invalidation_calls: int
    billed_paths: int
    wildcard_paths: int
    over_invalidated: int
    quota_errors: int
    throttled_calls: int
    keys_lost: int
    dead_lettered: int
    deferrals: int
    requested: Latency
    completed: Latency
    notified: Latency | None  # None: the strategy does not notify
    finished_at: float
    truncated: bool
    wall_seconds: float
    condition: str = "ideal"

    @property
    def dollars(self) -> float:
        return dollars(self.billed_paths)


def over_invalidated(report: Report, unchanged: Iterable[str], simulation: Simulation) -> int:
    """How many objects that did not change had a viewer path invalidated on any
    distribution (each object counted once)."""
    rules = rules_from(simulation.config)
    coverages = [
        Coverage([i for i in report.invalidations if i.distribution_id == distribution_id])
        for distribution_id in simulation.distribution_ids
    ]
    since = float("-inf")
    return sum(
        1
        for key in unchanged
        if any(
            coverage.earliest(path, since) is not None
            for coverage in coverages
            for path in paths_for_key(key, rules)
        )
    )


def run_case(
    workload: Workload,
    strategy: StrategySpec,
    settings: SimSettings | None = None,
    *,
    prepare: Callable[[Simulation], object] | None = None,
    condition: Condition = IDEAL,
) -> CaseResult:
    """Run one strategy on one workload with the stack's defaults (or ``settings``) under
    ``condition``; ``prepare(simulation)`` runs before the first upload (e.g. to occupy the
    quota), after the workload's own occupation, if any."""
    base = condition.settings(settings or SimSettings())
    if workload.horizon_seconds is not None:
        base = replace(base, max_simulated_seconds=workload.horizon_seconds)
    started = time.perf_counter()
    run_settings = strategy.event_source(replace(base, env={**base.env, **strategy.env}))
    if workload.epoch is not None:
        run_settings = replace(run_settings, epoch=workload.epoch)
    with Simulation(
        workload.uploads, run_settings, handler=strategy.handler(), existing=workload.existing
    ) as simulation:
        condition.prepare(simulation)
        if workload.occupied is not None:
            simulation.occupy(
                files=workload.occupied.files,
                wildcards=workload.occupied.wildcards,
                completes_in_seconds=workload.occupied.seconds,
            )
        if prepare is not None:
            prepare(simulation)
        report = simulation.run()
        over = over_invalidated(report, sorted(workload.unchanged), simulation)
    return CaseResult(
        workload=workload.name,
        strategy=strategy.name,
        uploads=report.uploads,
        create_invalidation_calls=report.create_invalidation_calls,
        billed_paths=report.billed_paths,
        wildcard_paths=report.wildcard_paths_billed,
        over_invalidated=over,
        quota_errors=report.quota_errors,
        throttled_calls=report.throttled_calls,
        keys_lost=report.keys_lost,
        dead_lettered=len(report.dead_letters),
        deferrals=report.deferrals,
        requested=Latency.of(report.request_latencies()),
        completed=Latency.of(report.completion_latencies()),
        notified=Latency.of(report.notify_latencies()) if strategy.notifies else None,
        finished_at=report.finished_at,
        truncated=report.truncated,
        wall_seconds=time.perf_counter() - started,
        condition=condition.name,
    )


Case = tuple[Workload, StrategySpec, Condition]


def _run_one(case: Case, settings: SimSettings | None) -> CaseResult:
    """One case in a worker process (its own moto, its own logs)."""
    from cfinvalidator.observability import logger

    logger.setLevel("WARNING")  # the service logs every invalidation it creates
    workload, strategy, condition = case
    return run_case(workload, strategy, settings, condition=condition)


def _weight(case: Case) -> float:
    """A rough cost of a case: its uploads, times the invocations one per object makes, times
    what CloudFront's throttling adds."""
    workload, strategy, condition = case
    weight = float(len(workload.uploads))
    if strategy.name == "per-object":
        weight *= 5
    if condition.name != IDEAL.name:
        weight *= 1.5
    return weight


def run_matrix(
    selected: Sequence[Workload],
    strategies: Sequence[StrategySpec] = STRATEGIES,
    settings: SimSettings | None = None,
    progress: Callable[[CaseResult], object] | None = None,
    *,
    conditions: Sequence[Condition] = (IDEAL,),
    extra: Sequence[Case] = (),
    workers: int = 1,
) -> list[CaseResult]:
    """Every strategy on every workload under every condition, in that order, then the
    ``extra`` cases. With ``workers`` above 1 the cases run in as many processes (each
    simulation is independent and seeded, so the figures are the same); ``progress`` sees
    each case as it ends."""
    cases: list[Case] = [
        (workload, strategy, condition)
        for condition in conditions
        for workload in selected
        for strategy in strategies
    ]
    cases += extra
    if workers <= 1:
        results: list[CaseResult] = []
        for case in cases:
            results.append(_run_one(case, settings))
            if progress is not None:
                progress(results[-1])
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: each worker starts clean (no state of this process's moto or threads is copied).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        # Heaviest first, so that no long case starts last while the other worker idles.
        order = sorted(range(len(cases)), key=lambda n: -_weight(cases[n]))
        futures = {pool.submit(_run_one, cases[n], settings): n for n in order}
        done: dict[int, CaseResult] = {}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if progress is not None:
                progress(done[futures[future]])
    return [done[index] for index in range(len(cases))]
