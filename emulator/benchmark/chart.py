"""The benchmark chart (docs/benchmarks.png): billed paths and upload -> completed p99."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from emulator.benchmark.cells import find
from emulator.benchmark.runner import CaseResult
from emulator.benchmark.targets import TITLES


# ----------------------------------------------------------------------------------- chart
def render_chart(results: Sequence[CaseResult], path: Path) -> None:
    """Two panels: billed paths and upload -> completed p99, per workload and strategy."""
    import matplotlib as mpl  # imported here: only the chart needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    workloads = list(dict.fromkeys(r.workload for r in results))
    strategies = list(dict.fromkeys(r.strategy for r in results))
    figure, (cost, speed) = plt.subplots(1, 2, figsize=(14, 5.5), layout="constrained")
    width = 0.8 / max(1, len(strategies))
    for n, strategy in enumerate(strategies):
        offsets = [i + (n - (len(strategies) - 1) / 2) * width for i in range(len(workloads))]
        rows = [find(results, w, strategy) for w in workloads]
        billed = [r.billed_paths if r else 0 for r in rows]
        completed = [
            (r.completed.p99 or 0.0) if r is not None and r.completed.p99 is not None else 0.0
            for r in rows
        ]
        label = TITLES.get(strategy, strategy)
        cost.bar(offsets, billed, width, label=label)
        speed.bar(offsets, completed, width, label=label)
    for axes, title, unit in (
        (cost, "Billed paths (log scale; none: no bar)", "paths"),
        (speed, "Upload to invalidation completed, p99 (log scale)", "simulated seconds"),
    ):
        axes.set_title(title)
        axes.set_yscale("log")
        highest = max((bar.get_height() for bar in axes.patches), default=1.0)
        axes.set_ylim(0.8, max(highest, 1.0) * 2)
        axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axes.set_ylabel(unit)
        axes.set_xticks(range(len(workloads)), workloads)
        axes.grid(axis="y", alpha=0.3)
    cost.legend(fontsize="small")
    figure.savefig(path, dpi=110)
    plt.close(figure)
