"""Turn a batch of parsed messages into CreateInvalidation requests.

One request per distribution per batch, split only where CloudFront's 3,000 in-progress file
paths force it. Each request carries the SQS message IDs it serves, so the handler can report
exactly those as failures when the request cannot be made.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cfinvalidator.events import ObjectEvent, ParsedMessage
from cfinvalidator.paths import PathRules, paths_for_key

MAX_PATHS_PER_REQUEST = 3000
SAMPLE_SIZE = 50
CALLER_REFERENCE_PREFIX = "cfinv-"
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class InvalidationRequest:
    """One CreateInvalidation call and the records it serves."""

    distribution_id: str
    paths: tuple[str, ...]
    caller_reference: str
    message_ids: frozenset[str]
    source_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The requests for a batch, plus what was left out on purpose and why."""

    requests: tuple[InvalidationRequest, ...]
    rejected: dict[str, str] = field(default_factory=dict)  # message ID -> reason
    out_of_scope_keys: tuple[str, ...] = ()  # keys no viewer can request (prefix/origin path)


@dataclass(slots=True)
class _PathOwners:
    identities: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)


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


def _chunks(paths: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


def plan_batch(
    messages: Sequence[ParsedMessage],
    *,
    distribution_ids: Sequence[str],
    bucket_name: str,
    rules: PathRules,
    max_paths_per_request: int = MAX_PATHS_PER_REQUEST,
) -> BatchPlan:
    """Plan the invalidations for ``messages`` (already parsed, test events included)."""
    rejected: dict[str, str] = {}
    owners: dict[str, _PathOwners] = {}
    out_of_scope: dict[str, None] = {}
    for message in messages:
        foreign = sorted({e.bucket for e in message.events if e.bucket != bucket_name})
        if foreign:
            rejected[message.message_id] = (
                f"event from bucket(s) {foreign}, this stack serves {bucket_name!r}"
            )
            continue
        for event in message.events:
            _add_event(owners, out_of_scope, event, rules)

    ordered = sorted(owners)
    requests: list[InvalidationRequest] = []
    for distribution_id in distribution_ids:
        for chunk in _chunks(ordered, max_paths_per_request):
            served = [owners[path] for path in chunk]
            identities = set().union(*(o.identities for o in served))
            requests.append(
                InvalidationRequest(
                    distribution_id=distribution_id,
                    paths=tuple(chunk),
                    caller_reference=caller_reference(distribution_id, identities, chunk),
                    message_ids=frozenset().union(*(o.message_ids for o in served)),
                    source_keys=tuple(sorted(set().union(*(o.keys for o in served)))),
                )
            )
    return BatchPlan(
        requests=tuple(requests), rejected=rejected, out_of_scope_keys=tuple(out_of_scope)
    )


def _add_event(
    owners: dict[str, _PathOwners],
    out_of_scope: dict[str, None],
    event: ObjectEvent,
    rules: PathRules,
) -> None:
    paths = paths_for_key(event.key, rules)
    if not paths:
        out_of_scope[event.key] = None
        return
    for path in paths:
        owner = owners.setdefault(path, _PathOwners())
        owner.identities.add(event.identity)
        owner.message_ids.add(event.message_id)
        owner.keys.add(event.key)


def tracker_input(
    request: InvalidationRequest, invalidation_id: str, requested_at: str
) -> dict[str, object]:
    """The tracker state machine's execution input (docs/architecture.md)."""
    return {
        "distributionId": request.distribution_id,
        "invalidationId": invalidation_id,
        "callerReference": request.caller_reference,
        "pathCount": len(request.paths),
        "paths": list(request.paths[:SAMPLE_SIZE]),
        "sourceKeyCount": len(request.source_keys),
        "sourceKeys": list(request.source_keys[:SAMPLE_SIZE]),
        "requestedAt": requested_at,
    }
