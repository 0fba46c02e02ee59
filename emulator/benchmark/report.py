"""The printed table and docs/benchmarks.md, from the results, the targets and the reading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from emulator.benchmark.cells import case_label, count, dollars, latency
from emulator.benchmark.conditions import CONDITIONS
from emulator.benchmark.reading import reading
from emulator.benchmark.runner import (
    FREE_PATHS_PER_MONTH,
    PRICE_PER_PATH,
    STRATEGIES,
    CaseResult,
)
from emulator.benchmark.targets import TITLES, HandlerFigures, Target
from emulator.benchmark.workloads import Workload

_COST_HEADER: Final = (
    "workload",
    "strategy",
    "CreateInvalidation calls",
    "billed paths",
    "$ beyond free 1,000",
    "unchanged objects invalidated",
    "quota errors",
    "deferrals",
    "keys lost",
    "dead-lettered (per object: dropped)",
)
_TIME_HEADER: Final = (
    "workload",
    "strategy",
    "upload -> requested (p50 / p99 / max s)",
    "upload -> completed",
    "upload -> notified",
)


def _cost_rows(results: Sequence[CaseResult]) -> list[tuple[str, ...]]:
    return [
        (
            case_label(r),
            TITLES.get(r.strategy, r.strategy),
            count(r.create_invalidation_calls),
            count(r.billed_paths),
            dollars(r.dollars),
            count(r.over_invalidated),
            count(r.quota_errors),
            count(r.deferrals),
            count(r.keys_lost),
            count(r.dead_lettered),
        )
        for r in results
    ]


def _time_rows(results: Sequence[CaseResult]) -> list[tuple[str, ...]]:
    return [
        (
            case_label(r),
            TITLES.get(r.strategy, r.strategy),
            latency(r.requested),
            latency(r.completed),
            latency(r.notified),
        )
        for r in results
    ]


def _handler_rows(handler: HandlerFigures) -> list[tuple[str, str]]:
    rows = [
        (
            f"CPU per {batch.records:,}-record batch, {name}",
            f"median {batch.cpu_ms_median:.0f} ms, min {batch.cpu_ms_min:.0f} ms "
            f"({batch.records_per_second:,.0f} records/s by wall time; "
            f"peak Python allocation {batch.peak_python_mib:.1f} MiB)",
        )
        for name, batch in handler.batches.items()
    ]
    rows.extend(
        (
            f"peak memory serving {batch.records:,} records, {name}",
            f"{batch.peak_mib:.0f} MiB RSS ({batch.after_import_mib:.0f} MiB after imports; "
            f"MemorySize {handler.memory_size_mib} MiB)",
        )
        for name, batch in handler.batches.items()
    )
    imports = handler.imports
    rows.append(
        (
            "cold import of the handler module",
            f"{imports.handler_ms:.0f} ms vs {imports.boto3_ms:.0f} ms for `import boto3` "
            f"alone: {imports.ratio:.2f}x"
            + (
                f"; {imports.source_only_ms:.0f} ms without the shipped bytecode"
                if imports.source_only_ms is not None
                else ""
            )
            + f" (median of {imports.runs}; {imports.environment})",
        )
    )
    return rows


def _plain(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )
    return "\n".join(lines)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _is_number(cell: str) -> bool:
    return cell.lstrip("$").replace(",", "").replace(".", "").isdigit()


def text_table(
    results: Sequence[CaseResult], handler: HandlerFigures | None, found: Sequence[Target]
) -> str:
    """What ``make bench`` prints."""
    parts = [
        _plain(_COST_HEADER, _cost_rows(results)),
        "",
        _plain(_TIME_HEADER, _time_rows(results)),
    ]
    if handler is not None:
        parts += ["", _plain(("handler", "figure"), _handler_rows(handler))]
    if found:
        parts += ["", _plain(("target", "measured", "met"), _target_rows(found))]
    return "\n".join(parts)


def _target_rows(found: Sequence[Target]) -> list[tuple[str, str, str]]:
    return [(t.goal, t.measured, "yes" if t.met else "NO") for t in found]


# -------------------------------------------------------------------------------- markdown
def markdown(
    results: Sequence[CaseResult],
    handler: HandlerFigures,
    found: Sequence[Target],
    selected: Sequence[Workload],
    *,
    chart: str,
    environment: str,
) -> str:
    """docs/benchmarks.md: how it runs, the targets, the tables and a reading of them."""
    workload_lines = "\n".join(f"- `{w.name}`: {w.title}." for w in selected)
    strategy_lines = "\n".join(f"- {s.title} (`{s.name}`)." for s in STRATEGIES)
    sections = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`scripts/bench.py`); every figure below comes from one run. "
        f"Machine: {environment}.",
        "",
        "## How it runs",
        "",
        "Each strategy serves the same seeded workload on the simulated pipeline "
        "(`emulator/simulation/`): S3 events on an SQS queue with its redrive policy, the "
        "event source mapping (30 s batching window, batch size 10,000, maximum concurrency 2), "
        "the batch handler, the faithful CloudFront double over moto (3,000 file paths and "
        "15 wildcards in progress per distribution, invalidations complete in 20 s) and the "
        "tracker polling every 10 s. Time is simulated; nothing runs against AWS. "
        "Defaults are the stack's: one distribution, MonthlyPathBudget 1,000, "
        "UnchangedObjectsPerSavedPath 100, CountBucketObjects true, CollapseThreshold 10, "
        "MaxReceiveCount 8, visibility timeout 660 s. The service counts the simulated bucket's "
        "objects as it would with ListObjectsV2 and reads its billed paths of the month as it "
        "would from its metric; each workload starts with none billed.",
        "",
        "The bucket holds a known inventory before each run: a 20,000-file static site, a "
        "30,000-object media archive and a status document. Over-invalidation counts the "
        "objects that did not change but had a viewer path invalidated.",
        "",
        "Workloads:",
        "",
        workload_lines,
        "",
        "Strategies (`emulator/benchmark/strategies.py`, benchmark only):",
        "",
        strategy_lines,
        "",
        "The other strategies stand for what the existing tools do, each as its public "
        "behaviour is described (December 2026): an S3-triggered Lambda (one request per "
        "object as its event arrives, the SDK's retries on throttling and 5xx, then Lambda's "
        "two asynchronous retries, about 90 s apart here, then the event is dropped: counted "
        "as dead-lettered); s3deploy (the deploy's paths if at most 8, else `/*`; one try); "
        "CDK's BucketDeployment (one `/<prefix>*` per deploy, 10 client retries); SST (paths "
        "deduplicated and chunked by 3,000 files and 15 wildcards, errors swallowed); "
        "s3_website (chunks of 1,000 paths, back-off and retry on "
        "TooManyInvalidationsInProgress while it has time); and CI steps that always send "
        "`/*`. The deploy-time tools run once per batch of the same event source as this "
        "service (a 30 s window), standing for one deploy per window. None of them queues "
        'refused work: a refused request\'s keys are lost (the "keys lost" column) unless the '
        "tool's own retries get it through. To compare strategies and nothing else, all get "
        "this service's key-to-path mapping (with their own, hostile keys would fare worse). "
        "Caller references are unique per request, as the peers' are, so a retry is billed "
        "again. None waits for completion or notifies.",
        "",
        "Conditions (`emulator/benchmark/conditions.py`); every strategy runs on the same "
        "seeded ones:",
        "",
        *(f"- `{c.name}`: {c.title}." for c in CONDITIONS),
        "- sensitivity rows: the deploy under the realistic condition with CreateInvalidation "
        "throttled beyond 1 and 10 calls per second, for one request per object and this "
        "service.",
        "",
        f"Dollars are for the paths beyond the free {FREE_PATHS_PER_MONTH:,} a month at "
        f"${PRICE_PER_PATH} per path, as if the workload were the month's only one.",
        "",
        "## Targets",
        "",
        _markdown_table(("target", "measured", "met"), _target_rows(found)),
        "",
        "## Cost, quota and loss",
        "",
        _markdown_table(_COST_HEADER, _cost_rows(results)),
        "",
        "## Time from upload to invalidation",
        "",
        "Simulated seconds over the uploads that were invalidated (dead-lettered ones have "
        "none): when CloudFront accepted a covering invalidation (requested), when it "
        "completed, and when the subscriber was told.",
        "",
        _markdown_table(_TIME_HEADER, _time_rows(results)),
        "",
        f"![Billed paths and time to invalidation per strategy and workload]({chart})",
        "",
        "## Handler",
        "",
        "A fresh interpreter imports the handler module and serves the batch with "
        "`process_batch`, AWS stubbed (CloudFront idle, every call accepted), timed with "
        "`time.process_time` after a warm-up; memory is that process's peak resident set.",
        "",
        _markdown_table(("figure", "measured"), _handler_rows(handler)),
        "",
        "## Reading",
        "",
        *reading(results, handler),
        "",
    ]
    return "\n".join(sections)
