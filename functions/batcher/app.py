"""Batcher Lambda: SQS batch of S3 events -> CloudFront invalidations -> completion trackers.

Thin by design: it parses configuration once, builds the AWS adapters lazily (no clients at
import time), hands the batch to ``cfinvalidator.service`` and turns the outcome into the
partial-batch response. Powertools' BatchProcessor is not used because records are planned
together (one invalidation serves many records), not processed one by one.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config as BotoConfig

from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.adapters.stepfunctions import Boto3TrackerApi
from cfinvalidator.config import Config
from cfinvalidator.observability import logger, metrics, tracer
from cfinvalidator.service import SqsMessage, process_batch

_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 5})


@cache
def _dependencies() -> tuple[Config, Boto3InvalidationApi, Boto3TrackerApi]:
    config = Config.from_env(os.environ)
    invalidations = Boto3InvalidationApi(boto3.client("cloudfront", config=_RETRIES))
    tracker = Boto3TrackerApi(
        boto3.client("stepfunctions", config=_RETRIES), config.state_machine_arn
    )
    return config, invalidations, tracker


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config, invalidations, tracker = _dependencies()
    records = event.get("Records", [])
    messages = [SqsMessage(r["messageId"], r["body"]) for r in records]
    outcome = process_batch(messages, config, invalidations, tracker)
    return {"batchItemFailures": outcome.batch_item_failures([m.message_id for m in messages])}
