"""How a figure is written in a table or a sentence of the benchmark report."""

from __future__ import annotations

from collections.abc import Sequence

from emulator.benchmark.runner import (
    CaseResult,
    Latency,
)


# --------------------------------------------------------------------------------- format
def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def latency(latency: Latency | None) -> str:
    if latency is None:
        return "no notification"
    if latency.p50 is None:
        return "-"
    return f"{seconds(latency.p50)} / {seconds(latency.p99)} / {seconds(latency.worst)}"


def count(value: int) -> str:
    return f"{value:,}"


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def find(
    results: Sequence[CaseResult], workload: str, strategy: str, condition: str = "ideal"
) -> CaseResult | None:
    return next(
        (
            r
            for r in results
            if r.workload == workload and r.strategy == strategy and r.condition == condition
        ),
        None,
    )


def case_label(result: CaseResult) -> str:
    """The workload, and the condition when it is not the ideal one."""
    if result.condition == "ideal":
        return result.workload
    return f"{result.workload} ({result.condition})"


PEERS = ("per-object", "s3deploy", "cdk", "sst", "s3_website", "everything")


def failed(case: CaseResult) -> int:
    """Keys never invalidated: lost, or dead-lettered (dropped, for per-object)."""
    return case.keys_lost + case.dead_lettered


def p99(case: CaseResult) -> float:
    return case.requested.p99 if case.requested.p99 is not None else float("inf")


def dominates(peer: CaseResult, service: CaseResult) -> bool:
    """The issue's Pareto test: the peer bills no more paths, invalidates no more unchanged
    objects, requests no later at p99 and fails no more keys, and is better on one of them."""
    pairs = [
        (peer.billed_paths, service.billed_paths),
        (peer.over_invalidated, service.over_invalidated),
        (p99(peer), p99(service)),
        (failed(peer), failed(service)),
    ]
    return all(a <= b for a, b in pairs) and any(a < b for a, b in pairs)
