"""The stack attached to a bucket it did not create: the real template with CreateBucket=false.

moto S3 (EventBridge delivery on) -> moto EventBridge rule -> SQS -> local event source -> batcher
-> faithful CloudFront, with the custom resource run through its real handler by the emulator
(emulator.local_aws.custom_resources), on a bucket that already has another tool's queue and
topic notifications.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.local_aws.deployed import DeployedStack
from emulator.local_aws.distributions import OriginSpec, create_distribution
from emulator.local_aws.event_source import event_source_for
from emulator.local_aws.poller import BatchRecord, SqsEventSourcePoller
from emulator.local_aws.s3_notifications import read_notification_configuration
from emulator.local_aws.stack import delete_stack, deploy_stack
from tests.integration.site_contents import seed_unchanged_siblings

pytestmark = pytest.mark.slow

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
BUCKET = "team-existing-site"
WAIT_SECONDS = 60.0


@dataclass
class Attached:
    stack: DeployedStack
    cloudfront: FaithfulCloudFront
    site: str  # origin path /site
    preview: str  # bucket root, /blog/* on a second origin (origin path /blog-src)
    other_config: dict[str, Any]  # the other tool's notifications, before the stack existed
    logs: io.StringIO
    poller: SqsEventSourcePoller

    def drain(self) -> list[BatchRecord]:
        return self.poller.poll_until(
            lambda batches: bool(batches) and _depth(self.stack.outputs["QueueUrl"]) == 0,
            timeout_seconds=WAIT_SECONDS,
        )

    def paths(self, distribution_id: str) -> set[str]:
        return {
            path
            for call in self.cloudfront.calls
            if call.outcome == "created" and call.distribution_id == distribution_id
            for path in call.paths
        }


def _depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def notification_config() -> dict[str, Any]:
    return read_notification_configuration(boto3.client("s3"), BUCKET)


def _other_tools_notifications() -> dict[str, Any]:
    sqs, sns, s3 = boto3.client("sqs"), boto3.client("sns"), boto3.client("s3")
    queue_url = sqs.create_queue(QueueName="thumbnailer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = sns.create_topic(Name="backups")["TopicArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "thumbnails",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ],
            "TopicConfigurations": [
                {
                    "Id": "archives",
                    "TopicArn": topic_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".zip"}]}},
                }
            ],
        },
    )
    return notification_config()


UPLOADED = ("site/index.html", "site/a b+c:d.html", "blog-src/blog/café.html", "other.txt")


@pytest.fixture
def attached() -> Iterator[Attached]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        FaithfulCloudFront(clock=ManualClock(), completion_seconds=2.0) as cloudfront,
    ):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        # Before the stack switches EventBridge on: no event reaches its queue.
        seed_unchanged_siblings(BUCKET, UPLOADED)
        other = _other_tools_notifications()
        client = boto3.client("cloudfront")
        site = create_distribution(client, "site", bucket=BUCKET, origin_path="/site")
        preview = create_distribution(
            client,
            "preview",
            bucket=BUCKET,
            extra_origins=[OriginSpec("blog", f"{BUCKET}.s3.us-east-1.amazonaws.com", "/blog-src")],
            behaviours=[("/blog/*", "blog")],
        )
        stack = deploy_stack(
            TEMPLATE,
            {
                "CreateBucket": "false",
                "BucketName": BUCKET,
                "DistributionIds": f"{site},{preview}",
                "CollapseThreshold": 0,
            },
            stack_name="attached",
        )
        logs = io.StringIO()
        poller = event_source_for(stack, boto3.client("sqs"), log_sink=logs, time_scale=0.01)
        yield Attached(stack, cloudfront, site, preview, other, logs, poller)


def test_attaching_switches_on_eventbridge_and_keeps_the_other_notifications(
    attached: Attached,
) -> None:
    """Given a bucket with another tool's queue and topic notifications,
    When the stack is deployed with CreateBucket=false,
    Then EventBridge delivery is on, both other configurations are exactly as they were, the
    stack created no bucket, and the custom resource says it switched EventBridge on."""
    config = notification_config()
    assert config.pop("EventBridgeConfiguration") == {}
    assert config == attached.other_config
    assert attached.stack.of_type("AWS::S3::Bucket") == ()
    (switch,) = attached.stack.custom_resources
    assert switch.data["EventBridgeSwitchedOnByStack"] == "true"
    assert attached.stack.outputs["BucketName"] == BUCKET


def test_uploads_reach_the_batcher_through_eventbridge_on_both_distributions(
    attached: Attached,
) -> None:
    """Given two distributions with different origin paths (and a /blog/* behaviour on the
    second origin of one), when keys with hostile characters are uploaded, then they arrive
    through EventBridge and each distribution gets exactly the paths its viewers request."""
    s3 = boto3.client("s3")
    for key in UPLOADED:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")

    batches = attached.drain()

    assert all(b.outcome == "success" for b in batches), attached.logs.getvalue()
    bodies = [r["body"] for b in batches for r in b.event["Records"]]
    assert bodies
    assert all('"source": "aws.s3"' in body for body in bodies)
    assert attached.paths(attached.site) == {"/index.html", "/", "/a%20b+c:d.html"}
    assert attached.paths(attached.preview) == {
        "/site/index.html",
        "/site/",
        "/site",
        "/site/a%20b+c:d.html",
        "/blog-src/blog/caf%C3%A9.html",
        "/other.txt",
        "/blog/caf%C3%A9.html",
    }


def test_a_reupload_of_the_same_key_is_invalidated_again(attached: Attached) -> None:
    """Given a processed upload through EventBridge, when the same key is uploaded again, then a
    second invalidation is created (each event has its own identity)."""
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key="site/a.html", Body=b"1")
    attached.drain()
    s3.put_object(Bucket=BUCKET, Key="site/a.html", Body=b"2")
    attached.drain()

    created = [
        c
        for c in attached.cloudfront.calls
        if c.outcome == "created" and c.distribution_id == attached.site
    ]
    assert [c.paths for c in created] == [("/a.html",), ("/a.html",)]


def test_deleting_the_stack_switches_eventbridge_off_and_keeps_the_others(
    attached: Attached,
) -> None:
    """When the stack is deleted, then EventBridge delivery is off again and the other tool's
    notifications are still exactly as they were."""
    delete_stack(attached.stack)

    assert notification_config() == attached.other_config


def test_eventbridge_already_on_is_left_on_after_delete() -> None:
    """Given a bucket whose EventBridge delivery another tool switched on, when the stack is
    deployed and deleted, then EventBridge delivery stays on."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        site = create_distribution(boto3.client("cloudfront"), "site", bucket=BUCKET)
        stack = deploy_stack(
            TEMPLATE, {"CreateBucket": "false", "BucketName": BUCKET, "DistributionIds": site}
        )
        (switch,) = stack.custom_resources
        assert switch.data["EventBridgeSwitchedOnByStack"] == "false"
        delete_stack(stack)
        assert notification_config() == {"EventBridgeConfiguration": {}}
