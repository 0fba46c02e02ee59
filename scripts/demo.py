"""``make demo``: the whole pipeline on an in-process AWS emulator, with a timeline.

No AWS account and no network: fake credentials are set in-process and every AWS call is served
by moto. The real ``template.yaml`` is deployed (emulator.local_aws.stack), CloudFront behaves as
AWS documents (emulator.local_aws.cloudfront: InProgress, then Completed), the SQS event source
is emulated by emulator.local_aws.poller, and the real batcher handler and tracker state machine
run unchanged.

Run from the repository root: ``python -m scripts.demo [--help]``.

One piece, though over 400 lines: it is a script read top to bottom, each function one step of
the timeline it prints, in the order the demo shows them.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.demo_options import Options, parse_options

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

    from emulator.local_aws.cloudfront import FaithfulCloudFront
    from emulator.local_aws.deployed import DeployedStack
    from emulator.local_aws.poller import BatchRecord

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
BUCKET = "cfinv-demo-site"
STACK_NAME = "cfinv-demo"

SAMPLE_SITE: dict[str, tuple[bytes, str]] = {
    "index.html": (b"<!doctype html><title>Home</title><h1>Home</h1>", "text/html"),
    "about/index.html": (b"<!doctype html><title>About</title>", "text/html"),
    "docs/guide/index.html": (b"<!doctype html><title>Guide</title>", "text/html"),
    "docs/guide/getting-started.html": (b"<!doctype html><title>Start</title>", "text/html"),
    "css/site.css": (b"body { font-family: sans-serif; }\n", "text/css"),
    "docs/red flower.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 (a tiny placeholder)", "image/jpeg"),
    "blog/café-crème.html": ("<!doctype html><title>Café crème</title>".encode(), "text/html"),
}


class DemoError(RuntimeError):
    """A step failed or timed out; the message says which and why."""


# ------------------------------------------------------------------------------------ output
@dataclass
class Timeline:
    """Prints steps with their time relative to the start of the demo.

    ``at`` places a step at an earlier moment: a datetime (Step Functions history) or a
    time.monotonic() reading (the event source's batch records).
    """

    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_monotonic: float = field(default_factory=time.monotonic)

    def say(self, text: str, *, at: datetime | float | None = None) -> None:
        if at is None:
            seconds = time.monotonic() - self.started_monotonic
        elif isinstance(at, datetime):
            seconds = (at - self.started).total_seconds()
        else:
            seconds = at - self.started_monotonic
        lines = text.splitlines() or [""]
        print(f"[{seconds:7.2f}s] {lines[0]}")
        for line in lines[1:]:
            print(f"{'':11}{line}")
        sys.stdout.flush()

    def block(self, text: str) -> None:
        for line in text.splitlines():
            print(f"{'':11}{line}")


def wait_for[T](what: str, check: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """Call ``check`` until it returns something other than None; DemoError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# ------------------------------------------------------------------------------------- setup
def use_fake_aws_credentials() -> None:
    """This process never talks to a real account: fake credentials, fixed region, no profile."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105 - a fake, for moto
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION


def create_distribution(cloudfront: Any) -> str:
    from emulator.local_aws.distributions import create_distribution as create

    return create(
        cloudfront,
        "cfinv-demo",
        bucket=BUCKET,
        comment="demo distribution for the S3 origin",
        default_root_object="index.html",
    )


def deploy(distribution_id: str, options: Options) -> DeployedStack:
    from emulator.local_aws.deployed import StackDeployError
    from emulator.local_aws.stack import deploy_stack

    parameters = options.deploy_parameters(
        {"DistributionIds": distribution_id, "BucketName": BUCKET, "IndexDocument": "index.html"}
    )
    try:
        return deploy_stack(TEMPLATE, parameters, stack_name=STACK_NAME)
    except StackDeployError as exc:
        raise DemoError(f"deploying template.yaml failed: {exc}") from exc


def describe_stack(stack: DeployedStack, options: Options) -> str:
    by_type: dict[str, list[str]] = {}
    for resource in stack.resources.values():
        by_type.setdefault(resource.resource_type, []).append(resource.logical_id)
    lines = [
        f"stack {stack.stack_name} deployed from template.yaml: {len(stack.resources)} resources"
    ]
    lines += [f"  {kind:34} {', '.join(sorted(names))}" for kind, names in sorted(by_type.items())]
    if stack.not_emulated:
        skipped = ", ".join(f"{r.logical_id} ({r.resource_type})" for r in stack.not_emulated)
        lines.append(f"  not emulated: {skipped}")
    source = stack.event_source
    window = source.maximum_batching_window_seconds
    lines.append(
        f"  event source: BatchSize {source.batch_size}, MaximumBatchingWindowInSeconds {window}"
        f" (x{options.time_scale:g}: {window * options.time_scale:g} s here),"
        f" {', '.join(source.function_response_types)},"
        f" MaximumConcurrency {source.maximum_concurrency}"
    )
    planner = (
        "MonthlyPathBudget",
        "UnchangedObjectsPerSavedPath",
        "CountBucketObjects",
        "CollapseThreshold",
        "BroadestWildcardDepth",
        "DeferDelaySeconds",
        "MaxReceiveCount",
    )
    lines.append("  planner: " + ", ".join(f"{name} {stack.parameters[name]}" for name in planner))
    lines.append(f"  tracker: PollIntervalSeconds {stack.parameters['PollIntervalSeconds']}")
    return "\n".join(lines)


def subscribe_inbox(stack: DeployedStack, sqs: SQSClient, sns: Any) -> str:
    """An SQS queue subscribed to the notification topic, as a subscriber would do."""
    inbox_url = sqs.create_queue(QueueName="cfinv-demo-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=stack.outputs["TopicArn"], Protocol="sqs", Endpoint=inbox_arn)
    return inbox_url


def upload_site(
    s3: Any, bucket: str, parameters: Mapping[str, str], timeline: Timeline
) -> list[str]:
    """The sample site, under KeyPrefix (so that the stack watches it)."""
    prefix = parameters.get("KeyPrefix", "")
    keys = []
    for key, (body, content_type) in SAMPLE_SITE.items():
        s3.put_object(Bucket=bucket, Key=prefix + key, Body=body, ContentType=content_type)
        timeline.say(f"uploaded s3://{bucket}/{prefix}{key}")
        keys.append(prefix + key)
    return keys


# ----------------------------------------------------------------------------- event source
def run_event_source(
    stack: DeployedStack, sqs: SQSClient, options: Options, log_sink: io.StringIO
) -> list[BatchRecord]:
    from emulator.local_aws.event_source import event_source_for

    poller = event_source_for(stack, sqs, log_sink=log_sink, time_scale=options.time_scale)

    def drained_or_failed(batches: Sequence[BatchRecord]) -> bool:
        if batches and batches[-1].outcome != "success":
            return True  # reported by report_batch; failed records would only wait for redelivery
        return bool(batches) and _queue_depth(sqs, stack.outputs["QueueUrl"]) == 0

    try:
        return poller.poll_until(drained_or_failed, timeout_seconds=options.timeout_seconds)
    except TimeoutError as exc:
        raise DemoError(f"the queue was not drained: {exc}") from exc


def _queue_depth(sqs: SQSClient, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    visible = int(attributes.get("ApproximateNumberOfMessages", "0"))
    return visible + int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0"))


def report_batch(batch: BatchRecord, options: Options, timeline: Timeline) -> None:
    records = batch.event["Records"]
    test_events = [r for r in records if '"s3:TestEvent"' in r["body"]]
    keys = [k for r in records for k in _record_keys(r["body"])]
    emulated = batch.gathered_seconds / options.time_scale if options.time_scale else 0.0
    timeline.say(
        f"batch {batch.number} formed: {batch.size} records ({len(keys)} object events,"
        f" {len(test_events)} s3:TestEvent), closed by {batch.closed_by} after"
        f" {batch.gathered_seconds:.2f} s ({emulated:.0f} s at x{options.time_scale:g});"
        " invoking the batcher",
        at=batch.invoked_at,
    )


def report_batch_result(batch: BatchRecord, timeline: Timeline) -> None:
    records = batch.event["Records"]
    test_events = [r for r in records if '"s3:TestEvent"' in r["body"]]
    for record in test_events:
        acknowledged = (
            "acknowledged (deleted)" if record["messageId"] in batch.deleted else "NOT deleted"
        )
        timeline.say(
            f"s3:TestEvent {record['messageId'][:8]}... {acknowledged}", at=batch.finished_at
        )
    if batch.outcome != "success":
        raise DemoError(
            f"batch {batch.number} {batch.outcome}: error={batch.error},"
            f" response={batch.response}, left for redelivery={list(batch.left_for_redelivery)}"
        )
    timeline.say(
        f"batcher returned {json.dumps(batch.response)}: {len(batch.deleted)} deleted,"
        f" {len(batch.left_for_redelivery)} left for redelivery",
        at=batch.finished_at,
    )


def _record_keys(body: str) -> list[str]:
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return []
    if isinstance(document, dict) and document.get("source") == "aws.s3":  # through EventBridge
        return [str(document.get("detail", {}).get("object", {}).get("key", ""))]
    records = document.get("Records", []) if isinstance(document, dict) else []
    return [r["s3"]["object"]["key"] for r in records if isinstance(r, dict) and "s3" in r]


# ---------------------------------------------------------------------------------- tracking
def raise_for_batcher_failure(batches: Sequence[BatchRecord], logs: io.StringIO) -> None:
    """The first invocation that failed, with Lambda's error and the batcher's own words."""
    for batch in batches:
        if batch.outcome == "error":
            raise DemoError(
                f"the batcher failed on batch {batch.number}: {batch.error}"
                + _logged_problems(logs)
            )


def _logged_problems(logs: io.StringIO) -> str:
    """The batcher's ERROR and WARNING lines, one per line: what went wrong, in its words."""
    problems = []
    for line in logs.getvalue().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("level") not in ("ERROR", "WARNING"):
            continue
        detail = ": ".join(str(entry[k]) for k in ("error", "cause") if entry.get(k))
        problems.append(
            f"  {entry['level']} {entry.get('message')}" + (f" ({detail})" if detail else "")
        )
    if not problems:
        return ""
    shown = list(dict.fromkeys(problems))  # each distinct line once
    return "\nthe batcher logged:\n" + "\n".join(shown[:20])


def report_invalidations(
    cloudfront_fake: FaithfulCloudFront,
    cloudfront: Any,
    timeline: Timeline,
    uploaded: Sequence[str],
    logs: io.StringIO,
) -> list[tuple[str, str]]:
    created = [c for c in cloudfront_fake.calls if c.outcome == "created"]
    if not created:
        raise DemoError("the batcher created no invalidation" + _logged_problems(logs))
    result: list[tuple[str, str]] = []
    for call in created:
        assert call.invalidation_id is not None
        invalidation = cloudfront.get_invalidation(
            DistributionId=call.distribution_id, Id=call.invalidation_id
        )["Invalidation"]
        paths = invalidation["InvalidationBatch"]["Paths"].get("Items", [])
        planned = (
            f"{len(uploaded)} uploads into a bucket that holds nothing else: a wildcard over"
            " them invalidates no unchanged object, so the planner prefers it to exact paths;"
            " in a bucket with other objects it keeps exact paths while the month's free ones"
            " last (`cfinv plan` shows why)"
        )
        timeline.say(
            f"CreateInvalidation on {call.distribution_id}: {invalidation['Id']}"
            f" ({invalidation['Status']}), {len(paths)} paths:\n"
            + "\n".join(f"  {p}" for p in paths)
            + f"\n  ({planned})",
            at=call.at,  # the fake's clock is time.monotonic
        )
        result.append((call.distribution_id, call.invalidation_id))
    return result


def follow_tracker(sfn: SFNClient, execution_arn: str, timeline: Timeline, timeout: float) -> None:
    """Print each GetInvalidation poll of the execution as it happens, until it finishes."""
    seen = 0

    def finished() -> str | None:
        nonlocal seen
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events[seen:]:
            _report_history_event(event, timeline)
        seen = len(events)
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        return None if status == "RUNNING" else status

    status = wait_for(f"tracker {execution_arn.rsplit(':', 1)[-1]}", finished, timeout, 0.25)
    finished()  # the last events
    if status != "SUCCEEDED":
        raise DemoError(f"tracker execution ended {status}")


def _report_history_event(event: Any, timeline: Timeline) -> None:
    kind = event["type"]
    if kind == "ExecutionStarted":
        timeline.say("tracker execution started", at=event["timestamp"])
    elif kind == "TaskSucceeded" and event["taskSucceededEventDetails"]["resource"] == (
        "getInvalidation"
    ):
        output = json.loads(event["taskSucceededEventDetails"].get("output", "{}"))
        status = output.get("Invalidation", {}).get("Status", "?")
        timeline.say(f"tracker poll: GetInvalidation -> Status {status}", at=event["timestamp"])
    elif kind == "TaskSucceeded" and event["taskSucceededEventDetails"]["resource"] == "publish":
        timeline.say("tracker published the notification (sns:publish)", at=event["timestamp"])
    elif kind == "TaskSucceeded" and event["taskSucceededEventDetails"]["resource"] == (
        "putMetricData"
    ):
        timeline.say(
            "tracker put InvalidationCompletionTime (cloudwatch:putMetricData)",
            at=event["timestamp"],
        )
    elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut"):
        timeline.say(f"tracker {kind.removeprefix('Execution').lower()}", at=event["timestamp"])


def tracker_executions(sfn: SFNClient, state_machine_arn: str, expected: int) -> list[str]:
    def started() -> list[str] | None:
        executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
        return [e["executionArn"] for e in executions] if len(executions) >= expected else None

    return wait_for("the tracker executions to start", started, 10.0)


def receive_notifications(
    sqs: SQSClient, inbox_url: str, expected: int, timeout: float
) -> list[Any]:
    received: list[Any] = []

    def enough() -> list[Any] | None:
        response = sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10)
        for message in response.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=message["ReceiptHandle"])
        return received if len(received) >= expected else None

    return wait_for("the SNS notification", enough, timeout)


def report_notification(envelope: Any, uploaded: Sequence[str], timeline: Timeline) -> None:
    message = json.loads(envelope["Message"])
    attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
    timeline.say(f"SNS notification received, attributes {json.dumps(attributes)}:")
    timeline.block(json.dumps(message, indent=2, ensure_ascii=False))
    if message.get("status") != "COMPLETED":
        raise DemoError(f"the invalidation did not complete: {message.get('status')}")
    if sorted(message.get("sourceKeys", [])) != sorted(uploaded):
        raise DemoError(f"sourceKeys {message.get('sourceKeys')} != uploaded keys {list(uploaded)}")


# -------------------------------------------------------------------------------------- main
@contextmanager
def emulated_aws(options: Options) -> Iterator[FaithfulCloudFront]:
    from moto import mock_aws

    from emulator.local_aws.cloudfront import FaithfulCloudFront

    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        FaithfulCloudFront(completion_seconds=options.completion_seconds) as cloudfront,
    ):
        yield cloudfront


def run(options: Options) -> None:
    import boto3

    timeline = Timeline()
    with emulated_aws(options) as cloudfront_fake:
        cloudfront, s3 = boto3.client("cloudfront"), boto3.client("s3")
        sqs, sns, sfn = boto3.client("sqs"), boto3.client("sns"), boto3.client("stepfunctions")
        distribution_id = create_distribution(cloudfront)
        timeline.say(f"CloudFront distribution {distribution_id} created for s3://{BUCKET}")
        stack = deploy(distribution_id, options)
        timeline.say(describe_stack(stack, options))
        inbox_url = subscribe_inbox(stack, sqs, sns)
        timeline.say("SQS inbox subscribed to the notification topic")

        from scripts.demo_ci import ci_wait, since_now

        since = since_now()
        uploaded = upload_site(s3, stack.outputs["BucketName"], stack.parameters, timeline)
        with ci_wait(stack.stack_name, since, timeline) as ci:
            logs = io.StringIO()
            batches = run_event_source(stack, sqs, options, logs)
            for batch in batches:
                report_batch(batch, options, timeline)
            raise_for_batcher_failure(batches, logs)
            # CreateInvalidation happens inside the batcher's invocation, so it is shown before
            # the invocation's result to keep the timeline in time order.
            invalidations = report_invalidations(
                cloudfront_fake, cloudfront, timeline, uploaded, logs
            )
            for batch in batches:
                report_batch_result(batch, timeline)
            show_logs(logs, options, timeline)

            arn = stack.outputs["StateMachineArn"]
            for execution_arn in tracker_executions(sfn, arn, len(invalidations)):
                follow_tracker(sfn, execution_arn, timeline, options.timeout_seconds)
            for envelope in receive_notifications(sqs, inbox_url, len(invalidations), 10.0):
                report_notification(envelope, uploaded, timeline)
            ci.finish(timeline, options.timeout_seconds)
    timeline.say(
        "done: every upload was invalidated, the invalidation reported COMPLETED, and cfinv"
        " wait saw every key covered"
    )


def show_logs(logs: io.StringIO, options: Options, timeline: Timeline) -> None:
    lines = logs.getvalue().splitlines()
    if options.verbose:
        timeline.say(f"batcher output ({len(lines)} lines):")
        timeline.block("\n".join(lines))
    else:
        timeline.say(f"(the batcher wrote {len(lines)} structured log lines; --verbose shows them)")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    use_fake_aws_credentials()
    started = time.monotonic()
    try:
        if options.mode == "existing":
            from scripts.demo_existing import run_existing

            run_existing(options)
        else:
            run(options)
    except DemoError as exc:
        print(f"\ndemo FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"\ndemo finished in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
