"""S3 adapters: a bucket's notification configuration (``ports.BucketNotificationsApi``) and
counting its keys under a prefix (``ports.ObjectCountApi``).

For the notification configuration the boto3 client is built without botocore retries
(functions/bucket_events/app.py): ``eventbridge_switch`` retries throttling and 5xx itself,
bounded by the function's remaining time, so two retry layers never multiply. The batcher's
counting client keeps botocore's few standard retries: a count it cannot read is done without.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.errors import BucketNotificationError, KnowledgeError
from cfinvalidator.ports import NotificationDocument

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        ListObjectsV2RequestTypeDef,
        NotificationConfigurationTypeDef,
    )

GET = "GetBucketNotificationConfiguration"
PUT = "PutBucketNotificationConfiguration"


def _error(
    exc: ClientError | BotoCoreError, operation: str, bucket: str
) -> BucketNotificationError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return BucketNotificationError(
            error.get("Code", "Unknown"),
            error.get("Message", str(exc)),
            status,
            operation=operation,
            bucket=bucket,
        )
    # No response: connection refused or reset, timeouts. Both calls are safe to repeat: the
    # read changes nothing, the write puts the same whole document again.
    return BucketNotificationError("NetworkError", str(exc), operation=operation, bucket=bucket)


class Boto3BucketNotificationsApi:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def read(self, bucket: str) -> NotificationDocument:
        try:
            response = self._client.get_bucket_notification_configuration(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, GET, bucket) from exc
        document: dict[str, object] = dict(response)
        document.pop("ResponseMetadata", None)
        return document

    def write(self, bucket: str, document: NotificationDocument) -> None:
        try:
            self._client.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration=cast("NotificationConfigurationTypeDef", dict(document)),
                # S3 validates EVERY destination of the document on each write (SQS, SNS, Lambda;
                # it sends each a test event). This write carries other tools' entries back
                # unchanged, and one broken destination of theirs (a deleted queue, a narrowed
                # policy) would make it fail: the stack could then neither switch EventBridge on
                # nor back off, for a reason it can neither see nor fix. EventBridge itself has
                # no destination to validate, so skipping validation only skips checking what
                # this write does not change. S3 still checks the document's syntax and ARNs.
                SkipDestinationValidation=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, PUT, bucket) from exc


class Boto3ObjectCountApi:
    """Lists a bucket's keys under a prefix with ListObjectsV2, as ``ports.ObjectCountApi``
    (a page holds up to 1,000 keys: ``stop_at`` keys take ``stop_at / 1,000`` calls at most)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def list_keys(self, prefix: str, stop_at: int) -> list[str]:
        keys: list[str] = []
        token: str | None = None
        while len(keys) < stop_at:
            page_size = min(1000, stop_at - len(keys))
            request: ListObjectsV2RequestTypeDef = {
                "Bucket": self._bucket,
                "Prefix": prefix,
                "MaxKeys": page_size,
            }
            if token is not None:
                request["ContinuationToken"] = token
            try:
                page = self._client.list_objects_v2(**request)
            except (ClientError, BotoCoreError) as exc:
                raise knowledge_error(exc) from exc
            keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or token is None:
                return keys
        return keys[:stop_at]


def knowledge_error(exc: ClientError | BotoCoreError) -> KnowledgeError:
    """A failed read of what the planner would like to know (the S3 listing here, the
    CloudWatch metric in ``adapters.cloudwatch``), as the domain's error."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return KnowledgeError(error.get("Code", "Unknown"), error.get("Message", str(exc)))
    return KnowledgeError("NetworkError", str(exc))
