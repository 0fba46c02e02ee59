"""Turn a batch of parsed messages into CreateInvalidation requests.

One request per distribution per batch for exact paths, split only where CloudFront's 3,000
in-progress file paths force it. Wildcard paths (from keys CloudFront cannot name exactly) go in
requests of their own, at most 15 each, so that a wildcard quota refusal fails only the records
that needed a wildcard. Each request carries the SQS message IDs it serves, so the handler can
report exactly those as failures when the request cannot be made.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cfinvalidator.events import ObjectEvent, ParsedMessage
from cfinvalidator.paths import PathRules, is_wildcard, paths_for_key

MAX_PATHS_PER_REQUEST = 3000
MAX_WILDCARDS_PER_REQUEST = 15
SAMPLE_SIZE = 50
# Execution input and SNS messages are capped at 256 KiB: the samples stay well below it.
SAMPLE_BUDGET_BYTES = 32 * 1024
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

    exact = sorted(p for p in owners if not is_wildcard(p))
    wildcards = sorted(p for p in owners if is_wildcard(p))
    chunks = [
        *_chunks(exact, max_paths_per_request),
        *_chunks(wildcards, min(max_paths_per_request, MAX_WILDCARDS_PER_REQUEST)),
    ]
    requests: list[InvalidationRequest] = []
    for distribution_id in distribution_ids:
        for chunk in chunks:
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


def _sample(items: Sequence[str]) -> list[str]:
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
    request: InvalidationRequest, invalidation_id: str, requested_at: str
) -> dict[str, object]:
    """The tracker state machine's execution input (docs/architecture.md)."""
    return {
        "distributionId": request.distribution_id,
        "invalidationId": invalidation_id,
        "callerReference": request.caller_reference,
        "pathCount": len(request.paths),
        "paths": _sample(request.paths),
        "sourceKeyCount": len(request.source_keys),
        "sourceKeys": _sample(request.source_keys),
        "requestedAt": requested_at,
    }
