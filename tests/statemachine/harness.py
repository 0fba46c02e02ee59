"""A tracker harness: the real tracker.asl.json executed by moto's Step Functions interpreter
against the faithful CloudFront fake, publishing to an SNS topic read through an SQS queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_cloudfront import CloudFrontClient
from mypy_boto3_sns import SNSClient
from mypy_boto3_sqs import SQSClient
from mypy_boto3_stepfunctions import SFNClient
from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef, HistoryEventTypeDef

from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.local_aws.jsonata import install_jsonata

DEFINITION_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "tracker.asl.json"
ROLE_ARN = "arn:aws:iam::123456789012:role/tracker"
METRICS_NAMESPACE = "CloudFrontInvalidatorTest"
SERVICE_NAME = "cloudfront-invalidator"


def load_tracker_definition(
    topic_arn: str, poll_interval_seconds: int, completion_timeout_seconds: int
) -> str:
    """The definition with DefinitionSubstitutions applied as CloudFormation does (as text)."""
    substitutions = {
        "TopicArn": topic_arn,
        "PollIntervalSeconds": str(poll_interval_seconds),
        "CompletionTimeoutSeconds": str(completion_timeout_seconds),
        "MetricsNamespace": METRICS_NAMESPACE,
        "ServiceName": SERVICE_NAME,
    }
    text = DEFINITION_PATH.read_text(encoding="utf-8")
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    return text


@dataclass(frozen=True)
class Notification:
    """One SNS notification as a subscriber sees it (SNS envelope parsed)."""

    message: dict[str, Any]
    attributes: dict[str, tuple[str, str]]  # name -> (Type, Value)


@dataclass
class TrackerHarness:
    sfn: SFNClient
    sns: SNSClient
    sqs: SQSClient
    cloudfront: CloudFrontClient
    cloudfront_fake: FaithfulCloudFront
    clock: ManualClock  # the fake's: it moves only when a test advances it
    topic_arn: str
    queue_url: str
    distribution_id: str
    _names: Iterator[int] = field(default_factory=lambda: iter(range(1_000_000)))

    def deploy(
        self,
        *,
        poll_interval_seconds: int = 1,
        completion_timeout_seconds: int = 10,
        start_at: str | None = None,
    ) -> str:
        """Create a tracker state machine with these substitutions; returns its ARN.

        ``start_at`` starts executions at that state of the real definition instead, for a
        branch whose entry (an error without a cause, say) moto cannot be made to produce."""
        definition = load_tracker_definition(
            self.topic_arn, poll_interval_seconds, completion_timeout_seconds
        )
        if start_at is not None:
            document = json.loads(definition)
            assert start_at in document["States"], start_at
            definition = json.dumps({**document, "StartAt": start_at})
        response = self.sfn.create_state_machine(
            name=f"tracker-{next(self._names)}", definition=definition, roleArn=ROLE_ARN
        )
        return response["stateMachineArn"]

    def create_invalidation(self, paths: Sequence[str], caller_reference: str) -> str:
        response = self.cloudfront.create_invalidation(
            DistributionId=self.distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": list(paths)},
                "CallerReference": caller_reference,
            },
        )
        return response["Invalidation"]["Id"]

    def tracker_input(self, invalidation_id: str, paths: Sequence[str]) -> dict[str, Any]:
        """An execution input as the batcher writes it (docs/architecture.md)."""
        return {
            "distributionId": self.distribution_id,
            "invalidationId": invalidation_id,
            "callerReference": "cfinv-" + "ab" * 32,
            "pathCount": len(paths),
            "paths": list(paths),
            "sourceKeyCount": 1,
            "sourceKeys": ["docs/index.html"],
            "requestedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def start(self, state_machine_arn: str, execution_input: dict[str, Any]) -> str:
        """Start an execution (moto runs it in a background thread); returns its ARN."""
        return self.sfn.start_execution(
            stateMachineArn=state_machine_arn, input=json.dumps(execution_input)
        )["executionArn"]

    def finish(self, execution_arn: str, timeout: float = 60.0) -> DescribeExecutionOutputTypeDef:
        """Poll until the execution leaves RUNNING (bounded by `timeout` real seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                pytest.fail(f"execution still RUNNING after {timeout} s: {execution_arn}")
            time.sleep(0.05)

    def run(
        self, state_machine_arn: str, execution_input: dict[str, Any], timeout: float = 60.0
    ) -> DescribeExecutionOutputTypeDef:
        """Start an execution and poll until it leaves RUNNING (bounded by `timeout`)."""
        return self.finish(self.start(state_machine_arn, execution_input), timeout)

    def polled_statuses(self, execution_arn: str) -> list[str]:
        """Status of each successful GetInvalidation call so far, in order."""
        statuses: list[str] = []
        for event in self.history(execution_arn):
            details = event.get("taskSucceededEventDetails")
            if details is not None and details.get("resource") == "getInvalidation":
                statuses.append(json.loads(details["output"])["Invalidation"]["Status"])
        return statuses

    def wait_for_polls(self, execution_arn: str, count: int, timeout: float = 60.0) -> list[str]:
        """Wait until the execution has made at least `count` successful GetInvalidation calls
        (bounded by `timeout` real seconds); returns the statuses seen so far."""
        deadline = time.monotonic() + timeout
        while len(statuses := self.polled_statuses(execution_arn)) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{len(statuses)} of {count} polls after {timeout} s: {statuses}")
            time.sleep(0.05)
        return statuses

    def completion_times(self) -> list[float]:
        """The InvalidationCompletionTime values the tracker put into CloudWatch (moto keeps
        each datum), in milliseconds."""
        cloudwatch = boto3.client("cloudwatch")
        now = datetime.now(UTC)
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "completion",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": METRICS_NAMESPACE,
                            "MetricName": "InvalidationCompletionTime",
                            "Dimensions": [{"Name": "service", "Value": SERVICE_NAME}],
                        },
                        "Period": 1,
                        "Stat": "Maximum",
                        "Unit": "Milliseconds",
                    },
                }
            ],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=1),
        )
        return [v for result in answer["MetricDataResults"] for v in result["Values"]]

    def history(self, execution_arn: str) -> list[HistoryEventTypeDef]:
        events: list[HistoryEventTypeDef] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def notifications(self) -> list[Notification]:
        """Drain the subscribed queue and parse each SNS envelope."""
        found: list[Notification] = []
        while True:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = received.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                assert envelope["Type"] == "Notification"
                assert envelope["TopicArn"] == self.topic_arn
                attributes = {
                    name: (value["Type"], value["Value"])
                    for name, value in envelope.get("MessageAttributes", {}).items()
                }
                found.append(Notification(json.loads(envelope["Message"]), attributes))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@contextmanager
def open_tracker_harness(
    make_distribution: Callable[[CloudFrontClient], str],
    completion_seconds: float = 2.0,
) -> Iterator[TrackerHarness]:
    """moto with real state machine execution, one distribution behind the faithful CloudFront,
    and an SQS queue subscribed to the tracker's topic.

    moto's Wait states really wait, but the fake runs on a `ManualClock`: an invalidation stays
    InProgress, however slowly the execution starts or runs, until the test advances the clock
    (`completion_seconds` after its creation)."""
    install_jsonata()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        cloudfront = boto3.client("cloudfront")
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        topic_arn = sns.create_topic(Name="invalidation-notifications")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        distribution_id = make_distribution(cloudfront)
        clock = ManualClock()
        with FaithfulCloudFront(clock=clock, completion_seconds=completion_seconds) as fake:
            yield TrackerHarness(
                sfn=boto3.client("stepfunctions"),
                sns=sns,
                sqs=sqs,
                cloudfront=cloudfront,
                cloudfront_fake=fake,
                clock=clock,
                topic_arn=topic_arn,
                queue_url=queue_url,
                distribution_id=distribution_id,
            )
