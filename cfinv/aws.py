"""The AWS calls ``cfinv`` makes, behind one small adapter; every AWS error becomes a CliError.

CloudFront is read through the batcher's own adapter (``cfinvalidator.adapters.cloudfront``),
so ``cfinv`` reads invalidations exactly as the service does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from cfinv.errors import CliError, Exit
from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.adapters.cloudwatch import Boto3SpendApi
from cfinvalidator.adapters.s3 import Boto3ObjectCountApi
from cfinvalidator.errors import CloudFrontError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# A CLI may wait for throttling to pass: standard retries, more attempts than the default.
_CLIENT_CONFIG = BotoConfig(retries={"mode": "standard", "total_max_attempts": 8})
# "403" is how boto3 reports a HeadObject refusal (the response has no body to name a code).
_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "403"}
)
_THROTTLING = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
)
# ReceiveMessage calls when looking through the dead-letter queue (10 messages each).
_DEAD_LETTER_RECEIVES = 10


def _one_line(what: str, error: Exception, command: str) -> CliError:
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return CliError(
            f"{what}: no AWS credentials found (set AWS_PROFILE, or assume a role first; in "
            "GitHub Actions, configure-aws-credentials with OIDC)"
        )
    if isinstance(error, NoRegionError):
        return CliError(f"{what}: no AWS region set (set AWS_REGION or pass --region)")
    if isinstance(error, CloudFrontError):
        code, message = error.code, error.message
    elif isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", "Unknown"), details.get("Message", str(error))
    else:
        return CliError(f"{what}: cannot reach AWS: {error}")
    if code in _ACCESS_DENIED:
        return CliError(
            f"{what}: access denied ({message}); README 'cfinv permissions' lists what "
            f"`cfinv {command}` needs"
        )
    if code in _THROTTLING:
        return CliError(f"{what}: AWS is throttling these calls ({code}); try again shortly")
    return CliError(f"{what}: {code}: {message}")


@dataclass(frozen=True, slots=True)
class ObjectChange:
    key: str
    changed_at: datetime  # S3's LastModified


@dataclass(frozen=True, slots=True)
class DeadLetterSeen:
    body: str
    sent_at: datetime  # when the batcher (or the redrive policy) put it in the DLQ
    reason: str


@dataclass(frozen=True, slots=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int


class Aws:
    """boto3 clients for one region, built on first use."""

    def __init__(self, session: boto3.Session, command: str) -> None:
        self._session = session
        self._command = command
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self.call(f"connecting to {service}"):
                client = self._session.client(service, config=_CLIENT_CONFIG)  # type: ignore[call-overload]
            self._clients[service] = client
        return client

    @contextlib.contextmanager
    def call(self, what: str) -> Iterator[None]:
        """Turn any AWS failure inside into a CliError saying ``what`` failed."""
        try:
            yield
        except (ClientError, BotoCoreError, CloudFrontError) as error:
            raise _one_line(what, error, self._command) from error

    # ------------------------------------------------------------------ the stack
    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        cfn: CloudFormationClient = self._client("cloudformation")
        try:
            stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message", "")
            if "does not exist" in message:
                raise CliError(
                    f"stack {stack_name!r} not found in region {self.region}", Exit.AWS
                ) from error
            raise _one_line(f"reading stack {stack_name!r}", error, self._command) from error
        except BotoCoreError as error:
            raise _one_line(f"reading stack {stack_name!r}", error, self._command) from error
        outputs = stacks[0].get("Outputs", [])
        return {o["OutputKey"]: o["OutputValue"] for o in outputs if "OutputValue" in o}

    def function_environment(self, function: str) -> dict[str, str]:
        functions: LambdaClient = self._client("lambda")
        with self.call(f"reading the configuration of function {function!r}"):
            response = functions.get_function_configuration(FunctionName=function)
        return dict(response.get("Environment", {}).get("Variables", {}))

    @property
    def region(self) -> str:
        return self._session.region_name or "(no region)"

    # ------------------------------------------------------------------ CloudFront
    def invalidations(self) -> Boto3InvalidationApi:
        return Boto3InvalidationApi(self._client("cloudfront"))

    # ------------------------------------------------- what the planner may know
    def object_counts(self, bucket: str) -> Boto3ObjectCountApi:
        """The batcher's own ListObjectsV2 adapter (its errors are KnowledgeError, which
        ``plan`` reports as a note, as the batcher logs them)."""
        return Boto3ObjectCountApi(self._client("s3"), bucket)

    def spend(self, namespace: str, service: str) -> Boto3SpendApi:
        """The batcher's own BilledPaths adapter."""
        return Boto3SpendApi(self._client("cloudwatch"), namespace, service)

    # ------------------------------------------------------------------ S3
    def changed_objects(self, bucket: str, prefix: str, since: datetime) -> list[ObjectChange]:
        """Objects under ``prefix`` whose LastModified is at or after ``since``'s second
        (LastModified has whole seconds: an object changed just after ``since`` may show the
        second before it is over)."""
        s3: S3Client = self._client("s3")
        floor = since.replace(microsecond=0)
        changed: list[ObjectChange] = []
        with self.call(f"listing bucket {bucket!r}"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] >= floor:
                        changed.append(ObjectChange(item["Key"], item["LastModified"]))
        return changed

    def last_modified(self, bucket: str, key: str) -> datetime | None:
        """The object's LastModified, or None when there is no such object."""
        s3: S3Client = self._client("s3")
        try:
            return s3.head_object(Bucket=bucket, Key=key)["LastModified"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise _one_line(f"reading {key!r} in {bucket!r}", error, self._command) from error
        except BotoCoreError as error:
            raise _one_line(f"reading {key!r} in {bucket!r}", error, self._command) from error

    # ------------------------------------------------------------------ SQS
    def send(self, queue_url: str, body: str, now: datetime) -> tuple[str, datetime]:
        """Send; the message ID, and when SQS took it by AWS's clock (the response's Date
        header, whole seconds, so at most a second early; ``now`` if there is none)."""
        sqs: SQSClient = self._client("sqs")
        with self.call("sending the request to the service's queue"):
            response = sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date", "")
        try:
            taken = parsedate_to_datetime(date).astimezone(UTC) if date else now
        except (TypeError, ValueError):
            taken = now
        return response["MessageId"], taken

    def dead_letters(self, queue_url: str) -> list[DeadLetterSeen]:
        """Messages in the dead-letter queue, looked at without taking them: each is received
        with a visibility timeout of 0, so it stays available to everyone else. SQS returns a
        sample of a large queue; up to 100 messages are seen."""
        sqs: SQSClient = self._client("sqs")
        seen: dict[str, DeadLetterSeen] = {}
        with self.call("reading the dead-letter queue"):
            for _ in range(_DEAD_LETTER_RECEIVES):
                messages = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=0,
                    WaitTimeSeconds=0,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["SentTimestamp"],
                ).get("Messages", [])
                fresh = [m for m in messages if m["MessageId"] not in seen]
                if not fresh:
                    break
                for message in fresh:
                    seen[message["MessageId"]] = _dead_letter(message)
        return list(seen.values())

    def queue_depth(self, queue_url: str) -> QueueDepth:
        sqs: SQSClient = self._client("sqs")
        with self.call("reading the queue's attributes"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
        return QueueDepth(
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    def queue_arn(self, queue_url: str) -> str:
        sqs: SQSClient = self._client("sqs")
        with self.call("reading the queue's ARN"):
            attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def start_redrive(self, dead_letter_queue_arn: str, queue_arn: str) -> str:
        """Start an SQS message move task from the DLQ to the queue; its task handle."""
        sqs: SQSClient = self._client("sqs")
        with self.call("starting the message move task"):
            response = sqs.start_message_move_task(
                SourceArn=dead_letter_queue_arn, DestinationArn=queue_arn
            )
        return response["TaskHandle"]

    # ------------------------------------------------------------------ Step Functions
    def ended_executions(self, state_machine_arn: str, since: datetime) -> dict[str, str]:
        """Execution name -> status, for the tracker's executions that ended other than
        SUCCEEDED and started at or after ``since`` (newest first, up to 1,000 per status)."""
        sfn: SFNClient = self._client("stepfunctions")
        ended: dict[str, str] = {}
        with self.call("listing the tracker's executions"):
            for status in ("FAILED", "TIMED_OUT", "ABORTED"):
                pages = sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=state_machine_arn,
                    statusFilter=status,
                    PaginationConfig={"MaxItems": 1000, "PageSize": 100},
                )
                for page in pages:
                    executions = page["executions"]
                    ended.update((e["name"], status) for e in executions if e["startDate"] >= since)
                    if executions and executions[-1]["startDate"] < since:
                        break  # newest first: the rest started earlier still
        return ended

    # ------------------------------------------------------------------ CloudWatch
    def _datapoints(
        self,
        metric: str,
        query: Mapping[str, Any],
        statistic: Literal["Sum", "Maximum"],
    ) -> list[float]:
        cloudwatch: CloudWatchClient = self._client("cloudwatch")
        with self.call(f"reading the {metric} metric"):
            response = cloudwatch.get_metric_statistics(
                MetricName=metric, Statistics=[statistic], **query
            )
        return [point.get(statistic, 0.0) for point in response.get("Datapoints", [])]

    def metric_sum(
        self, namespace: str, metric: str, dimensions: Mapping[str, str], start: datetime
    ) -> float | None:
        """The metric's sum from ``start`` until now, None when CloudWatch has no datapoint."""
        now = datetime.now(UTC)
        query = _query(namespace, dimensions, start, now + timedelta(minutes=1), period=86400)
        points = self._datapoints(metric, query, "Sum")
        return sum(points) if points else None

    def metric_maximum(
        self, namespace: str, metric: str, dimensions: Mapping[str, str], minutes: int
    ) -> float | None:
        """The metric's largest value over the last ``minutes``; None without a datapoint."""
        now = datetime.now(UTC)
        query = _query(namespace, dimensions, now - timedelta(minutes=minutes), now, period=60)
        points = self._datapoints(metric, query, "Maximum")
        return max(points) if points else None


def _query(
    namespace: str, dimensions: Mapping[str, str], start: datetime, end: datetime, *, period: int
) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "StartTime": start,
        "EndTime": end,
        "Period": period,
    }


def _dead_letter(message: Mapping[str, Any]) -> DeadLetterSeen:
    sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", "0"))
    attributes = message.get("MessageAttributes", {})
    reason = attributes.get("failureReason", {}).get("StringValue", "")
    code = attributes.get("errorCode", {}).get("StringValue", "")
    if not code and "ERROR_CODE" in attributes:
        # EventBridge's own attributes on an event it could not deliver to the queue.
        code = "EventBridge could not deliver it: " + attributes["ERROR_CODE"].get(
            "StringValue", ""
        )
        reason = attributes.get("ERROR_MESSAGE", {}).get("StringValue", "")
    return DeadLetterSeen(
        body=message.get("Body", ""),
        sent_at=datetime.fromtimestamp(sent_ms / 1000, UTC),
        reason=f"{code}: {reason}" if code else reason or "moved by the queue's redrive policy",
    )
