"""S3 events as moto's EventBridge delivers them to an SQS rule target, read by the parser.

moto is not AWS here either (docs/aws-behaviour.md#where-moto-differs): every event has the
same ``id`` and ``sequencer``, ``reason`` is the event family ("ObjectCreated") rather than the
API call, and there is no ``deletion-type``. What it does show: the body is the event itself,
the key is raw, and the parser serves such bodies or ignores them, never rejects them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_s3 import S3Client
from mypy_boto3_sqs import SQSClient

from cfinvalidator.events import parse_message
from cfinvalidator.service import SqsMessage
from tests.factories import BUCKET
from tests.unit.test_service import CONFIG, World


@pytest.fixture
def bridged() -> Iterator[tuple[S3Client, SQSClient, str]]:
    """A bucket sending its events to EventBridge, and a rule delivering them to a queue."""
    with mock_aws():
        s3: S3Client = boto3.client("s3")
        sqs: SQSClient = boto3.client("sqs")
        events = boto3.client("events")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        queue_url = sqs.create_queue(QueueName="invalidation-queue")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": [BUCKET]}}}
        events.put_rule(Name="s3-to-queue", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="s3-to-queue", Targets=[{"Id": "queue", "Arn": queue_arn}])
        yield s3, sqs, queue_url


def _received(sqs: SQSClient, queue_url: str) -> list[SqsMessage]:
    messages: list[SqsMessage] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        messages += [SqsMessage(m["MessageId"], m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return messages


def test_moto_eventbridge_events_are_parsed_with_raw_keys(
    bridged: tuple[S3Client, SQSClient, str],
) -> None:
    """Given an upload and a delete of a key with '+', space, ':' and 'é' through moto's
    EventBridge,
    When the queued bodies are parsed,
    Then the upload and the delete come out with the key exactly as written, and whatever else
    moto sends (a tagging event) is ignored, not rejected."""
    s3, sqs, queue_url = bridged
    key = "docs/a+b c:é.html"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"<p>hi</p>")
    s3.delete_object(Bucket=BUCKET, Key=key)

    parsed = [parse_message(m.message_id, m.body) for m in _received(sqs, queue_url)]

    assert [(e.kind, e.key, e.bucket) for p in parsed for e in p.events] == [
        ("created", key, BUCKET),
        ("removed", key, BUCKET),
    ]
    assert all(p.ignored_records == 1 for p in parsed if not p.events)
    assert all(e.event_time is not None for p in parsed for e in p.events)


def test_moto_eventbridge_events_are_served_with_the_keys_paths(
    bridged: tuple[S3Client, SQSClient, str],
) -> None:
    """Given uploads through moto's EventBridge, when the queued batch is served against the
    in-memory CloudFront, then one invalidation carries exactly the keys' CloudFront paths."""
    s3, sqs, queue_url = bridged
    for key in ("index.html", "img/red flower+1.jpg", "q/what?.html"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    messages = _received(sqs, queue_url)
    world = World(config=CONFIG)

    outcome = world.run(messages)

    assert outcome.batch_item_failures([m.message_id for m in messages]) == []
    assert {paths for _, paths, _ in world.cloudfront.created} == {
        ("/", "/img/red%20flower+1.jpg", "/index.html", "/q/what%3F.html")
    }
