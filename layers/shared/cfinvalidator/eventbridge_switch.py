"""The custom resource's work: switch a bucket's EventBridge delivery on (Create, Update) or
back off (Delete, only if this stack switched it on), through the ``BucketNotificationsApi``
port. The rules are ``bucket_notifications``'s; this module makes the calls.

Throttling (``SlowDown``, HTTP 503), other 5xx, ``OperationAborted`` (a conflicting operation on
the bucket is in progress) and connection errors are retried with exponential backoff and full
jitter, as long as the invocation's remaining time allows; botocore's own retries are off
(functions/bucket_events/app.py), so the two never multiply. Every other error (AccessDenied,
NoSuchBucket on Create or Update, InvalidArgument...) fails at once with a Reason naming the call,
the bucket and the error. Delete treats NoSuchBucket as done: a bucket gone has nothing to undo.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cfinvalidator.bucket_notifications import (
    Change,
    RequestType,
    ResourceId,
    bucket_to_read,
    changed_entries,
    decide,
    eventbridge_enabled,
    failed_create_id,
    response_data,
    valid_bucket_name,
    with_eventbridge,
    without_eventbridge,
)
from cfinvalidator.custom_resource import Budget, Outcome, Request
from cfinvalidator.errors import BucketNotificationError, CustomResourceRequestError
from cfinvalidator.observability import logger
from cfinvalidator.ports import BucketNotificationsApi, NotificationDocument
from cfinvalidator.retry import THROTTLING_CODES, TRANSIENT_CODES, Backoff

# THROTTLING_CODES has S3's SlowDown; OperationAborted is S3's "a conflicting operation is in
# progress on this bucket", worth waiting for.
RETRYABLE_CODES = THROTTLING_CODES | TRANSIENT_CODES | {"OperationAborted"}
# Stop calling S3 when less than this is left: the timeout guard's share
# (custom_resource.TIMEOUT_GUARD_SECONDS, 10 s) plus one S3 call at its botocore timeouts
# (3 s to connect, 10 s to read) and a second to spare. So a call never runs into the guard.
RESERVE_SECONDS = 24.0
DEFAULT_BACKOFF = Backoff(
    base_seconds=0.2, cap_seconds=5.0, max_attempts=8, reserve_seconds=RESERVE_SECONDS
)
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled"})
LOGICAL_FALLBACK = "EventBridgeSwitch"


@dataclass(frozen=True, slots=True)
class Dependencies:
    notifications: BucketNotificationsApi
    sleep: Callable[[float], None]
    rng: random.Random
    backoff: Backoff = DEFAULT_BACKOFF


def is_retryable(error: BucketNotificationError) -> bool:
    return error.code in RETRYABLE_CODES or error.status == 429 or error.status >= 500


def requested_bucket(request: Request) -> str:
    bucket = request.properties.get("BucketName")
    if not valid_bucket_name(bucket):
        raise CustomResourceRequestError(
            f"ResourceProperties.BucketName must name an S3 bucket, not {bucket!r}"
        )
    return bucket


def fallback_physical_id(event: Mapping[str, Any]) -> str:
    """The physical id of a FAILED answer: the incoming one if any (Update, Delete), else one
    a later Delete recognises as owning nothing (Create)."""
    incoming = event.get("PhysicalResourceId")
    if isinstance(incoming, str) and incoming:
        return incoming
    properties = event.get("ResourceProperties")
    bucket = properties.get("BucketName") if isinstance(properties, Mapping) else None
    if valid_bucket_name(bucket):
        return failed_create_id(bucket)
    logical_id = event.get("LogicalResourceId")
    if valid_bucket_name(logical_id):
        return failed_create_id(logical_id)
    return failed_create_id(LOGICAL_FALLBACK)


def switch_eventbridge(request: Request, budget: Budget, dependencies: Dependencies) -> Outcome:
    """Serve one custom resource request (the :data:`custom_resource.Work`)."""
    calls = _Calls(dependencies, budget)
    if request.request_type is RequestType.DELETE:
        return _delete(request, calls)
    bucket = requested_bucket(request)
    document = calls.read(bucket)
    decision = decide(
        request.request_type, bucket, request.physical_resource_id, eventbridge_enabled(document)
    )
    if decision.change is Change.SWITCH_ON:
        calls.write_and_check(bucket, with_eventbridge(document))
    _log_decision(request, decision.change, decision.resource_id)
    return Outcome(str(decision.resource_id), response_data(decision.resource_id))


def _delete(request: Request, calls: _Calls) -> Outcome:
    physical_id = request.physical_resource_id or ""
    bucket = bucket_to_read(RequestType.DELETE, None, physical_id)
    if bucket is None:
        logger.info(
            "Delete of a resource that switched nothing on: nothing to undo",
            extra={"physical_resource_id": physical_id},
        )
        return Outcome(physical_id)
    try:
        document = calls.read(bucket)
        decision = decide(RequestType.DELETE, bucket, physical_id, eventbridge_enabled(document))
        if decision.change is Change.SWITCH_OFF:
            calls.write_and_check(bucket, without_eventbridge(document))
    except BucketNotificationError as error:
        if error.code != "NoSuchBucket":
            raise
        logger.info("the bucket no longer exists: nothing to undo", extra={"bucket": bucket})
        return Outcome(physical_id)
    _log_decision(request, decision.change, decision.resource_id)
    return Outcome(physical_id, response_data(decision.resource_id))


def _log_decision(request: Request, change: Change, resource_id: ResourceId) -> None:
    logger.info(
        "EventBridge delivery decided",
        extra={
            "request_type": str(request.request_type),
            "bucket": resource_id.bucket,
            "change": change.value,
            "physical_resource_id": str(resource_id),
        },
    )


class _Calls:
    """The port's calls, each retried within the budget."""

    def __init__(self, dependencies: Dependencies, budget: Budget) -> None:
        self._api = dependencies.notifications
        self._sleep = dependencies.sleep
        self._rng = dependencies.rng
        self._backoff = dependencies.backoff
        self._budget = budget

    def read(self, bucket: str) -> NotificationDocument:
        return self._retried("GetBucketNotificationConfiguration", bucket, self._api.read)

    def write_and_check(self, bucket: str, document: NotificationDocument) -> None:
        """Write the document, then read it back: a difference means another writer was at work
        at the same moment (or the read was stale), worth a warning, not a failure."""
        self._retried(
            "PutBucketNotificationConfiguration", bucket, lambda b: self._api.write(b, document)
        )
        logger.info(
            "notification configuration written",
            extra={"bucket": bucket, "eventbridge": eventbridge_enabled(document)},
        )
        try:
            written = self.read(bucket)
        except BucketNotificationError as error:
            logger.warning(
                "could not read the configuration back after writing it",
                extra={"bucket": bucket, "error": str(error)},
            )
            return
        changed = changed_entries(document, written)
        if changed:
            logger.warning(
                "the configuration read back differs from the one written: another tool may "
                "have written it at the same moment (or the read was served before the write "
                "propagated)",
                extra={"bucket": bucket, "changed_entries": changed},
            )

    def _retried[T](self, operation: str, bucket: str, call: Callable[[str], T]) -> T:
        backoff = self._backoff
        attempt = 0
        while True:
            self._check_budget(operation, bucket)
            try:
                return call(bucket)
            except BucketNotificationError as error:
                if not is_retryable(error):
                    raise _explained(error) from error
                delay = backoff.delay(attempt, self._rng)
                attempts_left = attempt + 1 < backoff.max_attempts
                time_left = self._budget.remaining_seconds() - delay >= backoff.reserve_seconds
                if not (attempts_left and time_left):
                    raise BucketNotificationError(
                        error.code,
                        f"{error.message}; gave up after {attempt + 1} attempt(s)",
                        error.status,
                        operation=operation,
                        bucket=bucket,
                    ) from error
                logger.warning(
                    "S3 call failed transiently; retrying",
                    extra={
                        "operation": operation,
                        "bucket": bucket,
                        "code": error.code,
                        "attempt": attempt + 1,
                        "delay_seconds": round(delay, 3),
                    },
                )
                self._sleep(delay)
                attempt += 1

    def _check_budget(self, operation: str, bucket: str) -> None:
        if self._budget.abandoned():
            raise BucketNotificationError(
                "TimedOut",
                "the timeout answer has been sent; not starting another call",
                operation=operation,
                bucket=bucket,
            )
        if self._budget.remaining_seconds() < self._backoff.reserve_seconds:
            raise BucketNotificationError(
                "TimeNearlyOut",
                "too little invocation time left to call S3 (raise the function's Timeout)",
                operation=operation,
                bucket=bucket,
            )


def _explained(error: BucketNotificationError) -> BucketNotificationError:
    """The error, with what to do about it when that is known."""
    if error.code in _DENIED_CODES:
        hint = (
            "; the function's role needs s3:GetBucketNotification and s3:PutBucketNotification "
            f"on the bucket's ARN (arn:<partition>:s3:::{error.bucket})"
        )
    elif error.code == "NoSuchBucket":
        hint = "; BucketName must name an existing bucket in this account"
    else:
        return error
    return BucketNotificationError(
        error.code,
        error.message + hint,
        error.status,
        operation=error.operation,
        bucket=error.bucket,
    )
