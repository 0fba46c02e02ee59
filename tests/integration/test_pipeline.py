"""The whole pipeline: real template, real handler, real state machine, faithful CloudFront.

S3 (moto) -> SQS (moto) -> local SQS event source -> batcher handler -> CloudFront
(FaithfulCloudFront: InProgress, then Completed) -> tracker (moto runs the ASL) -> SNS -> SQS inbox.

moto runs the tracker in background threads and its Wait states really wait, so CloudFront's
clock is a `ManualClock`: an invalidation stays InProgress until a test has seen its tracker poll
it, and completes when the test advances the clock, however slowly the machine runs.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.local_aws.deployed import DeployedStack
from emulator.local_aws.event_source import event_source_for
from emulator.local_aws.poller import (
    BatchRecord,
    SqsEventSourcePoller,
)
from emulator.local_aws.stack import deploy_stack
from tests.integration.site_contents import purge, seed_unchanged_siblings

pytestmark = pytest.mark.slow

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"
BUCKET = "pipeline-site"
TIME_SCALE = 0.01  # the template's batching window, a hundred times faster
COMPLETION_SECONDS = 2.0  # CloudFront's (manual) seconds from InProgress to Completed
DEFER_DELAY_SECONDS = 1  # a deferred record returns to the queue after about a second
WAIT_SECONDS = 60.0  # a deadline for waiting *for* something, never a delay that must pass

UPLOADS = {
    "index.html": b"<h1>home</h1>",
    "docs/guide/index.html": b"<h1>guide</h1>",
    "docs/red flower.jpg": b"\xff\xd8\xff",
    "blog/café-crème.html": b"<h1>caf\xc3\xa9</h1>",
    "css/site.css": b"body{}",
}
# AWS's rules (docs/architecture.md, docs/aws-behaviour.md): dir/index.html is also /dir/ and
# /dir, the root index document is /, a space is %20, non-ASCII is percent-encoded UTF-8.
EXPECTED_PATHS = {
    "/",
    "/index.html",
    "/docs/guide/",
    "/docs/guide",
    "/docs/guide/index.html",
    "/docs/red%20flower.jpg",
    "/blog/caf%C3%A9-cr%C3%A8me.html",
    "/css/site.css",
}


@dataclass
class Pipeline:
    stack: DeployedStack
    cloudfront: FaithfulCloudFront
    clock: ManualClock  # CloudFront's
    distribution_id: str
    poller: SqsEventSourcePoller
    inbox_url: str
    logs: io.StringIO

    def upload(self, keys: Sequence[str]) -> None:
        s3 = boto3.client("s3")
        for key in keys:
            s3.put_object(Bucket=BUCKET, Key=key, Body=UPLOADS.get(key, b"again"))

    def drain_queue(self) -> list[BatchRecord]:
        queue_url = self.stack.outputs["QueueUrl"]
        return self.poller.poll_until(
            lambda batches: bool(batches) and queue_depth(queue_url) == 0,
            timeout_seconds=WAIT_SECONDS,
        )

    def notifications(self, count: int) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        received: list[dict[str, Any]] = []

        def enough() -> bool:
            response = sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10)
            for message in response.get("Messages", []):
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])
            return len(received) >= count

        wait_until(enough, "SNS notifications")
        return received

    def tracker_polls(self) -> dict[str, list[str]]:
        """Every tracker execution (by ARN): the GetInvalidation statuses it saw so far, in
        order."""
        sfn = boto3.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=self.stack.outputs["StateMachineArn"])
        polls: dict[str, list[str]] = {}
        for execution in executions["executions"]:
            history = sfn.get_execution_history(executionArn=execution["executionArn"])
            statuses = polls[execution["executionArn"]] = []
            for event in history["events"]:
                details = event.get("taskSucceededEventDetails", {})
                if details.get("resource") == "getInvalidation":
                    statuses.append(json.loads(details["output"])["Invalidation"]["Status"])
        return polls

    def polled_statuses(self) -> list[str]:
        """GetInvalidation statuses every tracker execution saw, in order."""
        return [status for statuses in self.tracker_polls().values() for status in statuses]

    def complete_once_polled(self, trackers: int) -> None:
        """Wait until `trackers` tracker executions exist and each has polled its invalidation
        at least once (InProgress, as CloudFront's clock has not moved since the invalidation
        was created), then advance CloudFront's clock so that invalidation completes."""

        def polled() -> bool:
            polls = self.tracker_polls()
            return len(polls) == trackers and all(polls.values())

        wait_until(polled, f"{trackers} tracker execution(s) to poll")
        self.clock.advance(COMPLETION_SECONDS)

    def wait_for_trackers_to_end(self) -> None:
        """Wait until no tracker execution is RUNNING (each publishes before it ends)."""
        sfn = boto3.client("stepfunctions")
        arn = self.stack.outputs["StateMachineArn"]

        def none_running() -> bool:
            running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
            return not running["executions"]

        wait_until(none_running, "tracker executions to end")


def dead_letters(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return [
        {
            "body": m["Body"],
            "attributes": {k: v["StringValue"] for k, v in m["MessageAttributes"].items()},
        }
        for m in response.get("Messages", [])
    ]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def queue_depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    visible = int(attributes.get("ApproximateNumberOfMessages", "0"))
    return visible + int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0"))


def create_distribution() -> str:
    response = boto3.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": "pipeline",
            "Comment": "pipeline test",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": f"{BUCKET}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all"},
        }
    )
    return str(response["Distribution"]["Id"])


def subscribe_inbox(topic_arn: str) -> str:
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    clock = ManualClock()
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        FaithfulCloudFront(clock=clock, completion_seconds=COMPLETION_SECONDS) as cloudfront,
    ):
        distribution_id = create_distribution()
        stack = deploy_stack(
            TEMPLATE,
            {
                "DistributionIds": distribution_id,
                "BucketName": BUCKET,
                "PollIntervalSeconds": 2,
                "DeferDelaySeconds": DEFER_DELAY_SECONDS,
            },
            stack_name="pipeline",
        )
        seed_unchanged_siblings(BUCKET, UPLOADS)
        purge(stack.outputs["QueueUrl"])
        logs = io.StringIO()
        poller = event_source_for(stack, boto3.client("sqs"), log_sink=logs, time_scale=TIME_SCALE)
        inbox_url = subscribe_inbox(stack.outputs["TopicArn"])
        yield Pipeline(stack, cloudfront, clock, distribution_id, poller, inbox_url, logs)


def test_uploads_end_in_a_completed_notification_for_their_paths(pipeline: Pipeline) -> None:
    """Given the deployed stack and a site upload (nested, spaced and non-ASCII keys),
    When the event source delivers the S3 events to the batcher,
    Then one invalidation covers exactly the keys' CloudFront paths, the tracker polls it while
    InProgress until Completed, and one COMPLETED notification names those paths and keys."""
    pipeline.upload(list(UPLOADS))

    batches = pipeline.drain_queue()
    pipeline.complete_once_polled(trackers=1)
    (envelope,) = pipeline.notifications(1)

    assert all(b.outcome == "success" for b in batches), pipeline.logs.getvalue()
    message = json.loads(envelope["Message"])
    assert message["status"] == "COMPLETED"
    assert message["distributionId"] == pipeline.distribution_id
    assert set(message["paths"]) == EXPECTED_PATHS
    assert message["pathCount"] == len(EXPECTED_PATHS)
    assert sorted(message["sourceKeys"]) == sorted(UPLOADS)
    assert message["sourceKeyCount"] == len(UPLOADS)
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"status": "COMPLETED", "distributionId": pipeline.distribution_id}
    (created,) = [c for c in pipeline.cloudfront.calls if c.outcome == "created"]
    assert set(created.paths) == EXPECTED_PATHS
    assert created.invalidation_id == message["invalidationId"]
    statuses = pipeline.polled_statuses()
    assert statuses[0] == "InProgress"
    assert set(statuses[:-1]) == {"InProgress"}
    assert statuses[-1] == "Completed"


def test_a_duplicate_delivery_creates_no_second_invalidation(pipeline: Pipeline) -> None:
    """Given a processed upload,
    When S3 delivers the same events again (same bodies, same sequencers: at-least-once),
    Then the batcher acknowledges them without a new invalidation or a second notification."""
    pipeline.upload(["index.html", "css/site.css"])
    (first,) = pipeline.drain_queue()
    pipeline.complete_once_polled(trackers=1)
    pipeline.notifications(1)
    object_bodies = [r["body"] for r in first.event["Records"] if '"Records"' in r["body"]]

    sqs = boto3.client("sqs")
    for body in object_bodies:
        sqs.send_message(QueueUrl=pipeline.stack.outputs["QueueUrl"], MessageBody=body)
    (again,) = pipeline.drain_queue()

    assert again.outcome == "success", pipeline.logs.getvalue()
    assert pipeline.cloudfront.invalidation_count == 1
    # Either the batcher saw the first invalidation in the listing and asked nothing, or (when it
    # was created within the ledger's one-second clock margin, as the window here runs a hundred
    # times faster) it asked again with the same CallerReference and CloudFront returned the
    # first invalidation. Both are free; a second "created" would be billed.
    outcomes = [c.outcome for c in pipeline.cloudfront.calls]
    assert outcomes in (["created"], ["created", "duplicate"])
    # Each tracker execution publishes one notification: no second execution, and once every
    # execution has ended, nothing more can arrive (waiting a fixed time proved nothing on a
    # slow machine, where a second tracker might not yet have published).
    assert len(pipeline.tracker_polls()) == 1
    pipeline.wait_for_trackers_to_end()
    response = sqs.receive_message(QueueUrl=pipeline.inbox_url, WaitTimeSeconds=0)
    assert response.get("Messages", []) == []


def test_a_later_upload_of_the_same_key_is_invalidated_again(pipeline: Pipeline) -> None:
    """Given a processed and completed upload of index.html,
    When index.html is uploaded again later,
    Then a second invalidation is created and completes (a new sequencer, a new change)."""
    pipeline.upload(["index.html"])
    pipeline.drain_queue()
    pipeline.complete_once_polled(trackers=1)
    pipeline.notifications(1)

    pipeline.upload(["index.html"])
    pipeline.drain_queue()
    pipeline.complete_once_polled(trackers=2)
    (envelope,) = pipeline.notifications(1)

    assert pipeline.cloudfront.invalidation_count == 2
    assert json.loads(envelope["Message"])["status"] == "COMPLETED"


def test_a_full_quota_defers_the_records_until_they_can_be_served(pipeline: Pipeline) -> None:
    """Given CloudFront refusing the first request with TooManyInvalidationsInProgress,
    When the event source delivers the uploads,
    Then the batcher defers them (a visibility delay of DeferDelaySeconds on the stack's own
    queue), Lambda leaves them on the queue, they come back on their second delivery and are
    invalidated then: one invalidation, one COMPLETED notification, nothing dead-lettered."""
    pipeline.cloudfront.inject("CreateInvalidation", "TooManyInvalidationsInProgress")
    pipeline.upload(["index.html", "css/site.css"])

    batches = pipeline.drain_queue()
    pipeline.complete_once_polled(trackers=1)
    (envelope,) = pipeline.notifications(1)

    first, *_, last = batches
    object_ids = {r["messageId"] for r in first.event["Records"] if '"Records"' in r["body"]}
    assert first.outcome == "partial", pipeline.logs.getvalue()
    assert set(first.left_for_redelivery) == object_ids
    assert last.outcome == "success", pipeline.logs.getvalue()
    assert {r["messageId"] for b in batches[1:] for r in b.event["Records"]} == object_ids
    assert {r["attributes"]["ApproximateReceiveCount"] for r in last.event["Records"]} == {"2"}
    assert [c.outcome for c in pipeline.cloudfront.calls] == ["rejected", "created"]
    assert json.loads(envelope["Message"])["status"] == "COMPLETED"
    assert dead_letters(pipeline.stack.outputs["DeadLetterQueueUrl"]) == []


def test_a_refusal_waiting_cannot_fix_reaches_the_dead_letter_queue_and_the_topic(
    pipeline: Pipeline,
) -> None:
    """Given CloudFront refusing the request with InvalidArgument,
    When the event source delivers an upload,
    Then the batcher copies the record to the stack's dead-letter queue with its error, the
    stack's topic carries a FAILED notification for it, and Lambda deletes the original."""
    pipeline.cloudfront.inject("CreateInvalidation", "InvalidArgument")
    pipeline.upload(["css/site.css"])

    batches = pipeline.drain_queue()
    (envelope,) = pipeline.notifications(1)

    assert all(b.outcome == "success" for b in batches), pipeline.logs.getvalue()
    (letter,) = dead_letters(pipeline.stack.outputs["DeadLetterQueueUrl"])
    assert '"css/site.css"' in letter["body"]
    assert letter["attributes"]["errorCode"] == "InvalidArgument"
    message = json.loads(envelope["Message"])
    assert (message["status"], message["error"]) == ("FAILED", "InvalidArgument")
    assert message["sourceKeys"] == ["css/site.css"]
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {"status": "FAILED", "distributionId": pipeline.distribution_id}
    assert pipeline.cloudfront.invalidation_count == 0
