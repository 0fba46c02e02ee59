"""A run's outcome: invocations, invalidations, what became of every upload, and coverage."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from cfinvalidator.paths import PathRules, decode_path, is_wildcard, paths_for_key
from emulator.local_aws.cloudfront import CreateInvalidationCall
from emulator.simulation.queue import DeadLetterRecord
from emulator.simulation.services import Notification, TrackerRun
from emulator.simulation.settings import (
    ClosedBy,
    InvocationOutcome,
    Upload,
)


# ---------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class InvocationRecord:
    number: int
    started_at: float
    ended_at: float
    closed_by: ClosedBy
    message_ids: tuple[str, ...]
    failures: int  # records left on the queue (reported, or all of them on an error)
    outcome: InvocationOutcome
    error: str | None = None

    @property
    def records(self) -> int:
        return len(self.message_ids)


@dataclass(frozen=True, slots=True)
class InvalidationRecord:
    """An invalidation CloudFront created, with its tracker's notification if one ran."""

    distribution_id: str
    invalidation_id: str
    caller_reference: str
    created_at: float
    completes_at: float
    paths: tuple[str, ...]
    notified_at: float | None = None
    notification_status: str | None = None

    @property
    def wildcards(self) -> int:
        return sum(1 for path in self.paths if is_wildcard(path))


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What became of one upload.

    ``requested_at``: when every path viewers may request for the key was covered, on every
    distribution, by an invalidation created at or after the upload (the latest of the earliest
    such invalidation per path); ``completed_at``: when all those invalidations had completed
    in CloudFront (viewers get the new version from then on, whether or not anyone was told);
    ``notified_at``: when all their trackers had notified COMPLETED (None if one did not).
    """

    upload: Upload
    message_id: str | None
    in_scope: bool  # False: KEY_PREFIX/ORIGIN_PATH give the key no viewer path
    requested_at: float | None
    notified_at: float | None
    dead_lettered: bool
    completed_at: float | None = None

    @property
    def lost(self) -> bool:
        return self.in_scope and self.requested_at is None and not self.dead_lettered

    @property
    def request_latency(self) -> float | None:
        return None if self.requested_at is None else self.requested_at - self.upload.at

    @property
    def completion_latency(self) -> float | None:
        return None if self.completed_at is None else self.completed_at - self.upload.at

    @property
    def notify_latency(self) -> float | None:
        return None if self.notified_at is None else self.notified_at - self.upload.at


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile, ``q`` from 0 to 100; None when there are no values."""
    if not 0 <= q <= 100:
        msg = f"percentile must be from 0 to 100, got {q}"
        raise ValueError(msg)
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of a run. Invalidations created by ``Simulation.occupy`` are reported in
    ``occupying`` only: calls, billed paths and errors count the handler's requests alone."""

    uploads: int
    invocations: tuple[InvocationRecord, ...]
    create_invalidation_calls: int
    invalidations: tuple[InvalidationRecord, ...]
    billed_paths: int
    wildcard_paths_billed: int
    quota_errors: int  # CreateInvalidation refused with TooManyInvalidationsInProgress
    throttled_calls: int  # CreateInvalidation refused with Throttling
    rejected_calls: Mapping[str, int]  # every refused CreateInvalidation, by error code
    deferrals: int  # Deferral items the handler asked the queue for
    dead_letters: tuple[DeadLetterRecord, ...]
    notifications: tuple[Notification, ...]  # the service's and the trackers', by time
    failed_notifications: int  # FAILED or TIMED_OUT
    keys_lost: int
    outcomes: tuple[UploadOutcome, ...]
    tracker_runs: tuple[TrackerRun, ...]
    occupying: tuple[InvalidationRecord, ...]
    finished_at: float  # the queue drained and every tracker notified
    truncated: bool  # stopped by max_simulated_seconds or max_invocations

    @property
    def invocation_count(self) -> int:
        return len(self.invocations)

    @property
    def created_invalidations(self) -> int:
        return len(self.invalidations)

    @property
    def dead_lettered(self) -> tuple[str, ...]:
        """Message IDs in the dead-letter queue (redrive and the service's own), in order."""
        return tuple(record.message_id for record in self.dead_letters)

    def lost_uploads(self) -> list[UploadOutcome]:
        return [outcome for outcome in self.outcomes if outcome.lost]

    def request_latencies(self) -> list[float]:
        return [o.request_latency for o in self.outcomes if o.request_latency is not None]

    def completion_latencies(self) -> list[float]:
        return [o.completion_latency for o in self.outcomes if o.completion_latency is not None]

    def notify_latencies(self) -> list[float]:
        return [o.notify_latency for o in self.outcomes if o.notify_latency is not None]

    def summary(self) -> dict[str, object]:
        """Headline numbers, e.g. for a benchmark table."""
        requested, notified = self.request_latencies(), self.notify_latencies()
        completed = self.completion_latencies()
        return {
            "uploads": self.uploads,
            "invocations": self.invocation_count,
            "create_invalidation_calls": self.create_invalidation_calls,
            "invalidations": self.created_invalidations,
            "billed_paths": self.billed_paths,
            "wildcard_paths_billed": self.wildcard_paths_billed,
            "quota_errors": self.quota_errors,
            "throttled_calls": self.throttled_calls,
            "deferrals": self.deferrals,
            "dead_lettered": len(self.dead_letters),
            "failed_notifications": self.failed_notifications,
            "keys_lost": self.keys_lost,
            "request_latency_p50": percentile(requested, 50),
            "request_latency_p99": percentile(requested, 99),
            "completion_latency_p50": percentile(completed, 50),
            "completion_latency_p99": percentile(completed, 99),
            "notify_latency_p50": percentile(notified, 50),
            "notify_latency_p99": percentile(notified, 99),
            "finished_at": self.finished_at,
            "truncated": self.truncated,
        }


class Coverage:
    """Which invalidations of one distribution cover a path, and the earliest since a time.

    Paths are compared decoded (``cfinvalidator.paths.covers``): an exact path covers an equal
    path; a wildcard covers every path (or narrower wildcard) starting with its prefix.
    Exact paths are indexed in a dict, wildcard prefixes by prefix and by length.
    """

    def __init__(self, invalidations: Sequence[InvalidationRecord]) -> None:
        exact: dict[str, list[InvalidationRecord]] = {}
        prefixes: dict[str, list[InvalidationRecord]] = {}
        for invalidation in sorted(invalidations, key=lambda i: i.created_at):
            for path in invalidation.paths:
                if is_wildcard(path):
                    prefixes.setdefault(_decoded(path[:-1]), []).append(invalidation)
                else:
                    exact.setdefault(_decoded(path), []).append(invalidation)
        self._exact = {p: ([i.created_at for i in found], found) for p, found in exact.items()}
        self._prefixes = {
            p: ([i.created_at for i in found], found) for p, found in prefixes.items()
        }
        self._lengths = sorted({len(prefix) for prefix in prefixes})

    def earliest(self, path: str, since: float) -> InvalidationRecord | None:
        """The first invalidation created at or after ``since`` that covers ``path``."""
        best: InvalidationRecord | None = None
        wildcard = is_wildcard(path)
        target = _decoded(path[:-1] if wildcard else path)
        if not wildcard:
            best = _first_since(self._exact.get(target), since)
        for length in self._lengths:
            if length > len(target):
                break
            found = _first_since(self._prefixes.get(target[:length]), since)
            if found is not None and (best is None or found.created_at < best.created_at):
                best = found
        return best


def _first_since(
    entry: tuple[list[float], list[InvalidationRecord]] | None, since: float
) -> InvalidationRecord | None:
    if entry is None:
        return None
    times, invalidations = entry
    index = bisect.bisect_left(times, since)
    return invalidations[index] if index < len(times) else None


def _decoded(path: str) -> str:
    try:
        return decode_path(path)
    except UnicodeDecodeError:
        return path


@dataclass(frozen=True, slots=True)
class _Covered:
    requested_at: float | None = None
    completed_at: float | None = None
    notified_at: float | None = None


def _covered(
    since: float,
    paths: Sequence[str],
    distributions: Iterable[Coverage],
    runs: Mapping[str, TrackerRun],
) -> _Covered:
    """When one upload's paths were requested, completed and notified over every
    distribution (the latest over its paths of the earliest covering invalidation)."""
    requested = completed = notified = since
    notified_ok = True
    for coverage in distributions:
        for path in paths:
            invalidation = coverage.earliest(path, since)
            if invalidation is None:
                return _Covered()
            requested = max(requested, invalidation.created_at)
            completed = max(completed, invalidation.completes_at)
            run = runs.get(invalidation.invalidation_id)
            if run is None or run.status != "COMPLETED":
                notified_ok = False
            else:
                notified = max(notified, run.notified_at)
    return _Covered(requested, completed, notified if notified_ok else None)


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """What a finished run leaves behind, from which its :class:`Report` is judged."""

    uploads: Sequence[Upload]
    message_ids: Sequence[str | None]  # by upload; None: not delivered (the run was cut short)
    invocations: Sequence[InvocationRecord]
    calls: Sequence[CreateInvalidationCall]  # every CreateInvalidation CloudFront saw
    completes_at: Callable[[str], float]  # invalidation ID -> when it completes
    occupying: Collection[tuple[str, str]]  # (distribution, caller reference) not the handler's
    tracker_runs: Sequence[TrackerRun]
    published: Sequence[Notification]  # the service's own notifications
    dead_letters: Sequence[DeadLetterRecord]
    deferrals: int
    distribution_ids: Sequence[str]
    rules: PathRules


def build_report(run: FinishedRun, now: float, truncated: bool) -> Report:
    """Judge a finished run from CloudFront's side (see the package docstring)."""
    runs = {tracked.invalidation_id: tracked for tracked in reversed(run.tracker_runs)}
    calls = run.calls
    own_calls = [c for c in calls if (c.distribution_id, c.caller_reference) not in run.occupying]
    every_created: list[InvalidationRecord] = []
    occupying: list[InvalidationRecord] = []
    invalidations: list[InvalidationRecord] = []
    for call in calls:
        if call.outcome != "created" or call.invalidation_id is None:
            continue
        tracker = runs.get(call.invalidation_id)
        record = InvalidationRecord(
            distribution_id=call.distribution_id,
            invalidation_id=call.invalidation_id,
            caller_reference=call.caller_reference,
            created_at=call.at,
            completes_at=run.completes_at(call.invalidation_id),
            paths=call.paths,
            notified_at=None if tracker is None else tracker.notified_at,
            notification_status=None if tracker is None else tracker.status,
        )
        every_created.append(record)
        mine = (call.distribution_id, call.caller_reference) not in run.occupying
        (invalidations if mine else occupying).append(record)
    rejected = Counter(c.error_code or "Unknown" for c in own_calls if c.outcome == "rejected")
    notifications = _notifications(run)
    outcomes = _outcomes(run, every_created, runs)
    last_notification = max((n.at for n in notifications), default=now)
    return Report(
        uploads=len(run.uploads),
        invocations=tuple(run.invocations),
        create_invalidation_calls=len(own_calls),
        invalidations=tuple(invalidations),
        billed_paths=sum(len(i.paths) for i in invalidations),
        wildcard_paths_billed=sum(i.wildcards for i in invalidations),
        quota_errors=rejected.get("TooManyInvalidationsInProgress", 0),
        throttled_calls=rejected.get("Throttling", 0),
        rejected_calls=dict(sorted(rejected.items())),
        deferrals=run.deferrals,
        dead_letters=tuple(run.dead_letters),
        notifications=notifications,
        failed_notifications=sum(1 for n in notifications if n.status in ("FAILED", "TIMED_OUT")),
        keys_lost=sum(1 for outcome in outcomes if outcome.lost),
        outcomes=outcomes,
        tracker_runs=tuple(run.tracker_runs),
        occupying=tuple(occupying),
        finished_at=max(now, last_notification),
        truncated=truncated,
    )


def _notifications(run: FinishedRun) -> tuple[Notification, ...]:
    tracked = [
        Notification(
            tracked.notified_at,
            "tracker",
            tracked.status,
            tracked.distribution_id,
            tracked.invalidation_id,
        )
        for tracked in run.tracker_runs
    ]
    everything = [*run.published, *tracked]
    order = sorted(range(len(everything)), key=lambda i: (everything[i].at, i))
    return tuple(everything[i] for i in order)


def _outcomes(
    run: FinishedRun, created: Sequence[InvalidationRecord], runs: Mapping[str, TrackerRun]
) -> tuple[UploadOutcome, ...]:
    coverage = {
        d: Coverage([i for i in created if i.distribution_id == d]) for d in run.distribution_ids
    }
    dead = {record.message_id for record in run.dead_letters}
    paths_of: dict[str, tuple[str, ...]] = {}
    outcomes: list[UploadOutcome] = []
    for index, upload in enumerate(run.uploads):
        paths = paths_of.get(upload.key)
        if paths is None:
            paths = paths_of[upload.key] = paths_for_key(upload.key, run.rules)
        message_id = run.message_ids[index]
        covered = _covered(upload.at, paths, coverage.values(), runs)
        outcomes.append(
            UploadOutcome(
                upload=upload,
                message_id=message_id,
                in_scope=bool(paths),
                requested_at=covered.requested_at if paths else None,
                notified_at=covered.notified_at if paths else None,
                dead_lettered=message_id in dead,
                completed_at=covered.completed_at if paths else None,
            )
        )
    return tuple(outcomes)
