"""When is a change visible to viewers? Pure: the rules are the batcher's own.

A change (an object key, or a path asked for on demand) maps to paths on each distribution
through the distribution's ``KeyMapping`` (``cfinvalidator.origins``, as the batcher maps it).
Each (distribution, path) is a target. A target is covered when a *completed* invalidation of
that distribution, created after the change, covers the path: ``DistributionState.covering``,
the rule the batcher uses to skip paths already covered, applied to completed invalidations only
(see ``_Ledger`` for the one difference: the service's own invalidations need no clock margin).

A target not yet covered is pending. It is failed when the service said it failed: the
invalidation that covers it has a tracker execution that ended FAILED, TIMED_OUT or ABORTED, or
the record that carried it reached the dead-letter queue (and nothing covers it since).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import parse_message
from cfinvalidator.ledger import DistributionState, KnownInvalidation
from cfinvalidator.origins import KeyMapping
from cfinvalidator.planning import CALLER_REFERENCE_PREFIX, execution_name


@dataclass(frozen=True, slots=True)
class Change:
    source: str  # the object key, or the requested path
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class Target:
    distribution_id: str
    source: str
    path: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class Failure:
    distribution_id: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Progress:
    sources: int  # distinct changes with at least one target
    covered_sources: int  # of those, with every target covered
    pending: tuple[Target, ...]
    in_progress: frozenset[tuple[str, str]]  # (distribution, invalidation ID) covering pending
    failures: tuple[Failure, ...]

    @property
    def done(self) -> bool:
        return not self.pending


def targets_for_keys(
    changes: Iterable[Change], mappings: Mapping[str, KeyMapping]
) -> tuple[Target, ...]:
    """Every path of every changed key on every distribution, as the batcher maps them; a key
    no distribution serves (KeyPrefix, origin paths, cache behaviours) has none."""
    return tuple(
        Target(distribution_id, change.source, path, change.changed_at)
        for change in changes
        for distribution_id, mapping in mappings.items()
        for path in mapping.paths_for(change.source)
    )


def targets_for_paths(
    changes: Iterable[Change], distribution_ids: Iterable[str]
) -> tuple[Target, ...]:
    """Requested paths apply as they are, on every distribution."""
    ids = tuple(distribution_ids)
    return tuple(
        Target(distribution_id, change.source, change.source, change.changed_at)
        for change in changes
        for distribution_id in ids
    )


def dead_sources(
    bodies: Iterable[tuple[str, datetime, str]], since: datetime, request_id: str | None = None
) -> dict[str, str]:
    """Source -> reason, for dead-lettered ``(body, sent_at, reason)`` sent at or after
    ``since``: the keys their events name, or, with ``request_id``, the paths of that request.
    A body the batcher could not read names nothing."""
    dead: dict[str, str] = {}
    for body, sent_at, reason in bodies:
        if sent_at < since:
            continue
        try:
            parsed = parse_message("dead-letter", body)
        except MalformedEventError:
            continue
        if request_id is None:
            dead.update((event.key, reason) for event in parsed.events)
        else:
            dead.update((r.path, reason) for r in parsed.requested if r.request_id == request_id)
    return dead


@dataclass(frozen=True, slots=True)
class _Ledger:
    """A distribution's invalidations: the service's own apart from the others.

    The service's own (CallerReference ``cfinv-...``) were asked for in answer to a change's
    event, so they come after it by causality and count from the change's own time. Any other
    counts only from COVERAGE_MARGIN after it, as in the batcher: S3's and CloudFront's clocks
    may differ slightly, and S3's LastModified has whole seconds.
    """

    ours: DistributionState
    others: DistributionState

    @classmethod
    def of(cls, known: Sequence[KnownInvalidation]) -> _Ledger:
        mine = [i for i in known if i.caller_reference.startswith(CALLER_REFERENCE_PREFIX)]
        rest = [i for i in known if not i.caller_reference.startswith(CALLER_REFERENCE_PREFIX)]
        return cls(DistributionState.of(mine), DistributionState.of(rest))

    def covering(self, target: Target) -> KnownInvalidation | None:
        own = self.ours.covering(target.path, target.changed_at, margin=timedelta(0))
        return own or self.others.covering(target.path, target.changed_at)


def assess(
    targets: Sequence[Target],
    histories: Mapping[str, Sequence[KnownInvalidation]],
    ended_trackers: Mapping[str, str],
    dead: Mapping[str, str],
) -> Progress:
    """Where every target stands. ``histories``: each distribution's invalidations (as
    ``cfinvalidator.history.read_history`` reads them); ``ended_trackers``: execution name ->
    status of tracker executions that did not succeed; ``dead``: from ``dead_sources``."""
    completed = {
        d: _Ledger.of([i for i in known if not i.in_progress]) for d, known in histories.items()
    }
    everything = {d: _Ledger.of(known) for d, known in histories.items()}
    empty = _Ledger.of([])
    pending: list[Target] = []
    in_progress: set[tuple[str, str]] = set()
    failures: dict[tuple[str, str], Failure] = {}
    for target in targets:
        d = target.distribution_id
        if completed.get(d, empty).covering(target) is not None:
            continue
        pending.append(target)
        running = everything.get(d, empty).covering(target)
        if running is not None:
            in_progress.add((d, running.invalidation_id))
            status = ended_trackers.get(execution_name(d, running.invalidation_id))
            if status is not None:
                failures[(d, target.source)] = Failure(
                    d,
                    target.source,
                    f"invalidation {running.invalidation_id} is not complete and its tracker "
                    f"ended {status}",
                )
        elif target.source in dead:
            failures[(d, target.source)] = Failure(
                d, target.source, f"dead-lettered: {dead[target.source]}"
            )
    sources = {t.source for t in targets}
    uncovered = {t.source for t in pending}
    return Progress(
        sources=len(sources),
        covered_sources=len(sources - uncovered),
        pending=tuple(pending),
        in_progress=frozenset(in_progress),
        failures=tuple(failures.values()),
    )
