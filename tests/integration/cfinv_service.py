"""The service deployed into moto for ``cfinv``'s tests: the real template, the local event source,
the real batcher, faithful CloudFront on a ManualClock, moto running the tracker, and SQS message
move tasks (emulator.local_aws.sqs_move_tasks).

Two distributions serve the created bucket: ``site`` at the bucket root, ``preview`` with origin
path /preview and /blog/* on a second origin at the root, so mapping differs between them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cfinv.cli import Runtime, main
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.local_aws.deployed import DeployedStack
from emulator.local_aws.distributions import OriginSpec, create_distribution
from emulator.local_aws.event_source import event_source_for
from emulator.local_aws.poller import SqsEventSourcePoller
from emulator.local_aws.sqs_move_tasks import message_move_tasks
from emulator.local_aws.stack import deploy_stack

REGION = "us-east-1"
BUCKET = "cfinv-site"
STACK = "cfinv-test"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
COMPLETION_SECONDS = 20.0  # CloudFront's (manual) seconds from InProgress to Completed
WAIT_SECONDS = 60.0  # a deadline for waiting *for* something, never a delay that must pass
DEPLOY = {
    "index.html": b"<h1>home</h1>",
    "about/index.html": b"<h1>about</h1>",
    "css/site.css": b"body{}",
    "blog/post.html": b"<h1>post</h1>",
}


@dataclass
class FakeTime:
    """cfinv's clock: ``sleep`` moves it, then runs ``on_sleep`` (the rest of the world)."""

    now: float = 0.0
    on_sleep: Callable[[float], None] = lambda seconds: None
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep(seconds)


@dataclass
class Service:
    stack: DeployedStack
    cloudfront: FaithfulCloudFront
    clock: ManualClock  # CloudFront's
    site: str  # the bucket root
    preview: str  # origin path /preview; /blog/* to a second origin, the bucket root
    poller: SqsEventSourcePoller
    logs: io.StringIO

    def upload(self, keys: Sequence[str]) -> None:
        s3 = boto3.client("s3")
        for key in keys:
            s3.put_object(Bucket=BUCKET, Key=key, Body=DEPLOY.get(key, b"again"))

    def drain(self) -> None:
        """Run the event source until the queue is empty (every record served or deferred)."""
        queue_url = self.stack.outputs["QueueUrl"]
        self.poller.poll_until(
            lambda batches: bool(batches) and depth(queue_url) == 0,
            timeout_seconds=WAIT_SECONDS,
        )

    def step(self, seconds: float) -> None:
        """What happens while cfinv sleeps: one delivery, and CloudFront's clock moves on."""
        self.poller.poll_batch()
        self.clock.advance(seconds)

    def complete_everything(self) -> None:
        self.clock.advance(COMPLETION_SECONDS)

    def run(
        self, args: Sequence[str], *, time_: FakeTime | None = None, stdin: str | None = None
    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        fake = time_ or FakeTime()
        runtime = Runtime(
            session=lambda region, profile: boto3.Session(region_name=REGION),
            clock=fake.clock,
            sleep=fake.sleep,
            terminal=False,
            stdout=out,
            stderr=err,
        )
        if stdin is not None:
            monkey = pytest.MonkeyPatch()
            monkey.setattr("sys.stdin", io.StringIO(stdin))
            try:
                code = main(args, runtime)
            finally:
                monkey.undo()
        else:
            code = main(args, runtime)
        return code, out.getvalue(), err.getvalue()


def depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@contextmanager
def deployed_service(*, invalidate_deletes: bool = True) -> Iterator[Service]:
    clock = ManualClock()
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        FaithfulCloudFront(clock=clock, completion_seconds=COMPLETION_SECONDS) as cloudfront,
        message_move_tasks(),
    ):
        client = boto3.client("cloudfront")
        site = create_distribution(client, "site", bucket=BUCKET)
        preview = create_distribution(
            client,
            "preview",
            bucket=BUCKET,
            origin_path="/preview",
            extra_origins=[OriginSpec("blog", f"{BUCKET}.s3.us-east-1.amazonaws.com", "")],
            behaviours=[("/blog/*", "blog")],
        )
        stack = deploy_stack(
            TEMPLATE,
            {
                "DistributionIds": f"{site},{preview}",
                "BucketName": BUCKET,
                "InvalidateDeletes": str(invalidate_deletes).lower(),
                "PollIntervalSeconds": 2,
                "DeferDelaySeconds": 1,
            },
            stack_name=STACK,
        )
        logs = io.StringIO()
        poller = event_source_for(stack, boto3.client("sqs"), log_sink=logs, time_scale=0.01)
        service = Service(stack, cloudfront, clock, site, preview, poller, logs)
        service.drain()  # the s3:TestEvent S3 sends when the stack writes the notifications
        yield service
