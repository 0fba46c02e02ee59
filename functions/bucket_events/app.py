"""Custom resource Lambda: switches an existing bucket's EventBridge delivery on, and back off on
delete when this stack switched it on.

Thin by design: ``cfinvalidator.custom_resource`` answers CloudFormation exactly once (a crash
and the Lambda deadline included), ``cfinvalidator.eventbridge_switch`` does the work. The S3
client is built lazily, on the first request, inside the code that answers FAILED if that fails.

ResourceProperties: ``BucketName`` (``ServiceToken`` is CloudFormation's). Data:
``BucketName``, ``EventBridgeSwitchedOnByStack`` (``"true"`` or ``"false"``).
"""

from __future__ import annotations

import random
import time
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config as BotoConfig

from cfinvalidator.adapters.cloudformation import UrllibResponder
from cfinvalidator.adapters.s3 import Boto3BucketNotificationsApi
from cfinvalidator.custom_resource import Budget, Outcome, Request, answer_request
from cfinvalidator.eventbridge_switch import Dependencies, fallback_physical_id, switch_eventbridge
from cfinvalidator.observability import logger

# S3 calls are retried by eventbridge_switch (backoff with jitter, bounded by the remaining
# time), so botocore must not retry them as well: one attempt in all. (``total_max_attempts``,
# not ``max_attempts``: in a client Config, botocore reads ``max_attempts`` as the number of
# RETRIES and adds one.) The timeouts bound one call; the retry loop keeps
# eventbridge_switch.RESERVE_SECONDS for it.
S3_CONFIG = BotoConfig(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10
)


@cache
def _dependencies() -> Dependencies:
    return Dependencies(
        notifications=Boto3BucketNotificationsApi(boto3.client("s3", config=S3_CONFIG)),
        sleep=time.sleep,
        rng=random.Random(),  # noqa: S311 - jitter, not security
    )


def _work(request: Request, budget: Budget) -> Outcome:
    return switch_eventbridge(request, budget, _dependencies())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    answer_request(
        event,
        context,
        work=_work,
        responder=UrllibResponder(),
        fallback_physical_id=fallback_physical_id,
    )
