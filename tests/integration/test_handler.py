"""The batcher handler through boto3, against moto with the faithful CloudFront layered on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_cloudfront import CloudFrontClient
from mypy_boto3_stepfunctions import SFNClient

import app
from cfinvalidator.errors import ConfigError
from emulator.cloudfront import FaithfulCloudFront
from emulator.lambda_context import FakeLambdaContext
from tests.factories import BUCKET, load_event, s3_body, s3_record, sqs_event, sqs_record

CONTEXT = FakeLambdaContext(
    function_name="batcher",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:batcher",
    memory_limit_in_mb=512,
    timeout_seconds=60,
)
TRACKER_DEFINITION = json.dumps(
    {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}  # executions are not run here
)


@dataclass
class Stack:
    cloudfront: CloudFrontClient
    sfn: SFNClient
    distribution_id: str
    state_machine_arn: str
    fake: FaithfulCloudFront

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.lambda_handler(event, CONTEXT)
        return result

    def executions(self) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        described = [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]
        return [{"name": d["name"], "input": json.loads(d["input"])} for d in described]


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch,
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> Iterator[Stack]:
    with mock_aws():
        cloudfront = boto3.client("cloudfront")
        sfn = boto3.client("stepfunctions")
        distribution_id = cloudfront_distribution_factory(cloudfront)
        arn = sfn.create_state_machine(
            name="tracker",
            definition=TRACKER_DEFINITION,
            roleArn="arn:aws:iam::123456789012:role/tracker",
        )["stateMachineArn"]
        env = {
            "DISTRIBUTION_IDS": distribution_id,
            "BUCKET_NAME": BUCKET,
            "KEY_PREFIX": "",
            "ORIGIN_PATH": "",
            "INDEX_DOCUMENT": "index.html",
            "STATE_MACHINE_ARN": arn,
            "POWERTOOLS_SERVICE_NAME": "cloudfront-invalidator",
            "POWERTOOLS_METRICS_NAMESPACE": "CloudFrontInvalidatorTest",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app._dependencies.cache_clear()
        with FaithfulCloudFront(completion_seconds=30) as fake:
            yield Stack(cloudfront, sfn, distribution_id, arn, fake)
        app._dependencies.cache_clear()


def test_put_events_create_one_invalidation_and_one_tracker(stack: Stack) -> None:
    """Given the sample SQS batch of two uploads, when the handler runs, then one invalidation
    with exactly the viewer paths exists and one tracker execution was started for it."""
    result = stack.invoke(load_event("sqs-s3-put.json"))
    assert result == {"batchItemFailures": []}
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


def test_redelivery_returns_the_same_invalidation(stack: Stack) -> None:
    """Given the same batch delivered twice, then CloudFront bills one invalidation and one
    tracker runs, and both deliveries succeed."""
    event = load_event("sqs-s3-put.json")
    assert stack.invoke(event) == {"batchItemFailures": []}
    assert stack.invoke(event) == {"batchItemFailures": []}
    assert stack.fake.invalidation_count == 1
    assert stack.fake.billed_paths == 3
    assert len(stack.executions()) == 1


def test_test_event_is_acknowledged_without_invalidating(stack: Stack) -> None:
    """Given only the s3:TestEvent, then nothing fails and nothing is invalidated."""
    assert stack.invoke(load_event("sqs-s3-test-event.json")) == {"batchItemFailures": []}
    assert stack.fake.calls == []


def test_malformed_record_fails_alone(stack: Stack) -> None:
    """Given one malformed and one valid record, then only the malformed one is a failure."""
    event = load_event("sqs-malformed.json")
    bad = [r["messageId"] for r in event["Records"] if not r["body"].startswith("{")]
    result = stack.invoke(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": m} for m in bad]}
    assert stack.fake.invalidation_count == 1


def test_cloudfront_refusal_fails_the_records_it_serves(stack: Stack) -> None:
    """Given CloudFront answering AccessDenied, then every record of the batch is a failure."""
    stack.fake.inject("CreateInvalidation", "AccessDenied")
    event = load_event("sqs-s3-put.json")
    result = stack.invoke(event)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]
    }
    assert stack.executions() == []


def test_throttling_is_retried_by_the_sdk(stack: Stack) -> None:
    """Given two throttled answers, then the SDK's standard retries get the invalidation made."""
    stack.fake.inject("CreateInvalidation", "Throttling", times=2)
    assert stack.invoke(load_event("sqs-s3-put.json")) == {"batchItemFailures": []}
    assert stack.fake.invalidation_count == 1


def test_foreign_bucket_record_is_reported(stack: Stack) -> None:
    """Given an event from a bucket this stack does not serve, then that record fails."""
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
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_missing_configuration_names_the_variable(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given STATE_MACHINE_ARN unset, then the invocation fails naming it (batch retried)."""
    monkeypatch.delenv("STATE_MACHINE_ARN")
    app._dependencies.cache_clear()
    with pytest.raises(ConfigError, match="STATE_MACHINE_ARN"):
        stack.invoke(load_event("sqs-s3-put.json"))


def test_wildcard_quota_refusal_fails_only_the_records_that_need_wildcards(stack: Stack) -> None:
    """Given 16 keys CloudFront can only cover with wildcards and one ordinary key, when the
    wildcard quota (15 in progress) refuses the 16th, then only that record is retried."""
    records = [sqs_record("plain", s3_body(s3_record("css/site.css")))]
    records += [
        sqs_record(f"tilde{i:02d}", s3_body(s3_record(f"page{i:02d}.html~", sequencer=f"{i:02d}")))
        for i in range(16)
    ]
    result = stack.invoke(sqs_event(*records))
    assert result == {"batchItemFailures": [{"itemIdentifier": "tilde15"}]}
    assert stack.fake.in_progress(stack.distribution_id) == (1, 15)
    assert [c.error_code for c in stack.fake.calls if c.outcome == "rejected"] == [
        "TooManyInvalidationsInProgress"
    ]
