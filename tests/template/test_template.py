"""Invariants of template.yaml: least privilege, encryption, wiring, contracts with the code."""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from cfinvalidator.config import Config
from cfinvalidator.errors import ConfigError
from tests.template.cfn import (
    ACCOUNT_ID,
    REGION,
    ROOT,
    TEMPLATE_PATH,
    Evaluator,
    as_list,
    iter_statements,
    load_template,
    resources_of_type,
)

BUCKET = "my-site-origin-example"
ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"
TRACKER_DEFINITION = ROOT / "statemachine" / "tracker.asl.json"
SAMCONFIG = ROOT / "samconfig.toml"
CONFIG_MODULE = ROOT / "layers" / "shared" / "cfinvalidator" / "config.py"
MAX_DISTRIBUTIONS = 10

# Actions AWS only authorises on Resource "*", and why. Nothing else may use "*".
WILDCARD_RESOURCE_WHITELIST = {
    action: "CloudWatch Logs log delivery for Step Functions logging supports only Resource '*'"
    for action in (
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    )
}
REQUIRED_OUTPUTS = {
    "BucketName",
    "QueueUrl",
    "QueueArn",
    "DeadLetterQueueUrl",
    "DeadLetterQueueArn",
    "TopicArn",
    "StateMachineArn",
    "BatcherFunctionName",
    "BatcherFunctionArn",
    "SharedLayerArn",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _evaluator(template: Mapping[str, Any], **overrides: str) -> Evaluator:
    values = {"DistributionIds": "E2EXAMPLE12345", "BucketName": BUCKET} | overrides
    return Evaluator(template, **values)


def _functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert functions, "the template declares no function"
    return functions


def _state_machines(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    machines = resources_of_type(template, "AWS::Serverless::StateMachine")
    assert machines, "the template declares no state machine"
    return machines


def _batcher(template: Mapping[str, Any]) -> dict[str, Any]:
    return template["Resources"]["BatcherFunction"]["Properties"]  # type: ignore[no-any-return]


def _sqs_event(template: Mapping[str, Any]) -> dict[str, Any]:
    events = [e for e in _batcher(template)["Events"].values() if e["Type"] == "SQS"]
    assert len(events) == 1, "the batcher must have exactly one SQS event source"
    return events[0]["Properties"]  # type: ignore[no-any-return]


def _event_queue_id(template: Mapping[str, Any]) -> str:
    queue_ref = _sqs_event(template)["Queue"]
    assert queue_ref == {"Fn::GetAtt": [queue_ref["Fn::GetAtt"][0], "Arn"]}
    return queue_ref["Fn::GetAtt"][0]  # type: ignore[no-any-return]


def _function_timeout(template: Mapping[str, Any], logical_id: str) -> int:
    properties = template["Resources"][logical_id]["Properties"]
    default = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    return int(properties.get("Timeout", default))


def _cloudfront_statements(node: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, statement)
        for path, statement in iter_statements(node)
        if any(str(action).lower().startswith("cloudfront:") for action in _actions(statement))
    ]


def _actions(statement: Mapping[str, Any]) -> list[Any]:
    return as_list(statement.get("Action", statement.get("NotAction", [])))


def _documented_environment() -> set[str]:
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    section = text.split("## Batcher environment", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|") and not set(line) <= set("|- "):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    assert names, "no variables found in the architecture document's table"
    return names


def _distribution_arns(ids: list[str]) -> list[str]:
    return sorted(f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{i}" for i in ids)


def _dead_letter_queue_id(template: Mapping[str, Any]) -> str:
    queue = template["Resources"][_event_queue_id(template)]["Properties"]
    return queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]  # type: ignore[no-any-return]


def _translated(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as SAM translates it (policy templates and event-source policies expanded).

    Offline, like emulator.local_aws.stack: local artifact paths become placeholder s3:// URIs and
    samtranslator's bundled managed-policy map answers instead of IAM.
    """
    sam = copy.deepcopy(json.loads(json.dumps(template)))
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(name), str):
                properties[name] = f"s3://artifacts/{name}"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    translated: dict[str, Any] = translator.translate(
        sam,
        parameter_values={"DistributionIds": "E2EXAMPLE12345", "BucketName": BUCKET},
        get_managed_policy_map=dict,
    )
    return translated


def _queue_and_topic_grants(template: Mapping[str, Any], role_id: str) -> dict[str, list[str]]:
    """SQS and SNS action -> evaluated resources, over every inline policy of a translated role."""
    translated = _translated(template)
    role = translated["Resources"][role_id]["Properties"]
    evaluator = _evaluator(translated)
    grants: dict[str, list[str]] = {}
    for policy in role.get("Policies", []):
        for path, statement in iter_statements(policy["PolicyDocument"], policy["PolicyName"]):
            actions = [str(a) for a in _actions(statement)]
            if not any(a.lower().startswith(("sqs:", "sns:")) for a in actions):
                continue
            assert statement["Effect"] == "Allow", path
            assert "NotAction" not in statement, path
            assert "NotResource" not in statement, path
            resources = as_list(evaluator.evaluate(statement["Resource"]))
            for action in actions:
                grants.setdefault(action, []).extend(resources)
    return grants


def _is_env(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "env"


def _env_name_argument(node: ast.AST) -> ast.AST | None:
    """The expression naming the variable when ``node`` reads the environment, else None."""
    if isinstance(node, ast.Subscript) and _is_env(node.value):
        return node.slice
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and _is_env(func.value) and func.attr == "get":
        return node.args[0]
    # A helper given env and a literal name (its own body is scanned for how it reads it).
    following = [node.args[i + 1] for i, arg in enumerate(node.args[:-1]) if _is_env(arg)]
    literal = [a for a in following if isinstance(a, ast.Constant)]
    return literal[0] if literal else None


def _config_variables() -> set[str]:
    """Environment variable names cfinvalidator/config.py reads: ``env.get("X")``, ``env["X"]``
    and helper calls that take ``env`` followed by the name (``_required(env, "X", ...)``).

    A helper forwarding its own parameter (``_required(env, name, ...)`` inside ``_matching``) is
    not a read; any other non-literal name is reported as ``<dynamic>``.
    """
    names: set[str] = set()

    def visit(node: ast.AST, forwarded: frozenset[str]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            forwarded = forwarded | {a.arg for a in node.args.args + node.args.kwonlyargs}
        name = _env_name_argument(node)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            names.add(name.value)
        elif name is not None and not (isinstance(name, ast.Name) and name.id in forwarded):
            names.add("<dynamic>")
        for child in ast.iter_child_nodes(node):
            visit(child, forwarded)

    visit(ast.parse(CONFIG_MODULE.read_text(encoding="utf-8")), frozenset())
    return names


def _valid_env(**overrides: str) -> dict[str, str]:
    return {
        "DISTRIBUTION_IDS": "E2EXAMPLE12345",
        "BUCKET_NAME": BUCKET,
        "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:tracker",
        "QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/queue",
        "DEAD_LETTER_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/dlq",
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:topic",
    } | overrides


# ----------------------------------------------------------------------------- least privilege


@pytest.mark.parametrize(
    "ids",
    [
        ["E2EXAMPLE12345"],
        ["E2EXAMPLE12345", "ABCDEFGHJK123", "E3EXAMPLE67890"],
        [f"E{n}EXAMPLE1234{n}" for n in range(MAX_DISTRIBUTIONS)],
    ],
    ids=["one", "three", "ten"],
)
def test_cloudfront_permissions_name_exactly_the_configured_distributions(
    template: dict[str, Any], ids: list[str]
) -> None:
    """Given DistributionIds with one, three or the maximum ten IDs
    When every IAM statement with a CloudFront action is evaluated
    Then each one grants exactly those distributions' ARNs, nothing more and nothing less."""
    evaluator = _evaluator(template, DistributionIds=",".join(ids))

    statements = _cloudfront_statements(template["Resources"])

    assert len(statements) >= 2, "expected CloudFront statements for the batcher and the tracker"
    for path, statement in statements:
        assert statement["Effect"] == "Allow", path
        assert "NotResource" not in statement, path
        resources = as_list(evaluator.evaluate(statement["Resource"]))
        assert sorted(resources) == _distribution_arns(ids), path


def test_no_cloudfront_statement_uses_a_wildcard(template: dict[str, Any]) -> None:
    """Given the template
    When looking at every statement with a CloudFront action
    Then neither its actions nor its resources contain '*' anywhere."""
    for path, statement in _cloudfront_statements(template["Resources"]):
        assert not any("*" in str(action) for action in _actions(statement)), path
        assert "*" not in json.dumps(statement.get("Resource")), path


def test_each_role_gets_only_the_cloudfront_actions_it_uses(template: dict[str, Any]) -> None:
    """Given the batcher function and the tracker state machine
    When collecting the CloudFront actions their policies grant
    Then the batcher may read (list, get) and create invalidations, and the tracker may only
    get them."""
    batcher = {a for _, s in _cloudfront_statements(_batcher(template)) for a in _actions(s)}
    machines = _state_machines(template)
    tracker = {a for _, s in _cloudfront_statements(machines) for a in _actions(s)}

    assert batcher == {
        "cloudfront:CreateInvalidation",
        "cloudfront:GetInvalidation",
        "cloudfront:ListInvalidations",
    }
    assert tracker == {"cloudfront:GetInvalidation"}


def test_distribution_limit_is_documented(template: dict[str, Any]) -> None:
    """Given the IAM statements carry one optional entry per distribution position
    When reading the DistributionIds parameter
    Then its description states the same maximum."""
    description = template["Parameters"]["DistributionIds"]["Description"]
    assert "One to ten" in description
    for path, statement in _cloudfront_statements(template["Resources"]):
        assert len(statement["Resource"]) == MAX_DISTRIBUTIONS, path


def test_only_whitelisted_actions_use_a_wildcard_resource(template: dict[str, Any]) -> None:
    """Given every IAM statement in the template
    When a statement's Resource is '*'
    Then all its actions are ones AWS only authorises on '*', each with a recorded reason."""
    for path, statement in iter_statements(template["Resources"]):
        if "*" not in as_list(statement.get("Resource", [])):
            continue
        actions = _actions(statement)
        assert statement["Effect"] == "Allow", path
        unexplained = [a for a in actions if a not in WILDCARD_RESOURCE_WHITELIST]
        assert not unexplained, f"{path}: Resource '*' for {unexplained}"


def test_allow_statements_never_trust_everyone(template: dict[str, Any]) -> None:
    """Given the resource policies in the template
    When a statement allows something
    Then its principal is never '*'."""
    for path, statement in iter_statements(template["Resources"]):
        if statement["Effect"] == "Allow" and "Principal" in statement:
            assert statement["Principal"] not in ("*", {"AWS": "*"}), path


def test_batcher_may_start_only_the_tracker(template: dict[str, Any]) -> None:
    """Given the batcher's policies
    When looking for Step Functions permissions
    Then they come from the execution policy template scoped to the tracker state machine."""
    policies = _batcher(template)["Policies"]

    execution = [p["StepFunctionsExecutionPolicy"] for p in policies if isinstance(p, dict)
                 and "StepFunctionsExecutionPolicy" in p]  # fmt: skip

    assert execution == [{"StateMachineName": {"Fn::GetAtt": ["TrackerStateMachine", "Name"]}}]


def test_batcher_queue_and_topic_permissions_are_scoped(template: dict[str, Any]) -> None:
    """Given the batcher's role as SAM translates it (policy templates expanded)
    When collecting every SQS and SNS action of its inline policies
    Then it may change visibility only on the source queue, send only to the dead-letter queue
    and publish only to the notification topic, and nothing else on SQS or SNS."""
    queue_id, dlq_id = _event_queue_id(template), _dead_letter_queue_id(template)

    grants = _queue_and_topic_grants(template, "BatcherFunctionRole")

    assert grants == {
        "sqs:ChangeMessageVisibility": [f"<{queue_id}.Arn>"],
        # The policy template's wildcard covers SendMessage and SendMessageBatch, on one queue.
        "sqs:SendMessage*": [f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:<{dlq_id}.QueueName>"],
        "sns:Publish": [f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:<NotificationTopic.TopicName>"],
    }
    assert _batcher(template)["Environment"]["Variables"]["TOPIC_ARN"] == {
        "Ref": "NotificationTopic"
    }


def test_batcher_managed_policies_are_the_expected_ones(template: dict[str, Any]) -> None:
    """Given the batcher's role as SAM translates it
    When listing its managed policies
    Then they are exactly Lambda's basic execution role, the SQS event source's execution role
    (ReceiveMessage, DeleteMessage, GetQueueAttributes: not ChangeMessageVisibility, hence the
    explicit statement) and X-Ray's write-only access for active tracing."""
    role = _translated(template)["Resources"]["BatcherFunctionRole"]["Properties"]

    assert sorted(role["ManagedPolicyArns"]) == sorted(
        [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        ]
    )


# ----------------------------------------------------------------------------- queues and bucket


def test_queue_visibility_timeout_covers_the_function_and_the_batching_window(
    template: dict[str, Any],
) -> None:
    """Given the batcher's timeout (its own or from Globals) and the longest allowed debounce
    When reading the source queue's visibility timeout
    Then it is at least six times the function timeout plus the batching window."""
    timeout = _function_timeout(template, "BatcherFunction")
    longest_window = int(template["Parameters"]["DebounceSeconds"]["MaxValue"])
    queue = template["Resources"][_event_queue_id(template)]["Properties"]

    visibility = int(queue.get("VisibilityTimeout", 30))

    assert timeout == 60
    assert visibility >= 6 * timeout + longest_window


def test_both_queues_are_encrypted(template: dict[str, Any]) -> None:
    """Given every SQS queue in the template
    When reading its encryption settings
    Then it uses SQS-managed SSE or a KMS key."""
    queues = resources_of_type(template, "AWS::SQS::Queue")

    assert len(queues) == 2
    for logical_id, queue in queues.items():
        properties = queue["Properties"]
        encrypted = properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
        assert encrypted, logical_id


def test_source_queue_redrives_to_a_long_lived_dead_letter_queue(template: dict[str, Any]) -> None:
    """Given the event source queue
    When reading its redrive policy
    Then failed messages go to a DLQ that keeps them 14 days, after MaxReceiveCount deliveries,
    and an alarm watches that DLQ."""
    queue = template["Resources"][_event_queue_id(template)]["Properties"]
    redrive = queue["RedrivePolicy"]
    dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    dlq = template["Resources"][dlq_id]["Properties"]
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm").values()

    assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert any(
        alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
        in alarm["Properties"]["Dimensions"]
        and alarm["Properties"]["Threshold"] == 0
        and alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
        for alarm in alarms
    )


def test_origin_bucket_is_encrypted_and_private(template: dict[str, Any]) -> None:
    """Given the origin bucket
    When reading its properties
    Then it is encrypted, blocks all public access and disables ACLs."""
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    assert list(buckets) == ["OriginBucket"]
    properties = buckets["OriginBucket"]["Properties"]

    rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    block = properties["PublicAccessBlockConfiguration"]

    assert properties["BucketName"] == {"Ref": "BucketName"}
    assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_queue_policy_lets_only_the_origin_bucket_send(template: dict[str, Any]) -> None:
    """Given the queue policy attached to the event source queue
    When evaluating its statements
    Then S3 may send messages only from the origin bucket in this account, over TLS,
    and the bucket waits for the policy before writing its notification configuration."""
    queue_id = _event_queue_id(template)
    policies = [
        (logical_id, policy)
        for logical_id, policy in resources_of_type(template, "AWS::SQS::QueuePolicy").items()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
    ]
    assert len(policies) == 1
    policy_id, policy = policies[0]
    statements = _evaluator(template).evaluate(policy["Properties"]["PolicyDocument"])["Statement"]

    allow = [s for s in statements if s["Effect"] == "Allow"]
    deny = [s for s in statements if s["Effect"] == "Deny"]

    assert len(allow) == 1
    assert allow[0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert as_list(allow[0]["Action"]) == ["sqs:SendMessage"]
    assert allow[0]["Resource"] == f"<{queue_id}.Arn>"
    source_arn = {**allow[0]["Condition"].get("ArnLike", {}), **allow[0]["Condition"].get(
        "ArnEquals", {})}  # fmt: skip
    assert source_arn == {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"}
    assert allow[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny)
    assert template["Resources"]["OriginBucket"]["DependsOn"] == policy_id


@pytest.mark.parametrize(
    ("overrides", "expected_events", "expected_filter"),
    [
        ({}, ["s3:ObjectCreated:*"], None),
        ({"KeyPrefix": "site/"}, ["s3:ObjectCreated:*"], "site/"),
        ({"InvalidateDeletes": "true"}, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], None),
        (
            {"InvalidateDeletes": "true", "KeyPrefix": "a/b/"},
            ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "a/b/",
        ),
    ],
)
def test_bucket_notifications_follow_the_parameters(
    template: dict[str, Any],
    overrides: dict[str, str],
    expected_events: list[str],
    expected_filter: str | None,
) -> None:
    """Given KeyPrefix and InvalidateDeletes values
    When the bucket's notification configuration is evaluated
    Then it subscribes the queue to created (and, if asked, removed) objects, filtered by the
    prefix only when there is one."""
    bucket = template["Resources"]["OriginBucket"]["Properties"]

    notifications = _evaluator(template, **overrides).evaluate(bucket["NotificationConfiguration"])

    configs = notifications["QueueConfigurations"]
    assert [c["Event"] for c in configs] == expected_events
    for config in configs:
        assert config["Queue"] == f"<{_event_queue_id(template)}.Arn>"
        if expected_filter is None:
            assert "Filter" not in config
        else:
            assert config["Filter"] == {
                "S3Key": {"Rules": [{"Name": "prefix", "Value": expected_filter}]}
            }


# ----------------------------------------------------------------------------- batcher wiring


def test_event_source_is_wired_to_the_parameters(template: dict[str, Any]) -> None:
    """Given the batcher's SQS event source
    When reading its properties
    Then it reports partial batch failures and takes its size, window and concurrency from
    the parameters."""
    event = _sqs_event(template)

    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == {"Ref": "BatchSize"}
    assert event["MaximumBatchingWindowInSeconds"] == {"Ref": "DebounceSeconds"}
    assert event["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaxConcurrency"}}


@pytest.mark.parametrize(
    ("debounce", "batch_size", "allowed"),
    [("0", "10", True), ("0", "1", True), ("0", "11", False), ("0", "1000", False),
     ("1", "10000", True), ("30", "1000", True)],
)  # fmt: skip
def test_rules_reject_large_batches_without_a_window(
    template: dict[str, Any], debounce: str, batch_size: str, allowed: bool
) -> None:
    """Given DebounceSeconds and BatchSize values
    When the template's Rules assertions are evaluated
    Then they fail exactly when BatchSize is above 10 without a batching window."""
    evaluator = _evaluator(template, DebounceSeconds=debounce, BatchSize=batch_size)

    results = [
        evaluator.evaluate(assertion["Assert"])
        for rule in template["Rules"].values()
        for assertion in rule["Assertions"]
    ]

    assert all(results) is allowed


def test_batcher_environment_matches_the_architecture_document(template: dict[str, Any]) -> None:
    """Given the environment table in docs/architecture.md
    When reading the batcher's environment variables
    Then exactly the documented variables are declared."""
    declared = set(_batcher(template)["Environment"]["Variables"])

    assert declared == _documented_environment()


def test_batcher_environment_values(template: dict[str, Any]) -> None:
    """Given two distribution IDs and an origin path
    When the batcher's environment is evaluated
    Then the IDs arrive comma-separated and the other values come from their parameters."""
    evaluator = _evaluator(
        template, DistributionIds="E2EXAMPLE12345,E3EXAMPLE67890", OriginPath="/site"
    )

    env = evaluator.evaluate(_batcher(template)["Environment"]["Variables"])

    assert env["DISTRIBUTION_IDS"] == "E2EXAMPLE12345,E3EXAMPLE67890"
    assert env["BUCKET_NAME"] == BUCKET
    assert env["KEY_PREFIX"] == ""
    assert env["ORIGIN_PATH"] == "/site"
    assert env["INDEX_DOCUMENT"] == "index.html"
    assert env["STATE_MACHINE_ARN"] == "<TrackerStateMachine>"
    assert env["QUEUE_URL"] == f"<{_event_queue_id(template)}>"
    assert env["DEAD_LETTER_QUEUE_URL"] == f"<{_dead_letter_queue_id(template)}>"
    assert env["TOPIC_ARN"] == "<NotificationTopic>"
    assert env["POWERTOOLS_LOG_LEVEL"] == _batcher(template)["LoggingConfig"]["ApplicationLogLevel"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"MaxReceiveCount": "3", "DeferDelaySeconds": "120", "CollapseThreshold": "0",
         "BroadestWildcardDepth": "1"},
    ],
    ids=["defaults", "overridden"],
)  # fmt: skip
def test_batcher_planner_settings_come_from_the_parameters(
    template: dict[str, Any], overrides: dict[str, str]
) -> None:
    """Given the planner parameters (defaults, or overridden)
    When the batcher's environment is evaluated
    Then each planner variable carries its parameter's value, and the receive limit the batcher
    dead-letters at is the queue's own redrive limit."""
    evaluator = _evaluator(template, **overrides)
    parameters = template["Parameters"]
    variables = _batcher(template)["Environment"]["Variables"]
    queue = template["Resources"][_event_queue_id(template)]["Properties"]

    env = evaluator.evaluate(variables)

    expected = {
        "MAX_RECEIVE_COUNT": "MaxReceiveCount",
        "DEFER_DELAY_SECONDS": "DeferDelaySeconds",
        "COLLAPSE_THRESHOLD": "CollapseThreshold",
        "BROADEST_WILDCARD_DEPTH": "BroadestWildcardDepth",
    }
    for variable, parameter in expected.items():
        assert variables[variable] == {"Ref": parameter}, variable
        assert env[variable] == overrides.get(parameter, str(parameters[parameter]["Default"]))
    assert variables["MAX_RECEIVE_COUNT"] == queue["RedrivePolicy"]["maxReceiveCount"]
    assert parameters["MaxReceiveCount"]["Default"] == 8


def test_every_variable_the_configuration_reads_is_declared(template: dict[str, Any]) -> None:
    """Given the environment variables cfinvalidator/config.py reads
    When comparing them with the batcher's declared environment
    Then each one is declared, and every declared variable other than Powertools' is read."""
    read = _config_variables()
    declared = set(_batcher(template)["Environment"]["Variables"])

    assert "<dynamic>" not in read, "config.py reads a variable whose name is not a literal"
    assert {"DISTRIBUTION_IDS", "QUEUE_URL", "COLLAPSE_THRESHOLD"} <= read  # the scan works
    assert read <= declared, f"read but not declared: {sorted(read - declared)}"
    assert {d for d in declared if not d.startswith("POWERTOOLS_")} == read


@pytest.mark.parametrize(
    ("parameter", "variable"),
    [
        ("MaxReceiveCount", "MAX_RECEIVE_COUNT"),
        ("DeferDelaySeconds", "DEFER_DELAY_SECONDS"),
        ("CollapseThreshold", "COLLAPSE_THRESHOLD"),
        ("BroadestWildcardDepth", "BROADEST_WILDCARD_DEPTH"),
    ],
)
def test_planner_parameter_ranges_match_what_the_batcher_accepts(
    template: dict[str, Any], parameter: str, variable: str
) -> None:
    """Given a planner parameter's MinValue, MaxValue and Default
    When the batcher's configuration parses them
    Then it accepts the bounds and the default and refuses just outside them, so CloudFormation
    refuses what the function would refuse on its first invocation."""
    spec = template["Parameters"][parameter]
    low, high = int(spec["MinValue"]), int(spec["MaxValue"])

    for accepted in (low, high, int(spec["Default"])):
        Config.from_env(_valid_env(**{variable: str(accepted)}))
    for refused in (low - 1, high + 1):
        with pytest.raises(ConfigError, match=variable):
            Config.from_env(_valid_env(**{variable: str(refused)}))


@pytest.mark.parametrize(("threshold", "allowed"), [("0", True), ("1", False), ("2", True),
                                                    ("10", True), ("3000", True)])  # fmt: skip
def test_rules_reject_a_collapse_threshold_of_one(
    template: dict[str, Any], threshold: str, allowed: bool
) -> None:
    """Given a CollapseThreshold value
    When the template's Rules assertions are evaluated and the batcher parses the same value
    Then both refuse exactly 1 (every single change would become a wildcard)."""
    evaluator = _evaluator(template, CollapseThreshold=threshold)

    results = [
        evaluator.evaluate(assertion["Assert"])
        for rule in template["Rules"].values()
        for assertion in rule["Assertions"]
    ]

    assert all(results) is allowed
    if allowed:
        Config.from_env(_valid_env(COLLAPSE_THRESHOLD=threshold))
    else:
        with pytest.raises(ConfigError, match="COLLAPSE_THRESHOLD"):
            Config.from_env(_valid_env(COLLAPSE_THRESHOLD=threshold))


def test_every_function_and_state_machine_logs_to_a_retained_log_group(
    template: dict[str, Any],
) -> None:
    """Given the functions and state machines
    When following their logging configuration
    Then each writes to its own log group of this stack, and every log group has a retention."""
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    used: list[str] = []
    for logical_id, function in _functions(template).items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert set(ref) == {"Ref"}, logical_id
        used.append(ref["Ref"])
    for logical_id, machine in _state_machines(template).items():
        logging = machine["Properties"]["Logging"]
        assert logging["Level"] != "OFF", logical_id
        for destination in logging["Destinations"]:
            arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
            assert arn["Fn::GetAtt"][1] == "Arn", logical_id
            used.append(arn["Fn::GetAtt"][0])

    assert len(used) == len(set(used)), "log groups must not be shared"
    assert set(used) <= set(log_groups)
    for logical_id, group in log_groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id


def test_runtime_globals(template: dict[str, Any]) -> None:
    """Given the Globals section and the layer
    When reading runtime settings
    Then functions run python3.13 on arm64 with active tracing, like the layer is built."""
    function_globals = template["Globals"]["Function"]
    layer = template["Resources"]["SharedLayer"]

    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert _batcher(template)["Layers"] == [{"Ref": "SharedLayer"}]


# ----------------------------------------------------------------------------- tracker and topic


def test_tracker_definition_substitutions_are_all_provided(template: dict[str, Any]) -> None:
    """Given statemachine/tracker.asl.json (it must exist and be valid JSON)
    When collecting the ${...} substitutions it uses
    Then the template provides exactly those, and the definition is the file named."""
    machine = template["Resources"]["TrackerStateMachine"]["Properties"]
    text = TRACKER_DEFINITION.read_text(encoding="utf-8")
    json.loads(text)

    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))

    assert machine["DefinitionUri"] == "statemachine/tracker.asl.json"
    assert machine["Type"] == "STANDARD"
    assert used == set(machine["DefinitionSubstitutions"])
    assert used == {"TopicArn", "PollIntervalSeconds", "CompletionTimeoutSeconds"}


def test_tracker_publishes_only_to_the_topic(template: dict[str, Any]) -> None:
    """Given the tracker's policies
    When looking for SNS permissions
    Then they are the publish policy template for the stack's topic, which the definition gets."""
    machine = template["Resources"]["TrackerStateMachine"]["Properties"]
    publish = [p["SNSPublishMessagePolicy"] for p in machine["Policies"]
               if isinstance(p, dict) and "SNSPublishMessagePolicy" in p]  # fmt: skip

    assert publish == [{"TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}}]
    assert machine["DefinitionSubstitutions"]["TopicArn"] == {"Ref": "NotificationTopic"}


@pytest.mark.parametrize(
    ("notify_on", "expected_policy"),
    [("ALL", None), ("FAILURES", {"status": ["FAILED", "TIMED_OUT"]})],
)
def test_email_subscription_filters_failures_on_request(
    template: dict[str, Any], notify_on: str, expected_policy: dict[str, list[str]] | None
) -> None:
    """Given an e-mail address and NotifyOn
    When the subscription is evaluated
    Then FAILURES filters on the status attribute and ALL receives everything."""
    subscription = template["Resources"]["NotificationEmailSubscription"]
    evaluator = _evaluator(template, NotificationEmail="ops@example.com", NotifyOn=notify_on)

    properties = evaluator.evaluate(subscription["Properties"])

    assert evaluator.condition(subscription["Condition"]) is True
    assert properties.get("FilterPolicy") == expected_policy
    if expected_policy is not None:
        assert properties["FilterPolicyScope"] == "MessageAttributes"


def test_no_subscription_without_an_email(template: dict[str, Any]) -> None:
    """Given the default (empty) NotificationEmail
    When evaluating the subscription's condition
    Then no subscription is created."""
    subscription = template["Resources"]["NotificationEmailSubscription"]

    assert _evaluator(template).condition(subscription["Condition"]) is False


# ----------------------------------------------------------------------------- parameters, outputs


def test_every_parameter_is_described_and_constrained(template: dict[str, Any]) -> None:
    """Given the template's parameters
    When reading each one
    Then it has a Description, a constraint and a ConstraintDescription."""
    constraints = {"AllowedPattern", "AllowedValues", "MinValue", "MaxValue"}
    for name, parameter in template["Parameters"].items():
        assert str(parameter.get("Description", "")).strip(), name
        assert constraints & set(parameter), name
        assert str(parameter.get("ConstraintDescription", "")).strip(), name


@pytest.mark.parametrize(
    ("value", "valid"),
    [("E2EXAMPLE12345", True), ("ABCDEFGHJK123", True), ("EDFDVBD6EXAMPLE", True),
     ("e2example12345", False), ("E2EXAMPLE", False), ("2EXAMPLE12345", False),
     ("E2EXAMPLE12345,E3EXAMPLE67890", False), (" E2EXAMPLE12345", False)],
)  # fmt: skip
def test_distribution_id_pattern(template: dict[str, Any], value: str, valid: bool) -> None:
    """Given a candidate item of DistributionIds (CloudFormation checks the pattern per item)
    When matching it against AllowedPattern
    Then real IDs and moto's 13-character IDs pass and anything else fails."""
    pattern = template["Parameters"]["DistributionIds"]["AllowedPattern"]

    assert (re.fullmatch(pattern, value) is not None) is valid


def test_samconfig_overrides_satisfy_the_template(template: dict[str, Any]) -> None:
    """Given samconfig.toml's example parameter_overrides
    When checking each value against the template's constraints
    Then every override names a parameter and passes its pattern, values and range."""
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    overrides = dict(
        item.split("=", 1)
        for item in shlex.split(config["default"]["deploy"]["parameters"]["parameter_overrides"])
    )

    assert config["version"] == 0.1
    assert {"DistributionIds", "BucketName"} <= set(overrides)
    for name, value in overrides.items():
        parameter = template["Parameters"][name]
        items = value.split(",") if parameter["Type"] == "CommaDelimitedList" else [value]
        for item in items:
            if "AllowedPattern" in parameter:
                assert re.fullmatch(parameter["AllowedPattern"], item), (name, item)
            if "AllowedValues" in parameter:
                assert item in [str(v) for v in parameter["AllowedValues"]], (name, item)
            if "MinValue" in parameter:
                assert float(item) >= float(parameter["MinValue"]), (name, item)
            if "MaxValue" in parameter:
                assert float(item) <= float(parameter["MaxValue"]), (name, item)
    evaluator = Evaluator(template, **overrides)
    for rule in template["Rules"].values():
        assert all(evaluator.evaluate(a["Assert"]) for a in rule["Assertions"])


def test_outputs_cover_what_users_and_tests_need(template: dict[str, Any]) -> None:
    """Given the template's outputs
    When listing them
    Then every documented output exists and has a description."""
    outputs = template["Outputs"]

    assert set(outputs) >= REQUIRED_OUTPUTS
    for name in REQUIRED_OUTPUTS:
        assert str(outputs[name].get("Description", "")).strip(), name


# ----------------------------------------------------------------------------- the real linter


@pytest.mark.slow
def test_sam_validate_lint_passes() -> None:
    """Given template.yaml
    When running `sam validate --lint` (offline, no credentials needed)
    Then it reports a valid template and no lint findings."""
    sam = Path(sys.executable).parent / "sam"
    env = os.environ | {
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{sam.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template", str(TEMPLATE_PATH)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
