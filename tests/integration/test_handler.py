"""The batcher handler through boto3, against moto with the faithful CloudFront layered on it.

The stack is what the handler talks to in AWS: the source queue (deferrals change its
visibility), the dead-letter queue (records waiting cannot fix are copied there), the
notification topic (FAILED notifications; an SQS inbox is subscribed to read them), the tracker
state machine and one distribution. CloudFront runs on a manual clock these tests never advance:
every invalidation stays InProgress (in the quota) however slowly a test runs, and its CreateTime
is CLOUDFRONT_EPOCH, just after the sample events' eventTime, so "created after the change" (what
makes redelivery free) holds whatever the real date is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_cloudfront import CloudFrontClient
from mypy_boto3_sns import SNSClient
from mypy_boto3_sqs import SQSClient
from mypy_boto3_sqs.literals import QueueAttributeNameType
from mypy_boto3_stepfunctions import SFNClient

import app
from cfinvalidator.errors import ConfigError
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import (
    MAX_IN_PROGRESS_FILES,
    MAX_IN_PROGRESS_WILDCARDS,
    FaithfulCloudFront,
)
from emulator.local_aws.lambda_context import FakeLambdaContext
from tests.factories import BUCKET, load_event, s3_body, s3_record, sqs_event, sqs_record
from tests.unit.eventbridge_factories import eventbridge_body, sns_envelope

TRACKER_DEFINITION = json.dumps(
    {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}  # executions are not run here
)
MAX_RECEIVE_COUNT = 3
DEFER_DELAY_SECONDS = 30
# The sample events changed objects at 2026-11-21T10:00:00Z (and a second later); CloudFront's
# clock starts five minutes after that.
CLOUDFRONT_EPOCH = datetime(2026, 11, 21, 10, 5, tzinfo=UTC)


def new_context() -> FakeLambdaContext:
    """A fresh context per invocation: its remaining time counts from the invocation."""
    return FakeLambdaContext(
        function_name="batcher",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:batcher",
        memory_limit_in_mb=512,
        timeout_seconds=60,
    )


@dataclass
class Stack:
    cloudfront: CloudFrontClient
    sfn: SFNClient
    sqs: SQSClient
    distribution_id: str
    state_machine_arn: str
    queue_url: str
    dead_letter_queue_url: str
    inbox_url: str
    fake: FaithfulCloudFront

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.lambda_handler(event, new_context())
        return result

    def executions(self) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        described = [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]
        return [{"name": d["name"], "input": json.loads(d["input"])} for d in described]

    def deliver(self, *bodies: str) -> dict[str, Any]:
        """Send the bodies to the source queue and receive them as Lambda's poller would: the
        event carries real message IDs and receipt handles."""
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )["Messages"]
        assert len(messages) == len(bodies)
        records = []
        for message in messages:
            record = sqs_record(message["MessageId"], message["Body"])
            record["receiptHandle"] = message["ReceiptHandle"]
            record["attributes"] = dict(message.get("Attributes", {}))
            records.append(record)
        return sqs_event(*records)

    def hidden_on_the_source_queue(self) -> int:
        """Messages whose visibility timeout has not expired (the queue's own timeout is 0)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every DLQ message: its body and its String/Number message attributes."""
        return [
            {
                "body": m["Body"],
                "attributes": {k: v["StringValue"] for k, v in m["MessageAttributes"].items()},
            }
            for m in _drain(self.sqs, self.dead_letter_queue_url, MessageAttributeNames=["All"])
        ]

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS notification so far: its JSON message and its message attributes."""
        return [
            {
                "message": json.loads(envelope["Message"]),
                "attributes": {k: v["Value"] for k, v in envelope["MessageAttributes"].items()},
            }
            for envelope in (json.loads(m["Body"]) for m in _drain(self.sqs, self.inbox_url))
        ]

    def fill_quota(self, *, files: int = 0, wildcards: int = 0) -> None:
        """Put invalidations of unrelated paths in progress, as another tool might."""
        batches = [
            [f"/unrelated/{i:04d}.html" for i in range(files)],
            [f"/unrelated-{i:02d}/*" for i in range(wildcards)],
        ]
        for number, paths in enumerate(batches):
            if paths:
                self.cloudfront.create_invalidation(
                    DistributionId=self.distribution_id,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(paths), "Items": paths},
                        "CallerReference": f"someone-else-{number}",
                    },
                )


def _drain(sqs: SQSClient, queue_url: str, **receive: Any) -> list[Any]:
    messages: list[Any] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, **receive).get(
        "Messages", []
    ):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def _queue(
    sqs: SQSClient, name: str, attributes: Mapping[QueueAttributeNameType, str] | None = None
) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch,
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> Iterator[Stack]:
    with mock_aws():
        cloudfront = boto3.client("cloudfront")
        sfn = boto3.client("stepfunctions")
        sqs: SQSClient = boto3.client("sqs")
        sns: SNSClient = boto3.client("sns")
        distribution_id = cloudfront_distribution_factory(cloudfront)
        arn = sfn.create_state_machine(
            name="tracker",
            definition=TRACKER_DEFINITION,
            roleArn="arn:aws:iam::123456789012:role/tracker",
        )["stateMachineArn"]
        dlq_url, _ = _queue(sqs, "invalidation-dlq")
        # Visibility timeout 0: a received message is visible again at once unless the handler
        # hides it (a deferral), which makes deferrals observable.
        queue_url, _ = _queue(sqs, "invalidation-queue", {"VisibilityTimeout": "0"})
        topic_arn = sns.create_topic(Name="notifications")["TopicArn"]
        inbox_url, inbox_arn = _queue(sqs, "inbox")
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        env = {
            "DISTRIBUTION_IDS": distribution_id,
            "BUCKET_NAME": BUCKET,
            "KEY_PREFIX": "",
            "ORIGIN_PATH": "",
            "INDEX_DOCUMENT": "index.html",
            "STATE_MACHINE_ARN": arn,
            "QUEUE_URL": queue_url,
            "DEAD_LETTER_QUEUE_URL": dlq_url,
            "TOPIC_ARN": topic_arn,
            "MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
            "DEFER_DELAY_SECONDS": str(DEFER_DELAY_SECONDS),
            "COLLAPSE_THRESHOLD": "10",
            "BROADEST_WILDCARD_DEPTH": "0",
            "POWERTOOLS_SERVICE_NAME": "cloudfront-invalidator",
            "POWERTOOLS_METRICS_NAMESPACE": "CloudFrontInvalidatorTest",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app.dependencies.cache_clear()
        clock = ManualClock()
        with FaithfulCloudFront(
            clock=clock,
            completion_seconds=30,
            wall_clock=lambda: CLOUDFRONT_EPOCH + timedelta(seconds=clock()),
        ) as fake:
            yield Stack(
                cloudfront,
                sfn,
                sqs,
                distribution_id,
                arn,
                queue_url,
                dlq_url,
                inbox_url,
                fake,
            )
        app.dependencies.cache_clear()


def _failures(*message_ids: str) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": m} for m in message_ids]}


def test_put_events_create_one_invalidation_and_one_tracker(stack: Stack) -> None:
    """Given the sample SQS batch of two uploads, when the handler runs, then one invalidation
    with exactly the viewer paths exists and one tracker execution was started for it."""
    result = stack.invoke(load_event("sqs-s3-put.json"))
    assert result == _failures()
    listed = stack.cloudfront.list_invalidations(DistributionId=stack.distribution_id)
    (summary,) = listed["InvalidationList"]["Items"]
    assert summary["Status"] == "InProgress"
    invalidation = stack.cloudfront.get_invalidation(
        DistributionId=stack.distribution_id, Id=summary["Id"]
    )["Invalidation"]
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == [
        "/",
        "/docs/red%20flower.jpg",
        "/index.html",
    ]
    (execution,) = stack.executions()
    assert execution["name"] == f"{stack.distribution_id}-{summary['Id']}"
    assert execution["input"]["sourceKeys"] == ["docs/red flower.jpg", "index.html"]
    assert execution["input"]["pathCount"] == 3
    assert stack.notifications() == []
    assert stack.dead_letters() == []


def test_duplicate_delivery_creates_nothing_new(stack: Stack) -> None:
    """Given the same batch delivered twice (S3's at-least-once: new messages, same events),
    then CloudFront bills one invalidation, one tracker runs, and both deliveries succeed."""
    event = load_event("sqs-s3-put.json")
    assert stack.invoke(event) == _failures()
    assert stack.invoke(event) == _failures()
    assert stack.fake.invalidation_count == 1
    assert stack.fake.billed_paths == 3
    assert len(stack.executions()) == 1


def test_redelivered_record_is_not_billed_again(stack: Stack) -> None:
    """Given a processed batch,
    When SQS redelivers the same records (same bodies, ApproximateReceiveCount 2),
    Then no second invalidation is billed, the tracker is not started twice, nothing fails."""
    event = load_event("sqs-s3-put.json")
    assert stack.invoke(event) == _failures()
    billed = stack.fake.billed_paths
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"

    result = stack.invoke(event)

    assert result == _failures()
    assert stack.fake.billed_paths == billed
    # Free because the planner saw the earlier invalidation (created after the change), not
    # because CloudFront deduplicated a second request: none was sent.
    assert [c.outcome for c in stack.fake.calls] == ["created"]
    assert stack.fake.invalidation_count == 1
    assert len(stack.executions()) == 1
    assert stack.dead_letters() == []


def test_test_event_is_acknowledged_without_invalidating(stack: Stack) -> None:
    """Given only the s3:TestEvent, then nothing fails and nothing is invalidated."""
    assert stack.invoke(load_event("sqs-s3-test-event.json")) == _failures()
    assert stack.fake.calls == []
    assert stack.dead_letters() == []


def test_malformed_record_is_dead_lettered_alone(stack: Stack) -> None:
    """Given one malformed and one valid record,
    When the handler runs,
    Then the valid one is invalidated, the malformed one is copied to the DLQ with its error
    and announced in a FAILED notification not tied to a distribution, and no record is left
    for redelivery (Lambda deletes the malformed original)."""
    event = load_event("sqs-malformed.json")
    (bad,) = [r for r in event["Records"] if not r["body"].startswith("{")]

    result = stack.invoke(event)

    assert result == _failures()
    assert stack.fake.invalidation_count == 1
    (letter,) = stack.dead_letters()
    assert letter["body"] == bad["body"]
    assert letter["attributes"]["errorCode"] == "MalformedEvent"
    assert letter["attributes"]["sourceMessageId"] == bad["messageId"]
    (notification,) = stack.notifications()
    assert notification["attributes"] == {"status": "FAILED", "distributionId": "-"}
    assert notification["message"]["error"] == "MalformedEvent"
    assert notification["message"]["messageIds"] == [bad["messageId"]]


@pytest.mark.parametrize("error", ["InvalidArgument", "NoSuchDistribution"])
def test_refusal_waiting_cannot_fix_dead_letters_the_records(stack: Stack, error: str) -> None:
    """Given CloudFront refusing the request with an error waiting cannot fix,
    When the handler runs,
    Then every record goes to the DLQ with its original body and the error code, one FAILED
    notification names the distribution, error and keys, nothing is left for redelivery and no
    tracker starts."""
    stack.fake.inject("CreateInvalidation", error)
    event = load_event("sqs-s3-put.json")

    result = stack.invoke(event)

    assert result == _failures()
    letters = stack.dead_letters()
    assert sorted(letter["body"] for letter in letters) == sorted(
        r["body"] for r in event["Records"]
    )
    assert {letter["attributes"]["errorCode"] for letter in letters} == {error}
    assert {letter["attributes"]["receiveCount"] for letter in letters} == {"1"}
    (notification,) = stack.notifications()
    assert notification["attributes"] == {
        "status": "FAILED",
        "distributionId": stack.distribution_id,
    }
    message = notification["message"]
    assert message["status"] == "FAILED"
    assert message["stage"] == "request"
    assert message["distributionId"] == stack.distribution_id
    assert message["error"] == error
    assert message["recordCount"] == 2
    assert sorted(message["messageIds"]) == sorted(r["messageId"] for r in event["Records"])
    assert message["sourceKeys"] == ["docs/red flower.jpg", "index.html"]
    assert message["sourceKeyCount"] == 2
    assert message["deadLettered"] is True
    assert stack.executions() == []


def test_too_many_invalidations_in_progress_defers_the_records(stack: Stack) -> None:
    """Given CloudFront answering TooManyInvalidationsInProgress (someone else's invalidations),
    When the handler runs on records received from the queue,
    Then the records are reported as failures and hidden on the queue for a deferral delay
    (ChangeMessageVisibility), not dead-lettered and not announced."""
    stack.fake.inject("CreateInvalidation", "TooManyInvalidationsInProgress")
    bodies = [r["body"] for r in load_event("sqs-s3-put.json")["Records"]]
    event = stack.deliver(*bodies)
    assert stack.hidden_on_the_source_queue() == 0

    result = stack.invoke(event)

    assert result == _failures(*(r["messageId"] for r in event["Records"]))
    assert stack.hidden_on_the_source_queue() == len(bodies)
    assert stack.dead_letters() == []
    assert stack.notifications() == []
    assert stack.fake.invalidation_count == 0


def test_full_wildcard_quota_defers_only_the_records_that_need_wildcards(stack: Stack) -> None:
    """Given 15 wildcard paths already in progress (the quota) and two uploads, one of a key
    CloudFront can only cover with a wildcard (it contains '~'),
    When the handler runs,
    Then the ordinary key is invalidated, the other record is deferred without CloudFront ever
    refusing a request, and nothing is dead-lettered."""
    stack.fill_quota(wildcards=MAX_IN_PROGRESS_WILDCARDS)
    event = stack.deliver(
        s3_body(s3_record("css/site.css", sequencer="01")),
        s3_body(s3_record("page.html~", sequencer="02")),
    )
    tilde = next(r["messageId"] for r in event["Records"] if "page.html" in r["body"])
    before = len(stack.fake.calls)

    result = stack.invoke(event)

    assert result == _failures(tilde)
    (call,) = stack.fake.calls[before:]
    assert (call.outcome, call.paths) == ("created", ("/css/site.css",))
    assert stack.hidden_on_the_source_queue() == 1
    assert stack.dead_letters() == []


def test_full_quota_on_the_last_delivery_dead_letters_with_a_failed_notification(
    stack: Stack,
) -> None:
    """Given a full in-progress quota (3,000 files and 15 wildcards) and a record on its
    MAX_RECEIVE_COUNT-th delivery,
    When the handler runs,
    Then the record is dead-lettered (not deferred again) and a FAILED notification says so."""
    stack.fill_quota(files=MAX_IN_PROGRESS_FILES, wildcards=MAX_IN_PROGRESS_WILDCARDS)
    body = s3_body(s3_record("css/site.css"))
    event = sqs_event(sqs_record("last", body, receive_count=MAX_RECEIVE_COUNT))

    result = stack.invoke(event)

    assert result == _failures()
    (letter,) = stack.dead_letters()
    assert letter["body"] == body
    assert letter["attributes"]["receiveCount"] == str(MAX_RECEIVE_COUNT)
    (notification,) = stack.notifications()
    assert notification["attributes"]["status"] == "FAILED"
    assert notification["message"]["sourceKeys"] == ["css/site.css"]
    assert notification["message"]["deadLettered"] is True
    assert f"{MAX_RECEIVE_COUNT} deliveries" in notification["message"]["cause"]
    assert [c.outcome for c in stack.fake.calls] == ["created", "created"]  # only the fillers


def test_full_quota_before_the_last_delivery_defers(stack: Stack) -> None:
    """Given a full in-progress quota and a record one delivery short of MAX_RECEIVE_COUNT,
    When the handler runs,
    Then the record is deferred and reported, and nothing is dead-lettered."""
    stack.fill_quota(files=MAX_IN_PROGRESS_FILES, wildcards=MAX_IN_PROGRESS_WILDCARDS)
    event = stack.deliver(s3_body(s3_record("css/site.css")))
    message_id = event["Records"][0]["messageId"]
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(MAX_RECEIVE_COUNT - 1)
    assert stack.hidden_on_the_source_queue() == 0

    result = stack.invoke(event)

    assert result == _failures(message_id)
    assert stack.hidden_on_the_source_queue() == 1
    assert stack.dead_letters() == []
    assert stack.notifications() == []


def test_throttling_is_retried_by_the_service(stack: Stack) -> None:
    """Given two throttled answers to CreateInvalidation (the SDK does not retry CloudFront),
    then the service's own backoff gets one invalidation made and nothing fails."""
    stack.fake.inject("CreateInvalidation", "Throttling", times=2)

    assert stack.invoke(load_event("sqs-s3-put.json")) == _failures()

    assert stack.fake.invalidation_count == 1
    assert [c.error_code for c in stack.fake.calls] == ["Throttling", "Throttling", None]
    assert len(stack.executions()) == 1


def test_foreign_bucket_record_is_dead_lettered(stack: Stack) -> None:
    """Given an event from a bucket this stack does not serve, then that record is copied to the
    DLQ with errorCode ForeignBucket and announced, and not left for redelivery."""
    body = json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "someone-else"}, "object": {"key": "a.html"}},
                }
            ]
        }
    )
    result = stack.invoke(sqs_event(sqs_record("m1", body)))
    assert result == _failures()
    (letter,) = stack.dead_letters()
    assert (letter["body"], letter["attributes"]["errorCode"]) == (body, "ForeignBucket")
    (notification,) = stack.notifications()
    assert notification["message"]["messageIds"] == ["m1"]
    assert stack.fake.calls == []


def test_mixed_sources_with_hostile_keys_create_one_invalidation_of_their_exact_paths(
    stack: Stack,
) -> None:
    """Given one batch mixing a direct S3 notification, an SNS-wrapped one and EventBridge
    events (created, deleted, lifecycle-expired and an ignored tagging event), every key with
    characters that need care (form-encoded in the S3 bodies, raw in the EventBridge ones),
    When the handler runs,
    Then one invalidation is created whose paths are exactly the keys' CloudFront paths, one
    tracker starts for it, and nothing fails."""
    bodies = {
        "direct": s3_body(s3_record("docs/a+b c.html", sequencer="0065E1B2C3D4E5F601")),
        "sns": sns_envelope(s3_body(s3_record("q/what?#1.html", sequencer="0065E1B2C3D4E5F602"))),
        "created": eventbridge_body("café:日本/index.html", sequencer="0065E1B2C3D4E5F603"),
        "deleted": eventbridge_body(
            "100%/😀 x.png", detail_type="Object Deleted", sequencer="0065E1B2C3D4E5F604"
        ),
        "expired": eventbridge_body(
            "a//b/",
            detail_type="Object Deleted",
            reason="Lifecycle Expiration",
            deletion_type="Delete Marker Created",
            sequencer="0065E1B2C3D4E5F605",
        ),
        "tilde": eventbridge_body("drafts/page~1.html", sequencer=None, event_id="e-tilde"),
        "star": eventbridge_body("notes*", sequencer="0065E1B2C3D4E5F607"),
        "tagged": eventbridge_body("docs/a+b c.html", detail_type="Object Tags Added"),
    }
    event = sqs_event(*(sqs_record(name, body) for name, body in bodies.items()))

    result = stack.invoke(event)

    assert result == _failures()
    (call,) = stack.fake.calls
    assert call.outcome == "created"
    assert sorted(call.paths) == [
        "/100%25/%F0%9F%98%80%20x.png",
        "/a//b/",
        "/caf%C3%A9:%E6%97%A5%E6%9C%AC",
        "/caf%C3%A9:%E6%97%A5%E6%9C%AC/",
        "/caf%C3%A9:%E6%97%A5%E6%9C%AC/index.html",
        "/docs/a+b%20c.html",
        "/drafts/page*",
        "/notes*",
        "/q/what%3F%231.html",
    ]
    (execution,) = stack.executions()
    assert execution["input"]["sourceKeys"] == sorted(
        [
            "100%/😀 x.png",
            "a//b/",
            "café:日本/index.html",
            "docs/a+b c.html",
            "drafts/page~1.html",
            "notes*",
            "q/what?#1.html",
        ]
    )
    assert stack.dead_letters() == []
    assert stack.notifications() == []


def test_missing_configuration_names_the_variable(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given STATE_MACHINE_ARN unset, then the invocation fails naming it (batch retried)."""
    monkeypatch.delenv("STATE_MACHINE_ARN")
    app.dependencies.cache_clear()
    with pytest.raises(ConfigError, match="STATE_MACHINE_ARN"):
        stack.invoke(load_event("sqs-s3-put.json"))
