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
