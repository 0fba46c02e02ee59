"""What ``cfinv`` prints: progress on a terminal (rich), timestamped lines without one, JSON for
scripts. Results go to standard output, progress to standard error."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from cfinv import completion
from cfinv.explain import DistributionPlanReport
from cfinv.operations import StatusReport
from cfinv.waiting import Outcome, Result
from cfinvalidator.collapse import MANY, Pricing

_LINE_EVERY_SECONDS = 60.0  # without a terminal, a line at least this often while waiting


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration(seconds: float) -> str:
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Reporter:
    """Receives each reading of a wait (``report``), then ``close``."""

    def report(self, progress: completion.Progress, elapsed: float) -> None: ...

    def close(self) -> None: ...


class TerminalReporter(Reporter):
    """A progress bar: keys covered of total, invalidations in progress, elapsed."""

    def __init__(self, stream: IO[str], what: str) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[running]} invalidation(s) in progress"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._progress.add_task(what, total=None, running=0)
        self._progress.start()

    def report(self, progress: completion.Progress, elapsed: float) -> None:
        self._progress.update(
            self._task,
            total=progress.sources,
            completed=progress.covered_sources,
            running=len(progress.in_progress),
        )

    def close(self) -> None:
        self._progress.stop()


class LineReporter(Reporter):
    """A timestamped line whenever the count changes, and at least once a minute."""

    def __init__(self, stream: IO[str], what: str, now: Callable[[], datetime]) -> None:
        self._stream = stream
        self._what = what
        self._now = now
        self._last: tuple[int, int] | None = None
        self._last_at = 0.0

    def report(self, progress: completion.Progress, elapsed: float) -> None:
        state = (progress.covered_sources, len(progress.in_progress))
        if state == self._last and elapsed - self._last_at < _LINE_EVERY_SECONDS:
            return
        self._last, self._last_at = state, elapsed
        print(
            f"{stamp(self._now())} {progress.covered_sources}/{progress.sources} {self._what} "
            f"covered, {len(progress.in_progress)} invalidation(s) in progress, "
            f"{duration(elapsed)} elapsed",
            file=self._stream,
            flush=True,
        )


def outcome_document(outcome: Outcome, **extra: Any) -> dict[str, Any]:
    progress = outcome.progress
    document: dict[str, Any] = {
        "result": outcome.result.value,
        "elapsedSeconds": round(outcome.elapsed, 3),
        **extra,
    }
    if progress is not None:
        document.update(
            total=progress.sources,
            covered=progress.covered_sources,
            pending=[
                {"distributionId": t.distribution_id, "source": t.source, "path": t.path}
                for t in progress.pending[:100]
            ],
            inProgress=sorted(f"{d}/{i}" for d, i in progress.in_progress),
            failures=[
                {"distributionId": f.distribution_id, "source": f.source, "reason": f.reason}
                for f in progress.failures
            ],
        )
    return document


def outcome_text(outcome: Outcome, what: str, since: datetime | None = None) -> list[str]:
    progress = outcome.progress
    if outcome.result is Result.NOTHING_CHANGED or progress is None:
        when = f" since {stamp(since)}" if since is not None else ""
        return [f"nothing changed{when} that a distribution serves: nothing to wait for"]
    took = duration(outcome.elapsed)
    if outcome.result is Result.COMPLETED:
        return [f"completed: {progress.sources} {what} covered by completed invalidations ({took})"]
    if outcome.result is Result.FAILED:
        lines = [f"FAILED: {len(progress.failures)} {what} will not be covered ({took})"]
        lines += [f"  {f.source!r} on {f.distribution_id}: {f.reason}" for f in progress.failures]
        return lines
    waiting = sorted({t.source for t in progress.pending})
    lines = [f"timed out after {took}: {len(waiting)} of {progress.sources} {what} not covered yet"]
    lines += [f"  {source!r}" for source in waiting[:20]]
    if len(waiting) > 20:
        lines.append(f"  ... and {len(waiting) - 20} more")
    if progress.in_progress:
        running = ", ".join(sorted(f"{d}/{i}" for d, i in progress.in_progress))
        lines.append(f"  invalidations still in progress: {running}")
    return lines


def plan_document(reports: Sequence[DistributionPlanReport]) -> dict[str, Any]:
    return {
        "distributions": [
            {
                "distributionId": r.distribution_id,
                "request": list(r.request),
                "billedPaths": r.billed,
                "wildcards": r.wildcards,
                "collapsed": {k: list(v) for k, v in r.collapsed.items()},
                "deferredKeys": list(r.deferred_keys),
                "freeQuota": {"files": r.free_files, "wildcards": r.free_wildcards},
                "pricing": r.pricing.name,
                "monthlyPathsLeft": r.paths_left,
                "unchangedPerSavedPath": r.unchanged_per_path,
                "bucketCounted": r.bucket_counted,
                "weighed": [
                    {
                        "directory": w.directory,
                        "paths": w.paths,
                        "unchangedObjects": None
                        if w.unchanged is None or w.unchanged >= MANY
                        else w.unchanged,
                        "tooManyToCount": w.unchanged is not None and w.unchanged >= MANY,
                        "chosen": w.chosen,
                    }
                    for w in r.weighed
                ],
                "keys": [
                    {"key": k.key, "paths": list(k.paths), "notes": list(k.notes)} for k in r.keys
                ],
            }
            for r in reports
        ]
    }


def plan_text(reports: Sequence[DistributionPlanReport]) -> list[str]:
    lines: list[str] = []
    for report in reports:
        lines.append(f"distribution {report.distribution_id}")
        for key in report.keys:
            lines.append(f"  {key.key!r} -> {', '.join(key.paths) or '(nothing)'}")
            lines += [f"      {note}" for note in key.notes]
        if not report.request:
            lines.append("  request: none (nothing to invalidate)")
        else:
            lines.append(
                f"  request: {report.billed} path(s), {report.wildcards} wildcard(s), "
                f"{report.billed} billed"
            )
            for path in report.request:
                covered = report.collapsed.get(path)
                suffix = f"   collapses {len(covered)}: {', '.join(covered[:5])}" if covered else ""
                if covered and len(covered) > 5:
                    suffix += ", ..."
                lines.append(f"    {path}{suffix}")
        if report.request:
            lines += _pricing_lines(report)
        if report.deferred_keys:
            lines.append(
                f"  deferred until quota frees up ({report.free_files} file and "
                f"{report.free_wildcards} wildcard paths free): {', '.join(report.deferred_keys)}"
            )
    return lines


_WEIGHED_SHOWN = 12


def _pricing_lines(report: DistributionPlanReport) -> list[str]:
    """How wildcards were priced, and the directories weighed (the largest first)."""
    left = report.paths_left
    month = "this month's budget unknown" if left is None else f"{left:,} paths left this month"
    if report.pricing is Pricing.FREE:
        rule = "inside the budget: exact paths, wildcards only where nothing unchanged is lost"
    else:
        rule = (
            f"beyond the budget: a wildcard may invalidate up to {report.unchanged_per_path:,} "
            "unchanged objects per billed path it saves"
        )
    counted = "bucket counted" if report.bucket_counted else "bucket not counted: CollapseThreshold"
    lines = [f"  pricing: {rule} ({month}; {counted})"]
    weighed = sorted(report.weighed, key=lambda w: (-w.paths, w.directory))
    for item in weighed[:_WEIGHED_SHOWN]:
        if item.unchanged is None:
            cost = "objects not counted"
        elif item.unchanged >= MANY:
            cost = "too many objects to count"
        else:
            cost = f"{item.unchanged:,} unchanged object(s) invalidated"
        verdict = "chosen" if item.chosen else "not chosen"
        lines.append(f"    {item.directory}* instead of {item.paths} path(s): {cost} -> {verdict}")
    if len(weighed) > _WEIGHED_SHOWN:
        lines.append(f"    ... and {len(weighed) - _WEIGHED_SHOWN} smaller directories")
    return lines


def _depth(depth: Any) -> dict[str, int]:
    return {"visible": depth.visible, "inFlight": depth.in_flight, "delayed": depth.delayed}


def status_document(report: StatusReport) -> dict[str, Any]:
    return {
        "stack": report.label,
        "queue": _depth(report.queue),
        "deadLetterQueue": _depth(report.dead_letter_queue),
        "oldestMessageAgeSeconds": report.oldest_message_age,
        "billedPathsThisMonth": report.billed_paths_this_month,
        "monthStart": stamp(report.month_start),
        "distributions": [
            {
                "distributionId": d.distribution_id,
                "inProgress": [
                    {
                        "id": i.invalidation_id,
                        "createTime": stamp(i.create_time),
                        "paths": len(i.paths),
                    }
                    for i in d.in_progress
                ],
                "freeFilePaths": d.free_files,
                "freeWildcardPaths": d.free_wildcards,
                "unreadInProgress": d.unread_in_progress,
            }
            for d in report.distributions
        ],
    }


def status_text(report: StatusReport) -> list[str]:
    q, dlq = report.queue, report.dead_letter_queue
    age = report.oldest_message_age
    billed = report.billed_paths_this_month
    lines = [
        report.label,
        f"  queue: {q.visible} waiting, {q.in_flight} in flight, {q.delayed} delayed (deferred)",
        f"  dead-letter queue: {dlq.visible + dlq.in_flight + dlq.delayed} message(s)"
        + ("  (cfinv redrive moves them back)" if dlq.visible else ""),
        "  oldest message: "
        + (duration(age) if age is not None else "no CloudWatch datapoint in the last 15 minutes"),
        f"  billed paths since {report.month_start:%Y-%m-%d}: "
        + (
            f"{billed:.0f} (BilledPaths metric of this service's stacks in the region; the first "
            "1,000 paths a month of the whole account are free)"
            if billed is not None
            else "no datapoint (BilledPaths metric)"
        ),
    ]
    for d in report.distributions:
        lines.append(
            f"  {d.distribution_id}: {len(d.in_progress)} invalidation(s) in progress; "
            f"quota left {d.free_files} file paths, {d.free_wildcards} wildcard paths"
        )
        lines += [
            f"      {i.invalidation_id} created {stamp(i.create_time)}, {len(i.paths)} path(s)"
            for i in d.in_progress[:10]
        ]
    return lines


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
