"""The wait loop: read, assess, report, sleep, until done, failed or out of time.

The clock and the sleep are injected, so tests control time; the reading is a callable, so the
loop never touches AWS itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cfinv.completion import Progress, Target, assess
from cfinv.errors import Exit
from cfinvalidator.ledger import KnownInvalidation


class Result(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    NOTHING_CHANGED = "nothing_changed"

    @property
    def exit_code(self) -> Exit:
        return {
            Result.COMPLETED: Exit.OK,
            Result.NOTHING_CHANGED: Exit.OK,
            Result.FAILED: Exit.FAILED,
            Result.TIMED_OUT: Exit.TIMED_OUT,
        }[self]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reading of what the targets depend on (see ``completion.assess``)."""

    histories: Mapping[str, Sequence[KnownInvalidation]]
    ended_trackers: Mapping[str, str]
    dead: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    progress: Progress | None
    elapsed: float


def wait_for(
    targets: Sequence[Target],
    read: Callable[[Sequence[Target]], Snapshot],
    *,
    timeout: float,
    poll_seconds: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    report: Callable[[Progress, float], None],
) -> Outcome:
    """Poll until every target is covered (COMPLETED), one has failed (FAILED), or ``timeout``
    seconds have passed (TIMED_OUT). No target: NOTHING_CHANGED at once. ``read`` is given the
    targets still pending; covered ones stay covered (an invalidation never un-completes)."""
    if not targets:
        return Outcome(Result.NOTHING_CHANGED, None, 0.0)
    started = clock()
    total = len({t.source for t in targets})
    pending: Sequence[Target] = targets
    while True:
        snapshot = read(pending)
        current = assess(pending, snapshot.histories, snapshot.ended_trackers, snapshot.dead)
        uncovered = {t.source for t in current.pending}
        progress = Progress(
            sources=total,
            covered_sources=total - len(uncovered),
            pending=current.pending,
            in_progress=current.in_progress,
            failures=current.failures,
        )
        elapsed = clock() - started
        report(progress, elapsed)
        if progress.done:
            return Outcome(Result.COMPLETED, progress, elapsed)
        if progress.failures:
            return Outcome(Result.FAILED, progress, elapsed)
        if elapsed >= timeout:
            return Outcome(Result.TIMED_OUT, progress, elapsed)
        pending = current.pending
        sleep(min(poll_seconds, max(0.0, timeout - elapsed)))
