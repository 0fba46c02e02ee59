"""The real template.yaml deploys into moto with every setting resolved from the template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import DefaultConfig

from emulator.local_aws.deployed import DeployedStack, StackDeployError
from emulator.local_aws.stack import deploy_stack
from emulator.local_aws.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
DISTRIBUTION_ID = "E2EXAMPLE12345"
EXECUTING: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}


def template_default(name: str) -> str:
    return str(load_template(TEMPLATE)["Parameters"][name]["Default"])


@dataclass(frozen=True)
class Deployments:
    session: boto3.Session
    plain: DeployedStack
    """Template defaults: no KeyPrefix, deletes not invalidated."""
    prefixed: DeployedStack
    """KeyPrefix site/, InvalidateDeletes true, BroadestWildcardDepth 2."""

    def client(self, service: str) -> Any:
        return self.session.client(service)  # type: ignore[call-overload]


@pytest.fixture(scope="class")
def deployments() -> Iterator[Deployments]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws(config=EXECUTING):
            session = boto3.Session(region_name=REGION)
            plain = deploy_stack(
                TEMPLATE,
                {"DistributionIds": DISTRIBUTION_ID, "BucketName": "plain-site"},
                stack_name="plain",
                artifacts_bucket="plain-artifacts",
                session=session,
            )
            prefixed = deploy_stack(
                TEMPLATE,
                {
                    "DistributionIds": [DISTRIBUTION_ID, "E3EXAMPLE67890"],
                    "BucketName": "prefixed-site",
                    "KeyPrefix": "site/",
                    "InvalidateDeletes": "true",
                    "DebounceSeconds": 5,
                    "BatchSize": 50,
                    "BroadestWildcardDepth": 2,
                },
                stack_name="prefixed",
                artifacts_bucket="prefixed-artifacts",
                session=session,
            )
            yield Deployments(session, plain, prefixed)


def queue_attributes(d: Deployments, queue_url: str) -> dict[str, str]:
    response = d.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    return dict(response["Attributes"])


def received_bodies(d: Deployments, queue_url: str) -> list[dict[str, Any]]:
    sqs = d.client("sqs")
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


class TestDeployedTemplate:
    def test_the_queue_is_encrypted_and_redrives_to_the_dead_letter_queue(
        self, deployments: Deployments
    ) -> None:
        """Given the template deployed with its defaults,
        When the invalidation queue is inspected,
        Then it has SSE and a redrive policy to the DLQ after MaxReceiveCount receives."""
        stack = deployments.plain
        attributes = queue_attributes(deployments, stack.outputs["QueueUrl"])

        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == stack.outputs["DeadLetterQueueArn"]
        assert str(redrive["maxReceiveCount"]) == template_default("MaxReceiveCount")
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert attributes["QueueArn"] == stack.event_source.queue_arn
        dlq = queue_attributes(deployments, stack.outputs["DeadLetterQueueUrl"])
        assert dlq["QueueArn"] == stack.outputs["DeadLetterQueueArn"]

    def test_the_queue_policy_lets_only_the_bucket_send(self, deployments: Deployments) -> None:
        """Given moto's CloudFormation skips AWS::SQS::QueuePolicy,
        When the stack is deployed,
        Then the policy is set on the queue, allowing S3 for this bucket only."""
        attributes = queue_attributes(deployments, deployments.plain.outputs["QueueUrl"])

        statements = json.loads(attributes["Policy"])["Statement"]
        allow = next(s for s in statements if s["Effect"] == "Allow")
        assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
        assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:s3:::plain-site"

    def test_the_topic_and_state_machine_exist_and_are_wired(
        self, deployments: Deployments
    ) -> None:
        """Given the deployed stack,
        When the topic and the state machine are described through the APIs,
        Then the definition publishes to this stack's topic, with every substitution applied
        and ASL's $$ context paths intact."""
        stack = deployments.plain
        topic = deployments.client("sns").get_topic_attributes(TopicArn=stack.outputs["TopicArn"])
        machine = deployments.client("stepfunctions").describe_state_machine(
            stateMachineArn=stack.outputs["StateMachineArn"]
        )

        assert topic["Attributes"]["KmsMasterKeyId"] == "alias/aws/sns"
        definition = machine["definition"]
        assert "${" not in definition
        assert f'"TopicArn": "{stack.outputs["TopicArn"]}"' in definition
        assert "States.StringToJson('2')" not in definition  # the demo's value is not hard-coded
        poll = template_default("PollIntervalSeconds")
        assert f"States.StringToJson('{poll}')" in definition
        assert '"$$.State.EnteredTime"' in definition

    def test_the_function_environment_is_resolved(self, deployments: Deployments) -> None:
        """Given the deployed stack,
        When the batcher's environment is read back,
        Then every variable holds a real value: IDs, bucket, prefix, state machine ARN, the
        stack's own queues and topic, and the planner settings."""
        stack = deployments.prefixed

        assert dict(stack.function.environment) == {
            "DISTRIBUTION_IDS": f"{DISTRIBUTION_ID},E3EXAMPLE67890",
            "BUCKET_NAME": "prefixed-site",
            "KEY_PREFIX": "site/",
            "ORIGIN_PATH": "",
            "INDEX_DOCUMENT": template_default("IndexDocument"),
            "STATE_MACHINE_ARN": stack.outputs["StateMachineArn"],
            "QUEUE_URL": stack.outputs["QueueUrl"],
            "DEAD_LETTER_QUEUE_URL": stack.outputs["DeadLetterQueueUrl"],
            "TOPIC_ARN": stack.outputs["TopicArn"],
            "MAX_RECEIVE_COUNT": template_default("MaxReceiveCount"),
            "DEFER_DELAY_SECONDS": template_default("DeferDelaySeconds"),
            "COLLAPSE_THRESHOLD": template_default("CollapseThreshold"),
            "BROADEST_WILDCARD_DEPTH": "2",
            "MONTHLY_PATH_BUDGET": template_default("MonthlyPathBudget"),
            "UNCHANGED_PER_SAVED_PATH": template_default("UnchangedObjectsPerSavedPath"),
            "COUNT_BUCKET_OBJECTS": template_default("CountBucketObjects"),
            "ORIGIN_REFRESH_SECONDS": "300",
            "INVALIDATE_DELETES": "true",
            "POWERTOOLS_SERVICE_NAME": "cloudfront-invalidator",
            "POWERTOOLS_METRICS_NAMESPACE": "CloudFrontInvalidator",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

    def test_the_function_runs_from_its_source_folders(self, deployments: Deployments) -> None:
        """Given the deployed function,
        When its code locations are read back,
        Then they are the template's CodeUri and its layer's ContentUri, and the layer is
        attached to the function (moto's CloudFormation drops Layers)."""
        function = deployments.plain.function
        config = deployments.client("lambda").get_function_configuration(FunctionName=function.name)

        assert function.handler == "app.lambda_handler"
        assert function.code_dir == REPO_ROOT / "functions" / "batcher"
        assert function.layer_dirs == (REPO_ROOT / "layers" / "shared",)
        assert [layer["Arn"] for layer in config["Layers"]] == [
            deployments.plain.outputs["SharedLayerArn"]
        ]

    def test_the_event_source_settings_come_from_the_parameters(
        self, deployments: Deployments
    ) -> None:
        """Given one stack with the defaults and one with DebounceSeconds 5 and BatchSize 50,
        When their SQS event sources are read back,
        Then each has its own resolved settings, and moto's own poller is disabled."""
        plain, prefixed = deployments.plain.event_source, deployments.prefixed.event_source

        assert plain.batch_size == int(template_default("BatchSize"))
        assert plain.maximum_batching_window_seconds == int(template_default("DebounceSeconds"))
        assert plain.maximum_concurrency == int(template_default("MaxConcurrency"))
        assert plain.report_batch_item_failures
        assert (prefixed.batch_size, prefixed.maximum_batching_window_seconds) == (50, 5)
        mapping = deployments.client("lambda").get_event_source_mapping(UUID=plain.uuid)
        assert mapping["State"] == "Disabled"

    def test_without_a_prefix_every_upload_notifies_the_queue(
        self, deployments: Deployments
    ) -> None:
        """Given the stack without KeyPrefix,
        When an object is uploaded anywhere in the bucket,
        Then S3 sends the s3:TestEvent (from the configuration) and the upload's event."""
        stack = deployments.plain
        (notification,) = stack.bucket_notifications
        assert notification.queue_filters() == {stack.event_source.queue_arn: []}

        deployments.client("s3").put_object(Bucket="plain-site", Key="any/where.html", Body=b"x")

        bodies = received_bodies(deployments, stack.outputs["QueueUrl"])
        assert [b.get("Event") for b in bodies if "Event" in b] == ["s3:TestEvent"]
        events = [b["Records"][0]["eventName"] for b in bodies if "Records" in b]
        assert events == ["ObjectCreated:Put"]

    def test_with_a_prefix_only_matching_keys_notify_the_queue(
        self, deployments: Deployments
    ) -> None:
        """Given the stack with KeyPrefix site/ and InvalidateDeletes,
        When objects are uploaded inside and outside the prefix and one is deleted,
        Then the prefix filter is applied and only site/ keys notify, deletes included."""
        stack = deployments.prefixed
        (notification,) = stack.bucket_notifications
        prefix_rule = [{"Name": "prefix", "Value": "site/"}]
        assert notification.queue_filters() == {stack.event_source.queue_arn: prefix_rule * 2}
        s3 = deployments.client("s3")

        s3.put_object(Bucket="prefixed-site", Key="site/index.html", Body=b"x")
        s3.put_object(Bucket="prefixed-site", Key="other/index.html", Body=b"x")
        s3.delete_object(Bucket="prefixed-site", Key="site/index.html")

        bodies = received_bodies(deployments, stack.outputs["QueueUrl"])
        records = [b["Records"][0] for b in bodies if "Records" in b]
        assert [r["eventName"] for r in records] == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
        assert {r["s3"]["object"]["key"].replace("%2F", "/") for r in records} == {
            "site/index.html"
        }

    def test_every_resource_of_the_template_is_emulated(self, deployments: Deployments) -> None:
        """Given the template's resources (conditions applied),
        When the stack is deployed,
        Then each one exists in moto or was completed by the emulator, except the bucket policy:
        moto would enforce it and sees no mocked request as TLS (docs/aws-behaviour.md
        #where-moto-differs)."""
        assert [r.resource_type for r in deployments.plain.not_emulated] == [
            "AWS::S3::BucketPolicy"
        ]
        assert {
            "OriginBucket",
            "InvalidationQueue",
            "InvalidationDeadLetterQueue",
            "InvalidationQueuePolicy",
            "DeadLetterQueueAlarm",
            "NotificationTopic",
            "BatcherFunction",
            "TrackerStateMachine",
        } <= set(deployments.plain.resources)
        alarms = deployments.client("cloudwatch").describe_alarms()["MetricAlarms"]
        assert {a["AlarmName"] for a in alarms} >= {
            deployments.plain.physical_id("DeadLetterQueueAlarm")
        }


class TestRefusedDeployments:
    def test_outside_moto_nothing_is_called(self) -> None:
        """Given no active mock_aws,
        When deploying,
        Then it refuses before any AWS call (no real account can be touched)."""
        with pytest.raises(StackDeployError, match="mock_aws"):
            deploy_stack(TEMPLATE, {"DistributionIds": DISTRIBUTION_ID, "BucketName": "x-site"})

    def test_without_executing_step_functions_it_refuses(self) -> None:
        """Given mock_aws without execute_state_machine,
        When deploying,
        Then it refuses: the tracker would never run."""
        with mock_aws(), pytest.raises(StackDeployError, match="execute_state_machine"):
            deploy_stack(TEMPLATE, {"DistributionIds": DISTRIBUTION_ID, "BucketName": "x-site"})

    @pytest.mark.parametrize(
        ("parameters", "problem"),
        [
            ({"DistributionIds": DISTRIBUTION_ID}, "need a value"),
            ({"BucketName": "x-site"}, "rule DistributionsToInvalidate"),
            (
                {
                    "DistributionIds": DISTRIBUTION_ID,
                    "BucketName": "x-site",
                    "CreateBucket": "false",
                    "CreateDistribution": "true",
                },
                "rule CreatedDistributionNeedsACreatedBucket",
            ),
            ({"DistributionIds": DISTRIBUTION_ID, "BucketName": "x", "Bogus": "1"}, "Bogus"),
            ({"DistributionIds": "e2-lower", "BucketName": "x-site"}, "DistributionIds"),
            ({"DistributionIds": DISTRIBUTION_ID, "BucketName": "x-site", "NotifyOn": "X"}, "X"),
            (
                {"DistributionIds": DISTRIBUTION_ID, "BucketName": "x-site", "DebounceSeconds": 0},
                "LargeBatchesNeedABatchingWindow",
            ),
            (
                {
                    "DistributionIds": DISTRIBUTION_ID,
                    "BucketName": "x-site",
                    "CollapseThreshold": 1,
                },
                "CollapseThresholdIsNotOne",
            ),
            (
                {
                    "DistributionIds": DISTRIBUTION_ID,
                    "BucketName": "x-site",
                    "DeferDelaySeconds": 0,
                },
                "DeferDelaySeconds",
            ),
        ],
    )
    def test_parameters_cloudformation_would_reject_are_rejected(
        self, parameters: dict[str, Any], problem: str
    ) -> None:
        """Given parameters that break the template's constraints or Rules,
        When deploying,
        Then it fails before creating anything, naming the problem (moto checks none of it)."""
        with mock_aws(config=EXECUTING), pytest.raises(StackDeployError, match=problem):
            deploy_stack(TEMPLATE, parameters)


def test_a_key_prefix_and_origin_path_with_no_key_in_common_fail_the_deploy() -> None:
    """Given KeyPrefix site/ and OriginPath /other (every upload would be skipped),
    When deploying,
    Then the ConfigurationCheck custom resource answers FAILED naming both values, and the
    deploy fails with that reason, before any invocation."""
    parameters = {
        "DistributionIds": DISTRIBUTION_ID,
        "BucketName": "x-site",
        "KeyPrefix": "site/",
        "OriginPath": "/other",
    }
    with (
        mock_aws(config=EXECUTING),
        pytest.raises(StackDeployError, match="KeyPrefix 'site/' and OriginPath '/other' select"),
    ):
        deploy_stack(TEMPLATE, parameters)


def test_a_key_prefix_inside_the_origin_path_deploys_with_its_check() -> None:
    """Given KeyPrefix site/blog/ under OriginPath /site, then the deploy succeeds and the
    check's custom resource exists."""
    parameters = {
        "DistributionIds": DISTRIBUTION_ID,
        "BucketName": "x-site",
        "KeyPrefix": "site/blog/",
        "OriginPath": "/site",
    }
    with mock_aws(config=EXECUTING):
        stack = deploy_stack(TEMPLATE, parameters)
    assert [c.logical_id for c in stack.custom_resources] == ["ConfigurationCheck"]


def test_the_template_loader_refuses_a_repeated_key(tmp_path: Path) -> None:
    """Given a template whose Resources name one logical ID twice, when it is loaded, then the
    loader refuses it (CloudFormation does; plain YAML would keep the last silently)."""
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n  Queue:\n    Type: AWS::SNS::Topic\n",
        encoding="utf-8",
    )
    with pytest.raises(StackDeployError, match=r"duplicate key 'Queue' in one mapping \(line 4\)"):
        load_template(template)


def test_the_template_loader_reads_short_form_tags(tmp_path: Path) -> None:
    """Given ``!Ref``, ``!GetAtt`` and ``!Sub``, when loaded, then they are CloudFormation's long
    forms, and an unquoted date stays a string."""
    template = tmp_path / "template.yaml"
    template.write_text(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  Topic:\n    Type: AWS::SNS::Topic\n"
        "    Properties:\n"
        "      TopicName: !Sub '${AWS::StackName}-t'\n"
        "      Tags: [{Key: a, Value: !Ref Name}, {Key: b, Value: !GetAtt Queue.Arn}]\n",
        encoding="utf-8",
    )
    loaded = load_template(template)
    assert loaded["AWSTemplateFormatVersion"] == "2010-09-09"
    properties = loaded["Resources"]["Topic"]["Properties"]
    assert properties["TopicName"] == {"Fn::Sub": "${AWS::StackName}-t"}
    assert properties["Tags"] == [
        {"Key": "a", "Value": {"Ref": "Name"}},
        {"Key": "b", "Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
    ]
