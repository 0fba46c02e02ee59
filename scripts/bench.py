"""``make bench``: this service against the strategies other tools use, on the same workloads.

Runs every workload with every strategy on the simulated pipeline (the faithful CloudFront
double over moto; no AWS account, no network), measures the handler (CPU per 10,000-record
batch, peak memory, cold import), prints the tables and the targets, and writes
docs/benchmarks.md and docs/benchmarks.png. A benchmark reports: missing a target does not
fail it.

Run from the repository root with the layer on the path (the Makefile does):
``python -m scripts.bench [--scale 0.01] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cfinvalidator.observability import logger
from emulator.benchmark import handler_figures, report, runner
from emulator.benchmark.chart import render_chart
from emulator.benchmark.conditions import CONDITIONS, REALISTIC
from emulator.benchmark.runner import CaseResult
from emulator.benchmark.targets import HandlerFigures, Target, targets
from emulator.benchmark.workloads import workloads
from emulator.simulation.settings import SimSettings
from emulator.simulation.uploads import s3_event_body
from emulator.simulation.workloads import hostile_keys, site_files
from scripts.demo import use_fake_aws_credentials

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
DOCS = REPO_ROOT / "docs"
HANDLER_RECORDS = 10_000
SENSITIVITY_RATES = (1, 10)  # CreateInvalidation calls per second, beside the realistic 3


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shrink every workload's object counts (1.0: the published figures; the test "
        "suite runs 0.01)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DOCS,
        help="where benchmarks.md and benchmarks.png are written (default: docs/)",
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs per handler figure (default 7)"
    )
    return parser.parse_args(argv)


def memory_size_mib() -> int:
    """The functions' MemorySize (Globals) in template.yaml."""
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        name, _, value = line.strip().partition(":")
        if name == "MemorySize":
            return int(value)
    msg = "template.yaml declares no MemorySize"
    raise LookupError(msg)


def handler_bodies(records: int) -> dict[str, list[str]]:
    """One batch of S3 event bodies per key shape: a site deploy and hostile keys."""
    shapes = {"site deploy": site_files(records), "hostile keys": hostile_keys(records)}
    return {
        name: [
            s3_event_body(key, at=n * 0.006, sequencer=f"{n:016X}") for n, key in enumerate(keys)
        ]
        for name, keys in shapes.items()
    }


@dataclass(frozen=True, slots=True)
class BenchRun:
    results: list[CaseResult]
    handler: HandlerFigures
    targets: list[Target]
    document: Path
    chart: Path
    table: str


def run(scale: float, out: Path, repeats: int) -> BenchRun:
    """Simulate every workload with every strategy, measure the handler, write the report."""
    use_fake_aws_credentials()
    logger.setLevel("WARNING")  # the service logs every invalidation it creates
    started = time.monotonic()
    selected = workloads(scale)
    settings = SimSettings()

    def progress(result: CaseResult) -> None:
        print(
            f"  {result.workload:<11} {result.condition:<15} {result.strategy:<16} "
            f"{result.wall_seconds:6.1f} s",
            file=sys.stderr,
            flush=True,
        )

    print(
        f"simulating {len(selected)} workloads x {len(runner.STRATEGIES)} strategies x "
        f"{len(CONDITIONS)} conditions"
    )
    deploy = next(w for w in selected if w.name == "deploy")
    sensitivity = [
        (deploy, strategy, REALISTIC.with_rate(rate))
        for strategy in runner.STRATEGIES
        if strategy.name in {"per-object", "service"}
        for rate in SENSITIVITY_RATES
    ]
    results = runner.run_matrix(
        selected,
        settings=settings,
        progress=progress,
        conditions=CONDITIONS,
        extra=sensitivity,
        workers=os.cpu_count() or 1,
    )
    records = max(2, round(HANDLER_RECORDS * scale))
    print(f"measuring the handler ({records:,}-record batches)")
    bodies = handler_bodies(records)
    handler = HandlerFigures(
        batches={
            name: handler_figures.measure_batch(batch, repeats) for name, batch in bodies.items()
        },
        imports=handler_figures.measure_cold_import(repeats),
        memory_size_mib=memory_size_mib(),
    )
    found = targets(results, handler, settings.batching_window_seconds)
    out.mkdir(parents=True, exist_ok=True)
    chart = out / "benchmarks.png"
    render_chart(results, chart)
    environment = (
        f"{platform.machine()}, {os.cpu_count() or 1} CPUs, Python "
        f"{platform.python_version()}, scale {scale:g}, "
        f"{time.monotonic() - started:.0f} s wall for the whole run"
    )
    document = out / "benchmarks.md"
    document.write_text(
        report.markdown(
            results, handler, found, selected, chart=chart.name, environment=environment
        ),
        encoding="utf-8",
    )
    table = report.text_table(results, handler, found)
    return BenchRun(results, handler, found, document, chart, table)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    started = time.monotonic()
    outcome = run(options.scale, options.out, options.repeats)
    print()
    print(outcome.table)
    print(f"\nwrote {outcome.document} and {outcome.chart} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
