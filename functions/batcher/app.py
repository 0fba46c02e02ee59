"""Batcher Lambda: SQS batch of S3 events -> CloudFront invalidations -> completion trackers.

Thin by design: it parses configuration once, builds the AWS adapters lazily (no clients at
import time), hands the batch to ``cfinvalidator.service`` and turns the outcome into the
partial-batch response. Powertools' BatchProcessor is not used because records are planned
together (one invalidation serves many records), not processed one by one.
"""

from __future__ import annotations

import gc
import os
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config as BotoConfig

from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.adapters.cloudwatch import Boto3SpendApi
from cfinvalidator.adapters.s3 import Boto3ObjectCountApi
from cfinvalidator.adapters.sns import Boto3NotifierApi
from cfinvalidator.adapters.sqs import Boto3QueueApi
from cfinvalidator.adapters.stepfunctions import Boto3TrackerApi
from cfinvalidator.config import Config
from cfinvalidator.observability import logger, metrics
from cfinvalidator.service import Ports, SqsMessage, process_batch

if TYPE_CHECKING:  # a type only: importing it costs about 10 ms of every cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

_RETRIES = BotoConfig(retries={"mode": "standard", "total_max_attempts": 5})
# CloudFront calls are retried by the service (backoff with jitter, bounded by the remaining
# time), so botocore must not retry them as well.
# In a client Config, max_attempts counts retries; total_max_attempts counts every attempt.
_NO_RETRIES = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1})
# What prices wildcards is never waited for long: a count or a reading that fails is done
# without (cfinvalidator.knowledge).
_ONE_RETRY = BotoConfig(
    retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=5
)


@cache
def dependencies() -> tuple[Config, Ports]:
    """The configuration and the adapters, built on the first invocation of an environment."""
    config = Config.from_env(os.environ)
    ports = Ports(
        invalidations=Boto3InvalidationApi(boto3.client("cloudfront", config=_NO_RETRIES)),
        tracker=Boto3TrackerApi(
            boto3.client("stepfunctions", config=_RETRIES), config.state_machine_arn
        ),
        queue=Boto3QueueApi(
            boto3.client("sqs", config=_RETRIES), config.queue_url, config.dead_letter_queue_url
        ),
        notifier=Boto3NotifierApi(boto3.client("sns", config=_RETRIES), config.topic_arn),
        counts=(
            Boto3ObjectCountApi(boto3.client("s3", config=_ONE_RETRY), config.bucket_name)
            if config.count_bucket_objects
            else None
        ),
        spend=(
            Boto3SpendApi(
                boto3.client("cloudwatch", config=_ONE_RETRY),
                os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "CloudFrontInvalidator"),
                os.environ.get("POWERTOOLS_SERVICE_NAME", "cloudfront-invalidator"),
            )
            if config.monthly_path_budget > 0
            else None
        ),
    )
    # What exists now (modules, clients and their service models) lives as long as the
    # environment: frozen out of the collector's sight, so the full collections a 10,000-record
    # batch triggers do not walk it every time (docs/benchmarks.md measures the batch).
    gc.freeze()
    return config, ports


def _message(record: dict[str, Any]) -> SqsMessage:
    attributes = record.get("attributes") or {}
    return SqsMessage(
        message_id=record["messageId"],
        body=record["body"],
        receipt_handle=record.get("receiptHandle", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
        sent_at=_sent_at(attributes.get("SentTimestamp")),
    )


def _sent_at(milliseconds: object) -> datetime | None:
    """SQS's SentTimestamp (epoch milliseconds, as a string); None when absent or malformed."""
    if not isinstance(milliseconds, str) or not milliseconds.isdigit():
        return None
    return datetime.fromtimestamp(int(milliseconds) / 1000, UTC)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config, ports = dependencies()
    messages = [_message(record) for record in event.get("Records", [])]
    invocation_ports = ports.with_remaining_time(
        lambda: context.get_remaining_time_in_millis() / 1000
    )
    outcome = process_batch(messages, config, invocation_ports)
    return {"batchItemFailures": outcome.batch_item_failures([m.message_id for m in messages])}
