"""The custom resource handler (functions/bucket_events/app.py) end to end: boto3 against moto,
and every answer PUT to a real HTTP server on 127.0.0.1 that records it.

The bucket already has two notification configurations of another tool: a queue (prefix filter)
and a topic (suffix filter), both real in moto with policies admitting S3. moto 5.2 stores
``EventBridgeConfiguration`` but leaves it out of GetBucketNotificationConfiguration, which AWS
returns; the emulator's ``faithful_bucket_notifications`` puts it back, so the handler reads what
AWS would answer. Time is a ManualClock shared by the Lambda context and the retries' sleep: no
test waits on, or depends on, the speed of the machine (the timeout guard's test waits for
events, with a generous bound).
"""

from __future__ import annotations

import importlib.util
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import NotificationConfigurationTypeDef

from cfinvalidator.adapters.s3 import Boto3BucketNotificationsApi
from cfinvalidator.bucket_notifications import EVENTBRIDGE_KEY, Ownership, ResourceId
from cfinvalidator.custom_resource import TIMEOUT_GUARD_SECONDS
from cfinvalidator.eventbridge_switch import DEFAULT_BACKOFF, Dependencies
from cfinvalidator.ports import NotificationDocument
from cfinvalidator.retry import Backoff
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.lambda_context import FakeLambdaContext
from emulator.local_aws.response_server import (
    RESPONSE_PATH,
    SIGNED_QUERY,
    RecordedRequest,
    ResponseServer,
    running_response_server,
)
from emulator.local_aws.s3_notifications import faithful_bucket_notifications
from tests.factories import load_event

HANDLER_PATH = Path(__file__).resolve().parents[2] / "functions" / "bucket_events" / "app.py"
REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account
BUCKET = "my-site-origin-example"  # the sample event's
OTHER_BUCKET = "another-origin-example"
SWITCHED_ON = str(ResourceId(BUCKET, Ownership.SWITCHED_ON))
ALREADY_ON = str(ResourceId(BUCKET, Ownership.ALREADY_ON))
OTHER_KEYS = ("QueueConfigurations", "TopicConfigurations")


def load_handler() -> ModuleType:
    """functions/bucket_events/app.py under its own name (the batcher's app.py is ``app``)."""
    spec = importlib.util.spec_from_file_location("bucket_events_app", HANDLER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Stack:
    s3: S3Client  # the handler's client (hooks registered on it reach the handler only)
    notifications: Boto3BucketNotificationsApi
    server: ResponseServer
    clock: ManualClock
    handler: ModuleType
    original: dict[str, Any]

    def another_tool_writes(self, document: dict[str, Any]) -> None:
        self.notifications.write(BUCKET, document)

    def configuration(self, bucket: str = BUCKET) -> dict[str, Any]:
        return dict(self.notifications.read(bucket))

    def event(
        self,
        request_type: str,
        *,
        physical_id: str | None = None,
        bucket: str = BUCKET,
        old_bucket: str | None = None,
    ) -> dict[str, Any]:
        event = load_event("cfn-bucket-eventbridge-create.json")
        event.update(RequestType=request_type, RequestId=str(uuid.uuid4()))
        event["ResponseURL"] = self.server.url
        event["ResourceProperties"]["BucketName"] = bucket
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_bucket is not None:
            event["OldResourceProperties"] = {
                **event["ResourceProperties"],
                "BucketName": old_bucket,
            }
        return event

    def context(self, timeout_seconds: float = 60) -> FakeLambdaContext:
        return FakeLambdaContext(
            function_name="cloudfront-invalidator-BucketEvents",
            invoked_function_arn=(
                "arn:aws:lambda:us-east-1:123456789012:function:cloudfront-invalidator-BucketEvents"
            ),
            memory_limit_in_mb=256,
            timeout_seconds=timeout_seconds,
            clock=self.clock,
        )

    def invoke(
        self, event: dict[str, Any], context: FakeLambdaContext | None = None
    ) -> dict[str, Any]:
        """Run the handler; exactly one answer must arrive. Returns its JSON body."""
        before = len(self.server.requests)
        assert self.handler.lambda_handler(event, context or self.context()) is None
        answers = self.server.requests[before:]
        assert len(answers) == 1, f"{len(answers)} answers to one request"
        _assert_wire_format(answers[0], event)
        return answers[0].json()


def _assert_wire_format(answer: RecordedRequest, event: dict[str, Any]) -> None:
    """What CloudFormation's pre-signed URL expects: a PUT of JSON to the URL as given, with an
    empty content-type and the body's length."""
    assert answer.method == "PUT"
    assert answer.path == RESPONSE_PATH + SIGNED_QUERY
    assert answer.header("content-type") == ""
    assert answer.header("content-length") == str(len(answer.body))
    body = answer.json()
    assert body["Status"] in {"SUCCESS", "FAILED"}
    assert body["PhysicalResourceId"]
    for name in ("StackId", "RequestId", "LogicalResourceId"):
        assert body[name] == event[name]
    assert len(answer.body) <= 4096


def _queue_with_policy(sqs: Any, bucket: str) -> str:
    url = sqs.create_queue(QueueName="other-tool-uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = _policy("sqs:SendMessage", arn, bucket)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return str(arn)


def _topic_with_policy(sns: Any, bucket: str) -> str:
    arn = sns.create_topic(Name="other-tool-pages")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=_policy("sns:Publish", arn, bucket)
    )
    return str(arn)


def _policy(action: str, resource: str, bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": action,
                    "Resource": resource,
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                        "StringEquals": {"aws:SourceAccount": DEFAULT_ACCOUNT_ID},
                    },
                }
            ],
        }
    )


def _other_tools_configuration(queue_arn: str, topic_arn: str) -> NotificationConfigurationTypeDef:
    # moto accepts only lower-case filter rule names (AWS accepts both).
    return {
        "QueueConfigurations": [
            {
                "Id": "other-tool-uploads",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
            }
        ],
        "TopicConfigurations": [
            {
                "Id": "other-tool-pages",
                "TopicArn": topic_arn,
                "Events": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".html"}]}},
            }
        ],
    }


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws(), faithful_bucket_notifications(), running_response_server() as server:
        setup = boto3.client("s3", region_name=REGION)
        for name in (BUCKET, OTHER_BUCKET):
            setup.create_bucket(Bucket=name)
        queue_arn = _queue_with_policy(boto3.client("sqs", region_name=REGION), BUCKET)
        topic_arn = _topic_with_policy(boto3.client("sns", region_name=REGION), BUCKET)
        setup.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration=_other_tools_configuration(queue_arn, topic_arn),
        )
        handler = load_handler()
        s3 = boto3.client("s3", region_name=REGION, config=handler.S3_CONFIG)
        notifications = Boto3BucketNotificationsApi(s3)
        clock = ManualClock()
        dependencies = Dependencies(notifications, clock.sleep, random.Random(11))
        monkeypatch.setattr(handler, "_dependencies", lambda: dependencies)
        original = dict(notifications.read(BUCKET))
        assert set(original) == set(OTHER_KEYS)
        yield Stack(s3, notifications, server, clock, handler, original)


def _same_bytes(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The other tool's entries, serialised, are identical: ids, events, filters, order."""
    for key in OTHER_KEYS:
        assert json.dumps(after[key]) == json.dumps(before[key]), key


def _on_put(stack: Stack, respond: Callable[[int], tuple[int, str] | None]) -> list[int]:
    """Answer the handler's PutBucketNotificationConfiguration calls with an S3 error when
    ``respond(call_number)`` returns (status, code); None lets the call through to moto."""
    calls: list[int] = []

    def before_call(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls.append(len(calls) + 1)
        error = respond(len(calls))
        if error is None:
            return None
        status, code = error
        parsed = {
            "Error": {"Code": code, "Message": f"{code} (injected by the test)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://s3.amazonaws.com", status, HTTPHeaders(), None), parsed

    # botocore short-circuits a call whose before-call handler returns (response, parsed);
    # its stubs type handlers as returning None.
    handler: Any = before_call
    stack.s3.meta.events.register("before-call.s3.PutBucketNotificationConfiguration", handler)
    return calls


# ---------------------------------------------------------------------------------- Create
def test_create_switches_eventbridge_on_and_leaves_the_others_byte_for_byte(stack: Stack) -> None:
    answer = stack.invoke(stack.event("Create"))
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == SWITCHED_ON
    assert answer["Data"] == {"BucketName": BUCKET, "EventBridgeSwitchedOnByStack": "true"}
    after = stack.configuration()
    assert after[EVENTBRIDGE_KEY] == {}
    _same_bytes(stack.original, after)


def test_the_sample_event_is_answered_as_it_is(stack: Stack) -> None:
    """Given the sample Create request unchanged but for its ResponseURL, it succeeds."""
    event = load_event("cfn-bucket-eventbridge-create.json")
    event["ResponseURL"] = stack.server.url
    assert stack.invoke(event)["PhysicalResourceId"] == SWITCHED_ON


def test_create_when_already_on_changes_nothing_and_delete_leaves_it_on(stack: Stack) -> None:
    already_on = {**stack.original, EVENTBRIDGE_KEY: {}}
    stack.another_tool_writes(already_on)
    created = stack.invoke(stack.event("Create"))
    assert (created["PhysicalResourceId"], created["Data"]["EventBridgeSwitchedOnByStack"]) == (
        ALREADY_ON,
        "false",
    )
    deleted = stack.invoke(stack.event("Delete", physical_id=ALREADY_ON))
    assert (deleted["Status"], deleted["PhysicalResourceId"]) == ("SUCCESS", ALREADY_ON)
    assert stack.configuration() == already_on


def test_create_on_a_missing_bucket_fails_and_the_delete_that_follows_is_harmless(
    stack: Stack,
) -> None:
    failed = stack.invoke(stack.event("Create", bucket="no-such-bucket-example"))
    assert failed["Status"] == "FAILED"
    assert "NoSuchBucket" in failed["Reason"]
    assert "no-such-bucket-example" in failed["Reason"]
    # CloudFormation then sends Delete with the physical id of the FAILED answer.
    assert failed["PhysicalResourceId"] == "no-such-bucket-example#eventbridge-not-switched-on"
    deleted = stack.invoke(stack.event("Delete", physical_id=failed["PhysicalResourceId"]))
    assert deleted["Status"] == "SUCCESS"


# ---------------------------------------------------------------------------------- Update
def test_update_of_the_same_bucket_keeps_the_ownership(stack: Stack) -> None:
    stack.invoke(stack.event("Create"))
    updated = stack.invoke(stack.event("Update", physical_id=SWITCHED_ON, old_bucket=BUCKET))
    assert (updated["Status"], updated["PhysicalResourceId"]) == ("SUCCESS", SWITCHED_ON)
    assert stack.configuration()[EVENTBRIDGE_KEY] == {}


def test_update_after_eventbridge_was_switched_off_meanwhile_takes_ownership(
    stack: Stack,
) -> None:
    stack.another_tool_writes({**stack.original, EVENTBRIDGE_KEY: {}})
    assert stack.invoke(stack.event("Create"))["PhysicalResourceId"] == ALREADY_ON
    stack.another_tool_writes(stack.original)  # someone switched it off
    updated = stack.invoke(stack.event("Update", physical_id=ALREADY_ON, old_bucket=BUCKET))
    assert updated["PhysicalResourceId"] == SWITCHED_ON  # a new id: CloudFormation then deletes
    deleted_old = stack.invoke(stack.event("Delete", physical_id=ALREADY_ON))
    assert deleted_old["Status"] == "SUCCESS"
    after = stack.configuration()
    assert after[EVENTBRIDGE_KEY] == {}
    _same_bytes(stack.original, after)


def test_update_to_another_bucket_then_the_delete_of_the_old_id(stack: Stack) -> None:
    stack.invoke(stack.event("Create"))
    updated = stack.invoke(
        stack.event("Update", physical_id=SWITCHED_ON, bucket=OTHER_BUCKET, old_bucket=BUCKET)
    )
    new_id = str(ResourceId(OTHER_BUCKET, Ownership.SWITCHED_ON))
    assert updated["PhysicalResourceId"] == new_id
    assert updated["Data"] == {"BucketName": OTHER_BUCKET, "EventBridgeSwitchedOnByStack": "true"}
    assert stack.configuration(OTHER_BUCKET) == {EVENTBRIDGE_KEY: {}}
    # The physical id changed, so CloudFormation deletes the old one after the update.
    assert stack.invoke(stack.event("Delete", physical_id=SWITCHED_ON))["Status"] == "SUCCESS"
    assert stack.configuration() == stack.original
    assert stack.configuration(OTHER_BUCKET) == {EVENTBRIDGE_KEY: {}}


# ---------------------------------------------------------------------------------- Delete
def test_delete_after_create_switches_off_and_keeps_the_others(stack: Stack) -> None:
    stack.invoke(stack.event("Create"))
    deleted = stack.invoke(stack.event("Delete", physical_id=SWITCHED_ON))
    assert (deleted["Status"], deleted["PhysicalResourceId"]) == ("SUCCESS", SWITCHED_ON)
    after = stack.configuration()
    assert EVENTBRIDGE_KEY not in after
    assert after == stack.original
    _same_bytes(stack.original, after)


@pytest.mark.parametrize(
    "physical_id",
    [
        "cloudfront-invalidator-SiteBucketEventBridge-1X2Y3Z4A5B6C",  # invented by CloudFormation
        f"{BUCKET}#eventbridge-not-switched-on",
        f"{BUCKET}#something-else",
        "#",
    ],
)
def test_delete_of_an_id_this_stack_did_not_switch_on_touches_nothing(
    stack: Stack, physical_id: str
) -> None:
    stack.another_tool_writes({**stack.original, EVENTBRIDGE_KEY: {}})
    puts = _on_put(stack, lambda call: None)
    deleted = stack.invoke(stack.event("Delete", physical_id=physical_id))
    assert (deleted["Status"], deleted["PhysicalResourceId"]) == ("SUCCESS", physical_id)
    assert puts == []
    assert stack.configuration()[EVENTBRIDGE_KEY] == {}


def test_delete_when_the_bucket_no_longer_exists_succeeds(stack: Stack) -> None:
    gone = str(ResourceId("deleted-bucket-example", Ownership.SWITCHED_ON))
    deleted = stack.invoke(stack.event("Delete", physical_id=gone))
    assert (deleted["Status"], deleted["PhysicalResourceId"]) == ("SUCCESS", gone)


def test_repeated_requests_leave_the_same_configuration(stack: Stack) -> None:
    """Given CloudFormation delivering the same request twice, the bucket ends as after one.
    (A repeated Create finds EventBridge on and answers "already on"; CloudFormation keeps the
    first answer for a request it has already received.)"""
    create = stack.event("Create")
    assert stack.invoke(create)["PhysicalResourceId"] == SWITCHED_ON
    switched_on = stack.configuration()
    assert stack.invoke(create)["Status"] == "SUCCESS"
    assert stack.configuration() == switched_on
    delete = stack.event("Delete", physical_id=SWITCHED_ON)
    assert stack.invoke(delete)["Status"] == "SUCCESS"
    assert stack.invoke(delete)["Status"] == "SUCCESS"
    assert stack.configuration() == stack.original


# ------------------------------------------------------------------------- crashes mid-way
def test_a_put_refused_for_good_answers_failed_and_changes_nothing(stack: Stack) -> None:
    puts = _on_put(stack, lambda call: (403, "AccessDenied"))
    failed = stack.invoke(stack.event("Create"))
    assert failed["Status"] == "FAILED"
    assert failed["Reason"].startswith(
        f"PutBucketNotificationConfiguration on bucket '{BUCKET}': AccessDenied"
    )
    assert "s3:PutBucketNotification" in failed["Reason"]
    assert "CloudWatch log stream 20" in failed["Reason"]
    assert failed["PhysicalResourceId"] == f"{BUCKET}#eventbridge-not-switched-on"
    assert puts == [1]  # not retried
    assert stack.clock() == 0  # never slept
    assert stack.configuration() == stack.original


def test_an_unexpected_exception_answers_failed_and_changes_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(bucket: str, document: NotificationDocument) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(stack.notifications, "write", explode)
    failed = stack.invoke(stack.event("Update", physical_id=SWITCHED_ON, old_bucket=BUCKET))
    assert failed["Status"] == "FAILED"
    assert failed["Reason"].startswith("unexpected RuntimeError: disk on fire")
    assert failed["PhysicalResourceId"] == SWITCHED_ON  # an Update keeps the incoming id
    assert stack.configuration() == stack.original


def test_a_malformed_request_answers_failed(stack: Stack) -> None:
    event = stack.event("Create")
    del event["ResourceProperties"]["BucketName"]
    failed = stack.invoke(event)
    assert failed["Status"] == "FAILED"
    assert "ResourceProperties.BucketName must name an S3 bucket" in failed["Reason"]
    assert failed["PhysicalResourceId"] == "SiteBucketEventBridge#eventbridge-not-switched-on"
    assert stack.configuration() == stack.original


def test_a_failure_to_build_the_client_is_answered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Dependencies:
        raise KeyError("AWS_REGION")

    monkeypatch.setattr(stack.handler, "_dependencies", broken)
    failed = stack.invoke(stack.event("Create"))
    assert failed["Status"] == "FAILED"
    assert failed["Reason"].startswith("unexpected KeyError: 'AWS_REGION'")


# ------------------------------------------------------------------------------ throttling
def test_throttling_is_retried_until_it_succeeds(stack: Stack) -> None:
    puts = _on_put(stack, lambda call: (503, "SlowDown") if call <= 2 else None)
    answer = stack.invoke(stack.event("Create"))
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", SWITCHED_ON)
    assert puts == [1, 2, 3]
    slept = stack.clock()
    assert 0 < slept <= DEFAULT_BACKOFF.base_seconds * (1 + 2)  # two jittered waits
    after = stack.configuration()
    assert after[EVENTBRIDGE_KEY] == {}
    _same_bytes(stack.original, after)


def test_throttling_that_never_ends_fails_within_the_time(stack: Stack) -> None:
    puts = _on_put(stack, lambda call: (503, "SlowDown"))
    failed = stack.invoke(stack.event("Create"))
    assert failed["Status"] == "FAILED"
    assert "SlowDown" in failed["Reason"]
    assert "gave up after" in failed["Reason"]
    assert len(puts) <= DEFAULT_BACKOFF.max_attempts
    assert stack.clock() <= 60 - DEFAULT_BACKOFF.reserve_seconds
    assert stack.configuration() == stack.original


# ------------------------------------------------------------------------ the timeout guard
def test_the_timeout_guard_answers_once_and_nothing_is_written(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a read that hangs until an answer has arrived, and the deadline 50 ms after the
    guard's time (the context's remaining time does not move: ManualClock), when the guard's
    real timer fires, then its FAILED answer is the only one, and the work, resuming, writes
    nothing."""
    read = stack.notifications.read

    def hanging_read(bucket: str) -> NotificationDocument:
        assert stack.server.wait_for(1, timeout=60), "the timeout guard never answered"
        return read(bucket)

    monkeypatch.setattr(stack.notifications, "read", hanging_read)
    no_reserve = Dependencies(
        stack.notifications, stack.clock.sleep, random.Random(1), Backoff(reserve_seconds=0)
    )
    monkeypatch.setattr(stack.handler, "_dependencies", lambda: no_reserve)
    puts = _on_put(stack, lambda call: None)
    failed = stack.invoke(
        stack.event("Create"), stack.context(timeout_seconds=TIMEOUT_GUARD_SECONDS + 0.05)
    )
    assert failed["Status"] == "FAILED"
    assert failed["Reason"].startswith("timed out")
    assert failed["PhysicalResourceId"] == f"{BUCKET}#eventbridge-not-switched-on"
    assert puts == []
    assert read(BUCKET) == stack.original


# ------------------------------------------------------------------------------ the wiring
def test_the_handler_builds_its_client_lazily_without_botocore_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given boto3 unable to build clients, the module still imports (no client at import);
    the client it builds later has botocore's retries off and bounded timeouts."""

    def no_clients(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a client was built at import time")

    monkeypatch.setattr(boto3, "client", no_clients)
    handler = load_handler()
    monkeypatch.undo()
    dependencies = handler._dependencies()
    assert isinstance(dependencies.notifications, Boto3BucketNotificationsApi)
    config: Any = dependencies.notifications._client.meta.config
    assert config.retries["total_max_attempts"] == 1  # botocore: no retry of its own
    assert config.connect_timeout == 3
    assert config.read_timeout == 10
    assert handler._dependencies() is dependencies
