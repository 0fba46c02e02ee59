"""Turn a batch of parsed messages into at most one CreateInvalidation per distribution.

``gather`` maps every event to the paths viewers may request (once, for all distributions).
``plan_distribution`` then decides, for one distribution and what it already has in progress:

1. which paths are still needed: a path already covered by an invalidation created after the
   object changed is not requested again (this is what makes redelivery free);
2. how to cover them (``collapse.candidates``: wildcards where they save billed paths, never
   broader than the policy allows, collapsed further under quota pressure);
3. if even the broadest allowed plan does not fit the free quota, which records are served now
   and which are deferred: records closest to the dead-letter queue first, then batch order.

Coverage is the invariant: every event of a served record has each of its paths covered by a
path of the request (or by an earlier invalidation); every other record is deferred.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cfinvalidator.collapse import Budget, CollapsePolicy, Selection, candidates, count
from cfinvalidator.events import ObjectEvent, ParsedMessage
from cfinvalidator.ledger import DistributionState, KnownInvalidation
from cfinvalidator.paths import PathRules, paths_for_key

SAMPLE_SIZE = 50
# Execution input and SNS messages are capped at 256 KiB: the samples stay well below it.
SAMPLE_BUDGET_BYTES = 32 * 1024
CALLER_REFERENCE_PREFIX = "cfinv-"
# From this delivery on, a record may be served with file paths instead of waiting for wildcard
# quota (two deferrals, about 45 s to 1.5 min with the default DeferDelaySeconds).
IMPATIENT_FROM_DELIVERY = 3
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Change:
    """One object event and every path viewers may request for it."""

    event: ObjectEvent
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Gathered:
    """A batch's changes, plus what was left out on purpose and why."""

    changes: tuple[Change, ...]
    rejected: dict[str, str] = field(default_factory=dict)  # message ID -> reason
    out_of_scope_keys: tuple[str, ...] = ()  # keys no viewer can request (prefix/origin path)


@dataclass(frozen=True, slots=True)
class InvalidationRequest:
    """One CreateInvalidation call and the records it serves."""

    distribution_id: str
    paths: tuple[str, ...]
    caller_reference: str
    message_ids: frozenset[str]
    source_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reuse:
    """An earlier invalidation of ours that already covers redelivered records."""

    invalidation: KnownInvalidation
    message_ids: frozenset[str]
    source_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DistributionPlan:
    distribution_id: str
    request: InvalidationRequest | None
    deferred: frozenset[str] = frozenset()  # message IDs that did not fit the free quota
    reused: tuple[Reuse, ...] = ()
    needed_paths: int = 0  # distinct paths still needed, before collapsing
    covered_paths: int = 0  # paths skipped: covered by an invalidation created after the change

    @property
    def paths_saved(self) -> int:
        """Paths collapsing saved, among those requested now."""
        return max(0, self.needed_paths - len(self.request.paths)) if self.request else 0


def caller_reference(distribution_id: str, identities: Iterable[str], paths: Iterable[str]) -> str:
    """Derived from the events served and the paths asked for.

    A redelivered batch yields the same reference and paths, so CloudFront returns the earlier
    invalidation instead of billing a new one; a later upload of the same key has a new event
    identity, so it gets a new invalidation. Paths are included so that a configuration change
    between deliveries produces a new request rather than InvalidationBatchAlreadyExists.
    """
    digest = hashlib.sha256()
    digest.update(distribution_id.encode())
    for part in (*sorted(set(identities)), "", *sorted(set(paths))):
        digest.update(b"\n" + part.encode("utf-8", "surrogatepass"))
    return CALLER_REFERENCE_PREFIX + digest.hexdigest()


def execution_name(distribution_id: str, invalidation_id: str) -> str:
    """Deterministic Step Functions execution name for one invalidation (at most 80 chars)."""
    name = f"{distribution_id}-{invalidation_id}"
    return _EXECUTION_NAME_UNSAFE.sub("_", name)[:80]


def scope_of(rules: PathRules) -> str:
    """The path prefix every served key maps under: no collapsed wildcard reaches above it."""
    viewer_prefix = rules.viewer_key(rules.key_prefix) or ""
    paths = paths_for_key(viewer_prefix, PathRules(index_document="")) if viewer_prefix else ()
    scope = paths[0] if paths else "/"
    return scope.removesuffix("*")


def gather(messages: Sequence[ParsedMessage], *, bucket_name: str, rules: PathRules) -> Gathered:
    """Every event's viewer paths; records from other buckets are rejected whole."""
    rejected: dict[str, str] = {}
    changes: list[Change] = []
    out_of_scope: dict[str, None] = {}
    for message in messages:
        foreign = sorted({e.bucket for e in message.events if e.bucket != bucket_name})
        if foreign:
            rejected[message.message_id] = (
                f"event from bucket(s) {foreign}, this stack serves {bucket_name!r}"
            )
            continue
        for event in message.events:
            paths = paths_for_key(event.key, rules)
            if paths:
                changes.append(Change(event, paths))
            else:
                out_of_scope[event.key] = None
    return Gathered(tuple(changes), rejected, tuple(out_of_scope))


@dataclass(slots=True)
class _Needs:
    """What one message still needs on one distribution."""

    paths: set[str] = field(default_factory=set)
    identities: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)


def _needs(
    changes: Sequence[Change], state: DistributionState, redelivered: frozenset[str]
) -> tuple[dict[str, _Needs], list[Reuse], int]:
    needs: dict[str, _Needs] = {}
    reused: dict[str, tuple[KnownInvalidation, set[str], set[str]]] = {}
    covered = 0
    for change in changes:
        event = change.event
        need = needs.setdefault(event.message_id, _Needs())
        for path in change.paths:
            earlier = state.covering(path, event.event_time)
            if earlier is None:
                need.paths.add(path)
                need.identities.add(event.identity)
                need.keys.add(event.key)
                continue
            covered += 1
            if event.message_id in redelivered and earlier.caller_reference.startswith(
                CALLER_REFERENCE_PREFIX
            ):
                entry = reused.setdefault(earlier.invalidation_id, (earlier, set(), set()))
                entry[1].add(event.message_id)
                entry[2].add(event.key)
    reuses = [
        Reuse(invalidation, frozenset(ids), tuple(sorted(keys)))
        for invalidation, ids, keys in reused.values()
    ]
    return needs, reuses, covered


def _admit(
    needs: Mapping[str, _Needs],
    cover: Mapping[str, str],
    budget: Budget,
    priority: Sequence[str],
) -> set[str]:
    """Paths for as many messages as fit, in ``priority`` order (the rest are deferred)."""
    chosen: set[str] = set()
    files, wildcards = 0, 0
    for message_id in priority:
        need = needs.get(message_id)
        if need is None:
            continue
        extra = {cover[path] for path in need.paths} - chosen
        extra_files, extra_wildcards = count(extra)
        if budget.admits(files + extra_files, wildcards + extra_wildcards):
            chosen |= extra
            files, wildcards = files + extra_files, wildcards + extra_wildcards
    return chosen


def _served(needs: Mapping[str, _Needs], cover: Mapping[str, str], chosen: set[str]) -> set[str]:
    """Messages whose every needed path is covered by a chosen path."""
    return {
        mid
        for mid, need in needs.items()
        if need.paths and all(cover[path] in chosen for path in need.paths)
    }


def _choose(
    needs: Mapping[str, _Needs],
    options: Sequence[Selection],
    budget: Budget,
    priority: Sequence[str],
    impatient: frozenset[str],
) -> tuple[Mapping[str, str], set[str]]:
    """The cost-collapsed selection if it fits whole.

    Otherwise the fallback that starts from exact paths (``candidates``) may serve records that
    have already waited (``impatient``): it bills more paths, so fresh records wait for wildcard
    quota instead, which usually frees up within seconds. Between partial admissions, the one
    serving more records wins.
    """
    first = options[0]
    if first.fits:
        return first.cover, set(first.cover.values())
    waiting = {mid for mid, need in needs.items() if need.paths}
    fallback = options[1] if len(options) > 1 else None
    if fallback is not None and fallback.fits and waiting <= impatient:
        return fallback.cover, set(fallback.cover.values())
    admitted = [(first.cover, _admit(needs, first.cover, budget, priority))]
    if fallback is not None:
        patient_last = [mid for mid in priority if mid in impatient]
        admitted.append((fallback.cover, _admit(needs, fallback.cover, budget, patient_last)))
    return max(admitted, key=lambda pair: len(_served(needs, *pair)))


def plan_distribution(
    distribution_id: str,
    changes: Sequence[Change],
    state: DistributionState,
    policy: CollapsePolicy,
    *,
    priority: Sequence[str],
    redelivered: frozenset[str] = frozenset(),
    impatient: frozenset[str] = frozenset(),
) -> DistributionPlan:
    """Plan one distribution's request.

    ``priority`` orders message IDs for partial service; ``redelivered`` records may reuse an
    earlier invalidation's tracker; ``impatient`` records (already deferred more than once) may
    be served with more billed paths when the wildcard quota stays full.
    """
    needs, reused, covered = _needs(changes, state, redelivered)
    needed = set().union(*(need.paths for need in needs.values()))
    options = candidates(needed, policy, state.budget)
    cover, chosen = _choose(needs, options, state.budget, priority, impatient)
    served = _served(needs, cover, chosen)
    deferred = frozenset(mid for mid, need in needs.items() if need.paths and mid not in served)
    request = None
    if served:
        paths = tuple(sorted({cover[p] for mid in served for p in needs[mid].paths}))
        identities = set().union(*(needs[mid].identities for mid in served))
        request = InvalidationRequest(
            distribution_id=distribution_id,
            paths=paths,
            caller_reference=caller_reference(distribution_id, identities, paths),
            message_ids=frozenset(served),
            source_keys=tuple(sorted(set().union(*(needs[mid].keys for mid in served)))),
        )
    return DistributionPlan(
        distribution_id=distribution_id,
        request=request,
        deferred=deferred,
        reused=tuple(reused),
        needed_paths=len({p for mid in served for p in needs[mid].paths}),
        covered_paths=covered,
    )


def sample(items: Sequence[str]) -> list[str]:
    """At most SAMPLE_SIZE items and SAMPLE_BUDGET_BYTES of JSON, from the start."""
    sample: list[str] = []
    used = 0
    for item in items[:SAMPLE_SIZE]:
        used += len(json.dumps(item)) + 2
        if used > SAMPLE_BUDGET_BYTES:
            break
        sample.append(item)
    return sample


def tracker_input(
    distribution_id: str,
    invalidation_id: str,
    caller_reference: str,
    paths: Sequence[str],
    source_keys: Sequence[str],
    requested_at: str,
) -> dict[str, object]:
    """The tracker state machine's execution input (docs/architecture.md)."""
    return {
        "distributionId": distribution_id,
        "invalidationId": invalidation_id,
        "callerReference": caller_reference,
        "pathCount": len(paths),
        "paths": sample(paths),
        "sourceKeyCount": len(source_keys),
        "sourceKeys": sample(source_keys),
        "requestedAt": requested_at,
    }
