"""The benchmark chart (docs/benchmarks.png): cost, over-invalidation, loss and latency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from emulator.benchmark.cells import find
from emulator.benchmark.runner import CaseResult
from emulator.benchmark.targets import TITLES


# ----------------------------------------------------------------------------------- chart
def _panels(row: CaseResult | None) -> tuple[float | None, ...]:
    """The four values; a latency is None when no upload was invalidated at all."""
    if row is None:
        return (None, None, None, None)
    return (
        float(row.billed_paths),
        float(row.over_invalidated),
        float(row.keys_lost + row.dead_lettered),
        row.completed.p99,
    )


_TITLES = (
    ("Billed paths", "paths"),
    ("Unchanged objects invalidated", "objects"),
    ("Keys never invalidated (lost or dropped)", "keys"),
    ("Upload to invalidation completed, p99", "simulated seconds"),
)


def render_chart(results: Sequence[CaseResult], path: Path) -> None:
    """Four panels per workload and strategy: billed paths, unchanged objects invalidated,
    keys never invalidated, upload -> completed p99. Log scales; a zero is marked "0" where
    its bar would be, so it is never mistaken for a missing one, and a latency with no
    invalidated upload "none"."""
    import matplotlib as mpl  # imported here: only the chart needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    results = [r for r in results if r.condition == "ideal"]
    workloads = list(dict.fromkeys(r.workload for r in results))
    strategies = list(dict.fromkeys(r.strategy for r in results))
    figure, grid = plt.subplots(2, 2, figsize=(15, 10), layout="constrained")
    panels = list(grid.flat)
    width = 0.8 / max(1, len(strategies))
    for n, strategy in enumerate(strategies):
        offsets = [i + (n - (len(strategies) - 1) / 2) * width for i in range(len(workloads))]
        values = [_panels(find(results, w, strategy)) for w in workloads]
        label = TITLES.get(strategy, strategy)
        for index, axes in enumerate(panels):
            marked = [v[index] for v in values]
            heights = [value or 0.0 for value in marked]
            bars = axes.bar(offsets, heights, width, label=label)
            for bar, value in zip(bars, marked, strict=True):
                if not value:
                    axes.text(
                        bar.get_x() + bar.get_width() / 2,
                        0.85,
                        "0" if value == 0 else "none",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        color=bar.get_facecolor(),
                    )
    for axes, (title, unit) in zip(panels, _TITLES, strict=True):
        axes.set_title(f"{title} (ideal condition, log scale)")
        axes.set_yscale("log")
        highest = max((bar.get_height() for bar in axes.patches), default=1.0)
        axes.set_ylim(0.8, max(highest, 1.0) * 2)
        axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axes.set_ylabel(unit)
        axes.set_xticks(range(len(workloads)), workloads)
        axes.grid(axis="y", alpha=0.3)
    panels[0].legend(fontsize="small")
    figure.savefig(path, dpi=100)
    plt.close(figure)
