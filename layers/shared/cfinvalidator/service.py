"""Serve one SQS batch: parse, plan, create invalidations, start their trackers.

This module orchestrates the pure logic and the adapters' interfaces; it never builds an AWS
client itself. Errors it expects (malformed records, CloudFront or Step Functions refusals)
become batch item failures for exactly the records concerned; anything else propagates, so the
whole batch is retried rather than silently acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit

from cfinvalidator.adapters.cloudfront import CreatedInvalidation, InvalidationApi
from cfinvalidator.adapters.stepfunctions import TrackerApi
from cfinvalidator.config import Config
from cfinvalidator.errors import CloudFrontError, MalformedEventError, TrackingError
from cfinvalidator.events import ParsedMessage, parse_message
from cfinvalidator.observability import logger, metrics
from cfinvalidator.paths import PathRules
from cfinvalidator.planning import InvalidationRequest, execution_name, plan_batch, tracker_input


@dataclass(frozen=True, slots=True)
class SqsMessage:
    message_id: str
    body: str


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    request: InvalidationRequest
    invalidation: CreatedInvalidation
    execution_name: str
    tracker_started: bool  # False: an execution of that name already existed (a redelivery)


@dataclass(slots=True)
class BatchOutcome:
    failed: dict[str, str] = field(default_factory=dict)  # message ID -> reason
    created: list[CreatedRequest] = field(default_factory=list)
    test_events: int = 0

    def batch_item_failures(self, order: Sequence[str]) -> list[dict[str, str]]:
        return [{"itemIdentifier": mid} for mid in order if mid in self.failed]


def rules_from(config: Config) -> PathRules:
    return PathRules(
        key_prefix=config.key_prefix,
        origin_path=config.origin_path,
        index_document=config.index_document,
    )


def _parse_all(messages: Sequence[SqsMessage], outcome: BatchOutcome) -> list[ParsedMessage]:
    parsed: list[ParsedMessage] = []
    for message in messages:
        try:
            result = parse_message(message.message_id, message.body)
        except MalformedEventError as exc:
            logger.error(
                "record is not an S3 event notification; it will go to the DLQ",
                extra={"message_id": message.message_id, "reason": str(exc)},
            )
            outcome.failed[message.message_id] = f"malformed: {exc}"
            continue
        if result.is_test_event:
            logger.info("s3:TestEvent acknowledged", extra={"message_id": message.message_id})
            outcome.test_events += 1
        parsed.append(result)
    return parsed


def _serve(
    request: InvalidationRequest, invalidations: InvalidationApi, tracker: TrackerApi
) -> CreatedRequest:
    created = invalidations.create_invalidation(
        request.distribution_id, request.paths, request.caller_reference
    )
    name = execution_name(request.distribution_id, created.invalidation_id)
    requested_at = created.create_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    started = tracker.start(name, tracker_input(request, created.invalidation_id, requested_at))
    return CreatedRequest(request, created, name, started)


def process_batch(
    messages: Sequence[SqsMessage],
    config: Config,
    invalidations: InvalidationApi,
    tracker: TrackerApi,
) -> BatchOutcome:
    outcome = BatchOutcome()
    parsed = _parse_all(messages, outcome)
    plan = plan_batch(
        parsed,
        distribution_ids=config.distribution_ids,
        bucket_name=config.bucket_name,
        rules=rules_from(config),
    )
    for message_id, reason in plan.rejected.items():
        logger.error("record rejected", extra={"message_id": message_id, "reason": reason})
        outcome.failed[message_id] = reason
    if plan.out_of_scope_keys:
        # Not an error (the bucket may hold objects no viewer requests), but never silent.
        logger.warning(
            "keys outside KEY_PREFIX/ORIGIN_PATH skipped",
            extra={"keys": list(plan.out_of_scope_keys[:50]), "count": len(plan.out_of_scope_keys)},
        )
    metrics.add_metric("ObjectsReceived", MetricUnit.Count, sum(len(p.events) for p in parsed))
    metrics.add_metric("ObjectsSkipped", MetricUnit.Count, len(plan.out_of_scope_keys))

    for request in plan.requests:
        try:
            created = _serve(request, invalidations, tracker)
        except (CloudFrontError, TrackingError) as exc:
            logger.error(
                "invalidation not requested; its records will be retried",
                extra={
                    "distribution_id": request.distribution_id,
                    "caller_reference": request.caller_reference,
                    "path_count": len(request.paths),
                    "error": str(exc),
                },
            )
            for message_id in request.message_ids:
                outcome.failed.setdefault(message_id, str(exc))
            continue
        outcome.created.append(created)
        metrics.add_metric("PathsRequested", MetricUnit.Count, len(request.paths))
        metrics.add_metric("InvalidationsCreated", MetricUnit.Count, 1)
        logger.info(
            "invalidation created",
            extra={
                "distribution_id": request.distribution_id,
                "invalidation_id": created.invalidation.invalidation_id,
                "caller_reference": request.caller_reference,
                "path_count": len(request.paths),
                "paths": list(request.paths[:20]),
                "execution_name": created.execution_name,
                "tracker_started": created.tracker_started,
            },
        )
    metrics.add_metric("RecordsFailed", MetricUnit.Count, len(outcome.failed))
    return outcome
