"""The benchmark's targets, each judged against the measured figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from emulator.benchmark.cells import PEERS, case_label, dominates, find, seconds
from emulator.benchmark.handler_figures import BatchFigures, ImportFigures
from emulator.benchmark.runner import (
    STRATEGIES,
    CaseResult,
)

CPU_TARGET_MS: Final = 150.0
IMPORT_TARGET_RATIO: Final = 1.3  # at most this times a precompiled bare `import boto3`
IMPORT_SPEEDUP_TARGET: Final = 2.0  # at least this times faster than the layer without bytecode
DEPLOY_SAVING_TARGET: Final = 100  # at most 1/100 of the per-object strategy's billed paths
REQUEST_GRACE_SECONDS: Final = 2.0
BURST_P99_TARGET_SECONDS: Final = 5.0
BURST_PATHS_BEFORE: Final = 16  # what the burst billed before new wildcards were paced
TITLES: Final = {strategy.name: strategy.title for strategy in STRATEGIES}
SERVICE: Final = "service"


@dataclass(frozen=True, slots=True)
class HandlerFigures:
    """The batcher's figures: CPU and memory per batch (by workload), and cold import."""

    batches: dict[str, BatchFigures]  # "site deploy", "hostile keys"
    imports: ImportFigures
    memory_size_mib: int  # the function's MemorySize in template.yaml


@dataclass(frozen=True, slots=True)
class Target:
    goal: str
    measured: str
    met: bool


# -------------------------------------------------------------------------------- targets
def targets(
    results: Sequence[CaseResult], handler: HandlerFigures, window_seconds: float
) -> list[Target]:
    """Each target of the benchmark issue, with the measured figure and whether it is met."""
    found: list[Target] = []
    for name, batch in handler.batches.items():
        found.append(
            Target(
                f"{batch.records:,}-record batch ({name}) planned in < {CPU_TARGET_MS:.0f} ms CPU",
                f"median {batch.cpu_ms_median:.0f} ms (min {batch.cpu_ms_min:.0f} ms)",
                batch.cpu_ms_median < CPU_TARGET_MS,
            )
        )
    imports = handler.imports
    found.append(
        Target(
            f"handler cold import as Lambda runs it <= {IMPORT_TARGET_RATIO}x a precompiled "
            "`import boto3`",
            f"{imports.ratio:.2f}x ({imports.handler_ms:.0f} ms vs {imports.boto3_ms:.0f} ms, "
            f"median of {imports.runs})",
            imports.ratio <= IMPORT_TARGET_RATIO,
        )
    )
    speedup = imports.speedup
    found.append(
        Target(
            f"handler cold import >= {IMPORT_SPEEDUP_TARGET:.0f}x faster than the layer without "
            "bytecode (as deployed before)",
            f"{speedup:.2f}x ({imports.source_only_ms:.0f} ms before)"
            if speedup is not None
            else "not measured: no sam build",
            speedup is not None and speedup >= IMPORT_SPEEDUP_TARGET,
        )
    )
    found.extend(_deploy_targets(results, window_seconds))
    found.extend(_planner_targets(results))
    services = [r for r in results if r.strategy.startswith(SERVICE)]
    lost = sum(r.keys_lost for r in services)
    quota = sum(r.quota_errors for r in services)
    found.append(
        Target(
            "this service: 0 keys lost and 0 quota errors in every workload",
            f"{lost} lost, {quota} quota errors over {len(services)} runs",
            bool(services) and lost == 0 and quota == 0,
        )
    )
    return found


def _planner_targets(results: Sequence[CaseResult]) -> list[Target]:
    """The planner's goals: no peer dominates it anywhere; the burst requested fast enough."""
    found: list[Target] = []
    services = [r for r in results if r.strategy == SERVICE]
    if services:
        beaten = [
            f"{case_label(service)} by {peer.strategy}"
            for service in services
            for peer in results
            if peer.strategy in PEERS
            and (peer.workload, peer.condition) == (service.workload, service.condition)
            and dominates(peer, service)
        ]
        found.append(
            Target(
                "no peer strategy dominates this service (defaults) on any workload x condition",
                "; ".join(beaten) if beaten else f"none dominated over {len(services)} cases",
                not beaten,
            )
        )
    burst = find(results, "burst", SERVICE)
    if burst is not None:
        p99 = burst.requested.p99
        found.append(
            Target(
                f"burst: p99 upload -> requested <= {BURST_P99_TARGET_SECONDS:.0f} s, with no "
                f"more than the {BURST_PATHS_BEFORE} billed paths of before",
                f"p99 {seconds(p99)} s, {burst.billed_paths:,} billed paths",
                p99 is not None
                and p99 <= BURST_P99_TARGET_SECONDS
                and burst.billed_paths <= BURST_PATHS_BEFORE,
            )
        )
    return found


def _deploy_targets(results: Sequence[CaseResult], window_seconds: float) -> list[Target]:
    service = find(results, "deploy", SERVICE)
    per_object = find(results, "deploy", "per-object")
    if service is None or per_object is None:
        return []
    limit = window_seconds + REQUEST_GRACE_SECONDS
    worst = service.requested.worst
    return [
        Target(
            f"deploy: billed paths <= 1/{DEPLOY_SAVING_TARGET} of one-per-object",
            f"{service.billed_paths:,} vs {per_object.billed_paths:,}",
            service.billed_paths * DEPLOY_SAVING_TARGET <= per_object.billed_paths,
        ),
        Target(
            "deploy: 0 quota errors, 0 keys lost",
            f"{service.quota_errors} quota errors, {service.keys_lost} lost",
            service.quota_errors == 0 and service.keys_lost == 0,
        ),
        Target(
            f"deploy: every key requested within the window + {REQUEST_GRACE_SECONDS:.0f} s "
            f"({limit:.0f} s)",
            f"slowest {seconds(worst)} s",
            worst is not None and worst <= limit,
        ),
    ]


# ---------------------------------------------------------------------------------- tables
