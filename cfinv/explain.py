"""``cfinv plan``: the request the planner would make for some keys, and why. Pure.

The keys go through the batcher's own steps (``map_changes`` and ``plan_distribution`` with the
distribution's mapping, policy and state), so the answer is the planner's, not a re-statement of
it; the notes only explain what those steps did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cfinvalidator.collapse import NO_KNOWLEDGE, CollapsePolicy, Knowledge, Pricing, Weighed, count
from cfinvalidator.events import ObjectEvent, ParsedMessage
from cfinvalidator.ledger import DistributionState
from cfinvalidator.origins import KeyMapping
from cfinvalidator.paths import covers, decode_path, is_wildcard, paths_for_key
from cfinvalidator.planning import map_changes, plan_distribution


@dataclass(frozen=True, slots=True)
class KeyPlan:
    key: str
    paths: tuple[str, ...]  # every path viewers may request for it on this distribution
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DistributionPlanReport:
    distribution_id: str
    keys: tuple[KeyPlan, ...]
    request: tuple[str, ...]  # what CreateInvalidation would be asked for
    collapsed: Mapping[str, tuple[str, ...]]  # request wildcard -> needed paths it covers
    deferred_keys: tuple[str, ...]  # waiting for quota
    free_files: int
    free_wildcards: int
    pricing: Pricing = Pricing.PAID  # how the cost pass priced wildcards
    weighed: tuple[Weighed, ...] = ()  # each directory it weighed, and what it decided
    paths_left: int | None = None  # of the month's budget, when known
    unchanged_per_path: int = 0  # the allowance beyond the budget
    bucket_counted: bool = False  # whether the bucket's objects were counted

    @property
    def billed(self) -> int:
        return len(self.request)

    @property
    def wildcards(self) -> int:
        return count(self.request)[1]


def _why_none(key: str, mapping: KeyMapping, key_prefix: str) -> str:
    if not mapping.serves_anything:
        return "this distribution has no origin reading the bucket: nothing is invalidated on it"
    if not key.startswith(key_prefix):
        return f"outside KeyPrefix {key_prefix!r}: not invalidated"
    if all(route.rules.viewer_key(key) is None for route in mapping.routes):
        origin_paths = sorted({route.rules.origin_path or "/" for route in mapping.routes})
        return f"outside the origin path {', '.join(origin_paths)}: no viewer can request it"
    return "the cache behaviours send every path of it to another origin: not invalidated"


def _path_notes(key: str, paths: Sequence[str], mapping: KeyMapping) -> list[str]:
    notes: list[str] = []
    unrouted = {p for route in mapping.routes for p in paths_for_key(key, route.rules)}
    if len(mapping.routes) > 1:
        through = [
            f"{route.origin_id} (origin path {route.rules.origin_path or '/'})"
            for route in mapping.routes
            if route.rules.viewer_key(key) is not None
        ]
        notes.append("mapped through origins " + ", ".join(through))
    dropped = sorted(unrouted - set(paths))
    if dropped:
        notes.append(f"left out, routed to another origin by a behaviour: {', '.join(dropped)}")
    if len(paths) > 1:
        notes.append(f"index document: also served as {', '.join(paths[1:])}")
    for path in paths:
        if is_wildcard(path):
            if key.endswith("*"):
                notes.append(f"the key ends in *: requested as the wildcard {path}")
            else:
                notes.append(
                    f"CloudFront cannot name this path exactly (~ or over 4,000 characters): "
                    f"covered by the wildcard {path}"
                )
        elif decode_path(path) != path:
            notes.append(f"encoded for CloudFront: {path}")
    return notes


def explain(
    keys: Sequence[tuple[str, datetime | None]],
    distribution_id: str,
    mapping: KeyMapping,
    policy: CollapsePolicy,
    state: DistributionState,
    *,
    bucket: str,
    key_prefix: str,
    knowledge: Knowledge = NO_KNOWLEDGE,
) -> DistributionPlanReport:
    """The plan for ``keys`` (each with the time it changed; None: now, so nothing already
    covers it) on one distribution, priced with ``knowledge`` as the batcher would."""
    messages = [
        ParsedMessage(
            f"key-{index}",
            (
                ObjectEvent(
                    bucket, key, "ObjectCreated:Put", "created", None, f"key-{index}", 0, changed
                ),
            ),
        )
        for index, (key, changed) in enumerate(keys)
    ]
    gathered = map_changes(messages, mapping)
    plan = plan_distribution(
        distribution_id,
        gathered.changes,
        state,
        policy,
        priority=[m.message_id for m in messages],
        knowledge=knowledge,
        explain=True,
    )
    reports: list[KeyPlan] = []
    for key, changed in keys:
        paths = mapping.paths_for(key)
        if not paths:
            reports.append(KeyPlan(key, (), (_why_none(key, mapping, key_prefix),)))
            continue
        notes = _path_notes(key, paths, mapping)
        for path in paths:
            earlier = state.covering(path, changed)
            if earlier is not None:
                notes.append(
                    f"{path} already covered by invalidation {earlier.invalidation_id} "
                    f"({earlier.status}, created {earlier.create_time:%Y-%m-%d %H:%M:%S}Z): "
                    "not requested again"
                )
        reports.append(KeyPlan(key, paths, tuple(notes)))
    request = plan.request.paths if plan.request else ()
    needed = {p for change in gathered.changes for p in change.paths}
    collapsed = {
        wildcard: tuple(sorted(p for p in needed if p != wildcard and _covered(wildcard, p)))
        for wildcard in request
        if is_wildcard(wildcard) and wildcard not in needed
    }
    deferred = tuple(sorted(m.events[0].key for m in messages if m.message_id in plan.deferred))
    budget = state.budget
    return DistributionPlanReport(
        distribution_id=distribution_id,
        keys=tuple(reports),
        request=request,
        collapsed=collapsed,
        deferred_keys=deferred,
        free_files=budget.files,
        free_wildcards=budget.wildcards,
        pricing=plan.pricing,
        weighed=plan.weighed,
        paths_left=knowledge.paths_left,
        unchanged_per_path=policy.unchanged_per_path,
        bucket_counted=knowledge.objects_under is not None,
    )


def _covered(wildcard: str, path: str) -> bool:
    viewer = path[:-1] if is_wildcard(path) else path
    return covers(wildcard, decode_path(viewer))
