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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from cfinvalidator.collapse import (
    NO_KNOWLEDGE,
    Budget,
    CollapsePolicy,
    Knowledge,
    Pricing,
    Selection,
    Weighed,
    candidates,
    count,
)
from cfinvalidator.config import Config
from cfinvalidator.events import ObjectEvent, ParsedMessage
from cfinvalidator.ledger import DistributionState, KnownInvalidation
from cfinvalidator.on_demand import RequestedPath
from cfinvalidator.origins import KeyMapping
from cfinvalidator.paths import PathRules, is_wildcard
from cfinvalidator.quotas import MAX_EXECUTION_NAME_LENGTH

CALLER_REFERENCE_PREFIX = "cfinv-"
# New wildcards are paced so that the free wildcard quota lasts about as long as an
# invalidation takes to complete: an invalidation created later covers every change made before
# it, so one wildcard every few seconds serves a burst as well as one per batch, and the quota
# never runs dry. UNCONFIRMED: that an invalidation typically completes in about 20 s
# (docs/aws-behaviour.md#cloudfront-statuses-and-completion).
WILDCARD_SPREAD = timedelta(seconds=20)
MAX_PACING_SECONDS = 10.0
# From this delivery on, a record may be served with file paths instead of waiting for wildcard
# quota (two deferrals, about 45 s to 1.5 min with the default DeferDelaySeconds).
IMPATIENT_FROM_DELIVERY = 3
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class Change(NamedTuple):
    """One object event and every path viewers may request for it, or one path of an
    on-demand request (the same on every distribution). A NamedTuple, as ``ObjectEvent`` is:
    one per event of a batch, cheaper to make than a frozen dataclass."""

    event: ObjectEvent | RequestedPath
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
    pricing: Pricing = Pricing.PAID  # how wildcards were priced (``collapse``)
    weighed: tuple[Weighed, ...] = ()  # the directories weighed, when asked to explain

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
    parts = (*sorted(set(identities)), "", *sorted(set(paths)))
    digest = hashlib.sha256(distribution_id.encode())
    # One update per part, each part preceded by a newline, hashes the same bytes as this.
    digest.update(("\n" + "\n".join(parts)).encode("utf-8", "surrogatepass"))
    return CALLER_REFERENCE_PREFIX + digest.hexdigest()


def execution_name(distribution_id: str, invalidation_id: str) -> str:
    """Deterministic Step Functions execution name for one invalidation (at most 80 chars)."""
    name = f"{distribution_id}-{invalidation_id}"
    return _EXECUTION_NAME_UNSAFE.sub("_", name)[:MAX_EXECUTION_NAME_LENGTH]


def pacing_seconds(state: DistributionState, paths: Iterable[str], now: datetime) -> float:
    """How long to wait before a request holding ``paths`` is created: 0 unless it spends
    wildcard quota soon after a wildcard of ours (still in progress) was created.

    The spacing is WILDCARD_SPREAD divided by the wildcards still free: about 1.3 s with all 15
    free, 4 s with 5, 10 s (MAX_PACING_SECONDS) with 2 or fewer. Changes made while waiting are
    covered by the wildcard created after the wait, so a burst needs a handful of wildcards."""
    if not any(is_wildcard(path) for path in paths):
        return 0.0
    ours = [
        i.create_time
        for i in state.wildcards_in_progress
        if i.caller_reference.startswith(CALLER_REFERENCE_PREFIX)
    ]
    if not ours:
        return 0.0
    spacing = WILDCARD_SPREAD / max(1, state.budget.wildcards)
    wait = (max(ours) + spacing - now).total_seconds()
    return min(max(wait, 0.0), MAX_PACING_SECONDS)


def rules_from(config: Config) -> PathRules:
    """The key prefix and index document; the origin path is the override, else the bucket root
    (a discovered origin replaces it with its own)."""
    return PathRules(
        key_prefix=config.key_prefix,
        origin_path=config.origin_path or "",
        index_document=config.index_document,
    )


def policy_for(config: Config, mapping: KeyMapping) -> CollapsePolicy:
    return CollapsePolicy(
        threshold=config.collapse_threshold,
        broadest_depth=config.broadest_wildcard_depth,
        scope=mapping.scope,
        unchanged_per_path=config.unchanged_per_saved_path,
    )


class KeyMapper(Protocol):
    """Maps a decoded key to its viewer paths: ``PathRules`` or ``origins.KeyMapping``."""

    def paths_for(self, key: str) -> tuple[str, ...]: ...


def accept_buckets(
    messages: Sequence[ParsedMessage], bucket_name: str
) -> tuple[list[ParsedMessage], dict[str, str]]:
    """The messages whose events are all of ``bucket_name``; the others rejected whole, with the
    reason (message ID -> reason)."""
    # One look at the whole batch spares the per-record check when no record is foreign.
    if not any(e.bucket != bucket_name for m in messages for e in m.events):
        return list(messages), {}
    accepted: list[ParsedMessage] = []
    rejected: dict[str, str] = {}
    for message in messages:
        foreign = sorted({e.bucket for e in message.events if e.bucket != bucket_name})
        if foreign:
            rejected[message.message_id] = (
                f"event from bucket(s) {foreign}, this stack serves {bucket_name!r}"
            )
        else:
            accepted.append(message)
    return accepted, rejected


def map_changes(messages: Sequence[ParsedMessage], mapper: KeyMapper) -> Gathered:
    """Every event's viewer paths through ``mapper``; keys it gives none are listed apart.
    Requested paths are taken as they are: the user named the paths themselves."""
    changes: list[Change] = []
    out_of_scope: dict[str, None] = {}
    for message in messages:
        if message.requested:  # rare: no generator per message for the usual 10,000
            changes.extend(Change(r, (r.path,)) for r in message.requested)
        for event in message.events:
            paths = mapper.paths_for(event.key)
            if paths:
                changes.append(Change(event, paths))
            else:
                out_of_scope[event.key] = None
    return Gathered(tuple(changes), {}, tuple(out_of_scope))


def gather(messages: Sequence[ParsedMessage], *, bucket_name: str, rules: KeyMapper) -> Gathered:
    """``accept_buckets`` then ``map_changes``: one mapping for the whole batch."""
    accepted, rejected = accept_buckets(messages, bucket_name)
    mapped = map_changes(accepted, rules)
    return Gathered(mapped.changes, rejected, mapped.out_of_scope_keys)


# What one message still needs on one distribution: its changes, each cut down to the paths no
# earlier invalidation covers (a change left with none is dropped).
type _Needs = list[Change]


def _needs(
    changes: Sequence[Change], state: DistributionState, redelivered: frozenset[str]
) -> tuple[dict[str, _Needs], list[Reuse], int]:
    needs: dict[str, _Needs] = {}
    reused: dict[str, tuple[KnownInvalidation, set[str], set[str]]] = {}
    covered = 0
    may_be_covered = not state.covers_nothing
    for change in changes:
        event = change.event
        need = needs.get(event.message_id)
        if need is None:
            need = needs[event.message_id] = []
        remaining = change
        if may_be_covered:
            remaining, covering = _split_covered(change, state)
            covered += len(covering)
            if covering and event.message_id in redelivered:
                _note_reuse(reused, event, covering)
        if remaining.paths:
            need.append(remaining)
    reuses = [
        Reuse(invalidation, frozenset(ids), tuple(sorted(keys)))
        for invalidation, ids, keys in reused.values()
    ]
    return needs, reuses, covered


def _split_covered(
    change: Change, state: DistributionState
) -> tuple[Change, list[KnownInvalidation]]:
    """The change cut down to the paths no earlier invalidation covers, and the invalidation
    covering each of the others."""
    missing: list[str] = []
    covering: list[KnownInvalidation] = []
    for path in change.paths:
        earlier = state.covering(path, change.event.event_time)
        if earlier is None:
            missing.append(path)
        else:
            covering.append(earlier)
    if not covering:
        return change, covering
    return Change(change.event, tuple(missing)), covering


def _note_reuse(
    reused: dict[str, tuple[KnownInvalidation, set[str], set[str]]],
    event: ObjectEvent | RequestedPath,
    covering: Iterable[KnownInvalidation],
) -> None:
    """A redelivered event covered by invalidations of ours: their trackers serve it."""
    for earlier in covering:
        if earlier.caller_reference.startswith(CALLER_REFERENCE_PREFIX):
            entry = reused.setdefault(earlier.invalidation_id, (earlier, set(), set()))
            entry[1].add(event.message_id)
            entry[2].add(event.key)


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
        extra = {cover[path] for change in need for path in change.paths} - chosen
        extra_files, extra_wildcards = count(extra)
        if budget.admits(files + extra_files, wildcards + extra_wildcards):
            chosen |= extra
            files, wildcards = files + extra_files, wildcards + extra_wildcards
    return chosen


def _served(needs: Mapping[str, _Needs], cover: Mapping[str, str], chosen: set[str]) -> set[str]:
    """Messages whose every needed path is covered by a chosen path."""
    if chosen.issuperset(cover.values()):  # ``cover`` maps every needed path
        return {mid for mid, need in needs.items() if need}
    return {
        mid
        for mid, need in needs.items()
        if need and all(cover[path] in chosen for change in need for path in change.paths)
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
    waiting = {mid for mid, need in needs.items() if need}
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
    knowledge: Knowledge = NO_KNOWLEDGE,
    explain: bool = False,
) -> DistributionPlan:
    """Plan one distribution's request.

    ``priority`` orders message IDs for partial service; ``redelivered`` records may reuse an
    earlier invalidation's tracker; ``impatient`` records (already deferred more than once) may
    be served with more billed paths when the wildcard quota stays full. ``knowledge`` (the
    bucket's unchanged objects, the month's budget) prices wildcards; its ``requested`` and
    ``flushed`` are filled in from ``changes`` and ``state``. ``explain`` keeps every directory
    weighed, for ``cfinv plan``.
    """
    needs, reused, covered = _needs(changes, state, redelivered)
    needed = {path for need in needs.values() for change in need for path in change.paths}
    requested = [c.paths[0] for c in changes if isinstance(c.event, RequestedPath)]
    if requested:
        knowledge = replace(knowledge, requested=requested)
    if knowledge.objects_under is not None:
        flushed = {
            path[:-1] for i in state.wildcards_in_progress for path in i.paths if is_wildcard(path)
        }
        knowledge = replace(knowledge, flushed=flushed)
    options = candidates(needed, policy, state.budget, knowledge, explain=explain)
    cover, chosen = _choose(needs, options, state.budget, priority, impatient)
    served = _served(needs, cover, chosen)
    deferred = frozenset(mid for mid, need in needs.items() if need and mid not in served)
    served_changes = [change for mid in served for change in needs[mid]]
    served_paths = {path for change in served_changes for path in change.paths}
    request = None
    if served:
        paths = tuple(sorted({cover[p] for p in served_paths}))
        identities = {change.event.identity for change in served_changes}
        request = InvalidationRequest(
            distribution_id=distribution_id,
            paths=paths,
            caller_reference=caller_reference(distribution_id, identities, paths),
            message_ids=frozenset(served),
            source_keys=tuple(sorted({change.event.key for change in served_changes})),
        )
    return DistributionPlan(
        distribution_id=distribution_id,
        request=request,
        deferred=deferred,
        reused=tuple(reused),
        needed_paths=len(served_paths),
        covered_paths=covered,
        pricing=options[0].pricing,
        weighed=options[0].weighed,
    )
