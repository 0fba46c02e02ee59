"""Invariants of template.yaml: least privilege, encryption, wiring, contracts with the code.

The template has two bucket modes (CreateBucket true: the stack creates the bucket and S3 notifies
the queue; false: it attaches to an existing bucket through EventBridge) and an optional
distribution in front of a created bucket (CreateDistribution). Invariants that depend on the mode
are checked in every mode (``MODES``), on the template as written and, where SAM adds to it, as
samtranslator translates it.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from cfinvalidator import config as config_module
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
# What the evaluator shows for the distribution the stack creates (its ID is known only once it
# exists), and a well-formed ID to stand for it where the batcher's configuration parses it.
CREATED_DISTRIBUTION = "<SiteDistribution>"
CREATED_DISTRIBUTION_ID = "E9CREATED12345"
BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY_WRITE_ONLY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
SQS_QUEUE_EXECUTION_ROLE = "AWSLambdaSQSQueueExecutionRole"
TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}

# The deployment modes, as parameter overrides on top of _evaluator's defaults.
MODES: dict[str, dict[str, str]] = {
    "created-bucket": {},
    "created-bucket-and-distribution": {"CreateDistribution": "true", "DistributionIds": ""},
    "created-distribution-and-ids": {"CreateDistribution": "true"},
    "existing-bucket": {"CreateBucket": "false"},
}
# Every optional feature switched on, so each condition's other branch is evaluated too.
ALL_OPTIONS = {
    "KeyPrefix": "site/",
    "InvalidateDeletes": "true",
    "OriginPath": "/site",
    "IndexDocument": "",
    "NotificationEmail": "ops@example.com",
    "NotifyOn": "FAILURES",
}
BUCKET_MODES = ["created-bucket", "existing-bucket"]

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
} | {
    "cloudwatch:GetMetricStatistics": "CloudWatch's metric reads have no resource-level "
    "permissions: the batcher reads its own BilledPaths metric against MonthlyPathBudget",
    "cloudwatch:PutMetricData": "PutMetricData has no resource-level permissions; the "
    "tracker's statement is limited to the service's namespace by cloudwatch:namespace",
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
# Resource-policy types, the property naming what they protect, and the action a TLS-only deny
# must cover (SNS: Publish, the one action that carries message content in).
RESOURCE_POLICIES = {
    "AWS::SQS::Queue": ("AWS::SQS::QueuePolicy", "Queues", "sqs:*"),
    "AWS::SNS::Topic": ("AWS::SNS::TopicPolicy", "Topics", "sns:Publish"),
    "AWS::S3::Bucket": ("AWS::S3::BucketPolicy", "Bucket", "s3:*"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _values(**overrides: str) -> dict[str, str]:
    return {"DistributionIds": "E2EXAMPLE12345", "BucketName": BUCKET} | overrides


def _evaluator(template: Mapping[str, Any], **overrides: str) -> Evaluator:
    return Evaluator(template, **_values(**overrides))


def _mode(template: Mapping[str, Any], mode: str, **overrides: str) -> Evaluator:
    return _evaluator(template, **(MODES[mode] | overrides))


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


def _event_source(template: Mapping[str, Any]) -> dict[str, Any]:
    """The batcher's one event source: an explicit mapping, created in every mode, and no SAM
    event (SAM would add a second source and its managed SQS policy)."""
    assert "Events" not in _batcher(template), "the batcher must have no SAM event source"
    mappings = [
        resource
        for resource in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
        if resource["Properties"].get("FunctionName") == {"Ref": "BatcherFunction"}
    ]
    assert len(mappings) == 1, "the batcher must have exactly one event source mapping"
    assert "Condition" not in mappings[0]
    return mappings[0]["Properties"]  # type: ignore[no-any-return]


def _event_queue_id(template: Mapping[str, Any]) -> str:
    queue_arn = _event_source(template)["EventSourceArn"]
    assert queue_arn == {"Fn::GetAtt": [queue_arn["Fn::GetAtt"][0], "Arn"]}
    return queue_arn["Fn::GetAtt"][0]  # type: ignore[no-any-return]


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


def _allows(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement's actions (wildcards included) cover ``action``."""
    if statement["Effect"] != "Allow":
        return False
    if "NotAction" in statement:
        return not any(
            fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _actions(statement)
        )
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _actions(statement))


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


@cache
def _translation(parameter_items: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    sam = copy.deepcopy(json.loads(json.dumps(load_template())))
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(name), str):
                properties[name] = f"s3://artifacts/{name}"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    translated: dict[str, Any] = translator.translate(
        sam, parameter_values=dict(parameter_items), get_managed_policy_map=dict
    )
    return translated


def _translated(mode: str = "created-bucket") -> dict[str, Any]:
    """The template as SAM translates it (policy templates and event-source policies expanded),
    with the mode's parameter values.

    Offline, like emulator.local_aws.stack: local artifact paths become placeholder s3:// URIs and
    samtranslator's bundled managed-policy map answers instead of IAM. Cached: do not modify it.
    """
    return _translation(tuple(sorted(_values(**MODES[mode]).items())))


def _translated_evaluator(mode: str) -> Evaluator:
    return _evaluator(_translated(mode), **MODES[mode])


def _queue_and_topic_grants(mode: str, role_id: str) -> dict[str, list[str]]:
    """SQS and SNS action -> evaluated resources, over every inline policy of a translated role."""
    role = _translated_evaluator(mode).resources("AWS::IAM::Role")[role_id]["Properties"]
    grants: dict[str, list[str]] = {}
    for policy in role.get("Policies", []):
        for path, statement in iter_statements(policy["PolicyDocument"], policy["PolicyName"]):
            actions = [str(a) for a in _actions(statement)]
            if not any(a.lower().startswith(("sqs:", "sns:")) for a in actions):
                continue
            assert statement["Effect"] == "Allow", path
            assert "NotAction" not in statement, path
            assert "NotResource" not in statement, path
            for action in actions:
                grants.setdefault(action, []).extend(as_list(statement["Resource"]))
    return grants


def _policies_protecting(
    evaluator: Evaluator, resource_type: str, logical_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Evaluated statements of every created resource policy attached to one resource."""
    policy_type, key, _ = RESOURCE_POLICIES[resource_type]
    marker = f"<{logical_id}>"
    return {
        policy_id: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy_id, policy in evaluator.resources(policy_type).items()
        if marker in as_list(policy["Properties"][key])
    }


def _the_policy_of(
    evaluator: Evaluator, resource_type: str, logical_id: str
) -> tuple[str, list[dict[str, Any]]]:
    policies = _policies_protecting(evaluator, resource_type, logical_id)
    assert len(policies) == 1, f"{logical_id} must have exactly one resource policy"
    ((policy_id, statements),) = policies.items()
    return policy_id, statements


def _is_everyone(principal: Any) -> bool:
    return principal == "*" or (
        isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS", []))
    )


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


def _parsed_batcher_config(env: Mapping[str, Any]) -> Config:
    """The batcher's Config for an evaluated environment: the values only known once deployed
    (ARNs, URLs, the created distribution's ID) replaced by well-formed stand-ins."""
    known = {
        "DISTRIBUTION_IDS": str(env["DISTRIBUTION_IDS"]).replace(
            CREATED_DISTRIBUTION, CREATED_DISTRIBUTION_ID
        )
    }
    for name, value in env.items():
        if name != "DISTRIBUTION_IDS" and not str(value).startswith("<"):
            known[name] = str(value)
    return Config.from_env(_valid_env(**known))


# ----------------------------------------------------------------------------- least privilege


TEN_IDS = [f"E{n}EXAMPLE1234{n}" for n in range(MAX_DISTRIBUTIONS)]


@pytest.mark.parametrize(
    ("ids", "create_distribution", "expected"),
    [
        ("E2EXAMPLE12345", "false", ["E2EXAMPLE12345"]),
        ("E2EXAMPLE12345,ABCDEFGHJK123,E3EXAMPLE67890", "false",
         ["E2EXAMPLE12345", "ABCDEFGHJK123", "E3EXAMPLE67890"]),
        (",".join(TEN_IDS), "false", TEN_IDS),
        (",E2EXAMPLE12345,,E3EXAMPLE67890", "false", ["E2EXAMPLE12345", "E3EXAMPLE67890"]),
        ("", "true", [CREATED_DISTRIBUTION]),
        ("E2EXAMPLE12345", "true", [CREATED_DISTRIBUTION, "E2EXAMPLE12345"]),
        (",".join(TEN_IDS), "true", [CREATED_DISTRIBUTION, *TEN_IDS]),
    ],
    ids=["one", "three", "ten", "empty-items", "created-only", "created-and-one",
         "created-and-ten"],
)  # fmt: skip
def test_cloudfront_permissions_name_exactly_the_configured_distributions(
    template: dict[str, Any], ids: str, create_distribution: str, expected: list[str]
) -> None:
    """Given DistributionIds (one, three or ten IDs, empty items, or none) with or without the
    distribution the stack creates
    When every IAM statement with a CloudFront action is evaluated
    Then each one grants exactly those distributions' ARNs, nothing more and nothing less."""
    evaluator = _evaluator(template, DistributionIds=ids, CreateDistribution=create_distribution)

    statements = _cloudfront_statements(template["Resources"])

    assert len(statements) >= 2, "expected CloudFront statements for the batcher and the tracker"
    for path, statement in statements:
        assert statement["Effect"] == "Allow", path
        assert "NotResource" not in statement, path
        resources = as_list(evaluator.evaluate(statement["Resource"]))
        assert sorted(resources) == _distribution_arns(expected), path


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
    Then the batcher may read (list, get) and create invalidations and read distributions'
    configurations (their origins), and the tracker may only get invalidations."""
    batcher = {a for _, s in _cloudfront_statements(_batcher(template)) for a in _actions(s)}
    machines = _state_machines(template)
    tracker = {a for _, s in _cloudfront_statements(machines) for a in _actions(s)}
    others = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if logical_id not in {"BatcherFunction", *machines} and _cloudfront_statements(resource)
    }

    assert batcher == {
        "cloudfront:CreateInvalidation",
        "cloudfront:GetInvalidation",
        "cloudfront:ListInvalidations",
        "cloudfront:GetDistributionConfig",
    }
    assert tracker == {"cloudfront:GetInvalidation"}
    assert not others, f"unexpected CloudFront permissions in {sorted(others)}"


def test_distribution_limit_is_documented(template: dict[str, Any]) -> None:
    """Given the IAM statements carry one optional entry per distribution position, plus one for
    the distribution the stack may create
    When reading the DistributionIds parameter and the batcher's configuration
    Then the description and the configuration state the same maximum number of positions."""
    description = template["Parameters"]["DistributionIds"]["Description"]

    assert "Up to ten" in description
    assert config_module.MAX_DISTRIBUTIONS == MAX_DISTRIBUTIONS
    for path, statement in _cloudfront_statements(template["Resources"]):
        assert len(statement["Resource"]) == MAX_DISTRIBUTIONS + 1, path


@pytest.mark.parametrize("mode", MODES)
def test_only_whitelisted_actions_use_a_wildcard_resource(mode: str) -> None:
    """Given every IAM statement of the template as SAM translates it (policy templates
    expanded), in each mode
    When a statement's Resource is '*'
    Then all its actions are ones AWS only authorises on '*', each with a recorded reason."""
    resources = _translated_evaluator(mode).resources()

    for path, statement in iter_statements(resources):
        if "*" not in as_list(statement.get("Resource", [])):
            continue
        actions = _actions(statement)
        assert statement["Effect"] == "Allow", path
        assert "NotAction" not in statement, path
        unexplained = [a for a in actions if a not in WILDCARD_RESOURCE_WHITELIST]
        assert not unexplained, f"{path}: Resource '*' for {unexplained}"


@pytest.mark.parametrize("mode", MODES)
def test_allow_statements_never_trust_everyone(mode: str) -> None:
    """Given every statement of the translated template, in each mode
    When a statement allows something
    Then its principal is never everyone."""
    resources = _translated_evaluator(mode).resources()

    for path, statement in iter_statements(resources):
        if statement["Effect"] == "Allow" and "Principal" in statement:
            assert not _is_everyone(statement["Principal"]), path
        assert "NotPrincipal" not in statement, path


@pytest.mark.parametrize("mode", MODES)
def test_services_are_admitted_only_for_this_stacks_sources(
    template: dict[str, Any], mode: str
) -> None:
    """Given the resource policies created in each mode (not the roles' trust policies)
    When a statement allows an AWS service principal
    Then it is conditioned on aws:SourceArn, so no other bucket, rule, alarm or distribution can
    use that service to reach this stack's queues, topics or bucket (confused deputy)."""
    resources = _mode(template, mode).resources()
    policy_types = {policy_type for policy_type, _, _ in RESOURCE_POLICIES.values()}

    checked = 0
    for logical_id, resource in resources.items():
        if resource["Type"] not in policy_types:
            continue
        for path, statement in iter_statements(resource["Properties"], logical_id):
            principal = statement.get("Principal")
            if statement["Effect"] != "Allow" or not isinstance(principal, Mapping):
                continue
            if "Service" in principal:
                keys = {k.lower() for c in statement.get("Condition", {}).values() for k in c}
                assert "aws:sourcearn" in keys, path
                checked += 1

    assert checked >= 2, "expected service principals (S3 or EventBridge, CloudWatch)"


def test_batcher_may_start_only_the_tracker(template: dict[str, Any]) -> None:
    """Given the batcher's policies
    When looking for Step Functions permissions
    Then they come from the execution policy template scoped to the tracker state machine."""
    policies = _batcher(template)["Policies"]

    execution = [p["StepFunctionsExecutionPolicy"] for p in policies if isinstance(p, dict)
                 and "StepFunctionsExecutionPolicy" in p]  # fmt: skip

    assert execution == [{"StateMachineName": {"Fn::GetAtt": ["TrackerStateMachine", "Name"]}}]


@pytest.mark.parametrize("mode", BUCKET_MODES)
def test_batcher_queue_and_topic_permissions_are_scoped(
    template: dict[str, Any], mode: str
) -> None:
    """Given the batcher's role as SAM translates it (policy templates expanded), in both bucket
    modes
    When collecting every SQS and SNS action of its inline policies
    Then it may poll (receive, delete, read attributes) and change visibility only on the source
    queue, send only to the dead-letter queue and publish only to the notification topic, and
    nothing else on SQS or SNS."""
    queue_id, dlq_id = _event_queue_id(template), _dead_letter_queue_id(template)

    grants = _queue_and_topic_grants(mode, "BatcherFunctionRole")

    queue = [f"<{queue_id}.Arn>"]
    assert grants == {
        "sqs:ReceiveMessage": queue,
        "sqs:DeleteMessage": queue,
        "sqs:GetQueueAttributes": queue,
        "sqs:ChangeMessageVisibility": queue,
        # The policy template's wildcard covers SendMessage and SendMessageBatch, on one queue.
        "sqs:SendMessage*": [f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:<{dlq_id}.QueueName>"],
        "sns:Publish": [f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:<NotificationTopic.TopicName>"],
    }
    assert _batcher(template)["Environment"]["Variables"]["TOPIC_ARN"] == {
        "Ref": "NotificationTopic"
    }


def _batcher_statements(template: Mapping[str, Any], **overrides: str) -> dict[str, Any]:
    """The batcher's inline statements by Sid, as deployed with ``overrides``."""
    evaluated = _evaluator(template, **overrides).resources()["BatcherFunction"]["Properties"]
    found: dict[str, Any] = {}
    for policy in evaluated["Policies"]:
        for _, statement in iter_statements(policy, "BatcherFunction"):
            if "Sid" in statement:
                found[statement["Sid"]] = statement
    return found


@pytest.mark.parametrize(("prefix", "pattern"), [("", "*"), ("site/", "site/*")])
def test_the_batcher_may_list_the_bucket_only_under_its_key_prefix(
    template: dict[str, Any], prefix: str, pattern: str
) -> None:
    """Given the defaults (CountBucketObjects true), then the batcher may ListBucket on the
    origin bucket alone, for prefixes under KeyPrefix only (wildcards never reach above it)."""
    statements = _batcher_statements(template, KeyPrefix=prefix)

    assert statements["CountObjectsUnderAWildcard"] == {
        "Sid": "CountObjectsUnderAWildcard",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": pattern}},
    }


def test_without_counting_or_a_budget_the_batcher_lists_and_reads_nothing(
    template: dict[str, Any],
) -> None:
    """Given CountBucketObjects false and MonthlyPathBudget 0, then neither the ListBucket nor
    the GetMetricStatistics statement exists, and the environment says so."""
    statements = _batcher_statements(template, CountBucketObjects="false", MonthlyPathBudget="0")
    assert "CountObjectsUnderAWildcard" not in statements
    assert "ReadBilledPathsThisMonth" not in statements
    defaults = _batcher_statements(template)
    assert defaults["ReadBilledPathsThisMonth"]["Action"] == "cloudwatch:GetMetricStatistics"
    variables = _evaluator(template, CountBucketObjects="false", MonthlyPathBudget="0")
    environment = variables.resources()["BatcherFunction"]["Properties"]["Environment"]
    assert environment["Variables"]["COUNT_BUCKET_OBJECTS"] == "false"
    assert environment["Variables"]["MONTHLY_PATH_BUDGET"] == "0"


@pytest.mark.parametrize("mode", BUCKET_MODES)
def test_batcher_managed_policies_are_the_expected_ones(mode: str) -> None:
    """Given the batcher's role as SAM translates it, in both bucket modes
    When listing its managed policies
    Then they are exactly Lambda's basic execution role and X-Ray's write-only access for active
    tracing: not the SQS event source's AWSLambdaSQSQueueExecutionRole, which allows receiving
    and deleting on every queue (the poller's inline statement names the source queue)."""
    roles = _translated_evaluator(mode).resources("AWS::IAM::Role")

    managed = roles["BatcherFunctionRole"]["Properties"]["ManagedPolicyArns"]

    assert sorted(managed) == sorted([BASIC_EXECUTION_ROLE, XRAY_WRITE_ONLY])


@pytest.mark.parametrize("mode", MODES)
def test_no_role_may_receive_or_delete_on_every_queue(mode: str) -> None:
    """Given every role and statement of the translated template, in each mode
    When looking for SQS receive and delete permissions and managed policies
    Then no statement allows sqs:ReceiveMessage or sqs:DeleteMessage (by name or wildcard) on a
    wildcard resource, and no role has AWSLambdaSQSQueueExecutionRole attached."""
    resources = _translated_evaluator(mode).resources()
    roles = {i: r for i, r in resources.items() if r["Type"] == "AWS::IAM::Role"}

    polled = 0
    for path, statement in iter_statements(resources):
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
            if not _allows(statement, action):
                continue
            polled += 1
            assert "NotResource" not in statement, path
            assert not any("*" in str(r) for r in as_list(statement["Resource"])), (path, action)
    for logical_id, role in roles.items():
        managed = [str(arn) for arn in role["Properties"].get("ManagedPolicyArns", [])]
        assert not any(SQS_QUEUE_EXECUTION_ROLE in arn for arn in managed), logical_id

    assert polled >= 2, "the batcher's poller statement was not found"
    assert "BatcherFunctionRole" in roles


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
        and "Condition" not in alarm
        for alarm in alarms
    )


def test_origin_bucket_is_encrypted_and_private(template: dict[str, Any]) -> None:
    """Given the origin bucket (created only when CreateBucket is true)
    When reading its properties
    Then it is encrypted, blocks all public access and disables ACLs."""
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    assert list(buckets) == ["OriginBucket"]
    properties = buckets["OriginBucket"]["Properties"]

    rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    block = properties["PublicAccessBlockConfiguration"]

    assert buckets["OriginBucket"]["Condition"] == "CreatesBucket"
    assert properties["BucketName"] == {"Ref": "BucketName"}
    assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


@pytest.mark.parametrize("mode", MODES)
def test_queue_policy_lets_only_the_event_producer_send(
    template: dict[str, Any], mode: str
) -> None:
    """Given the queue policy attached to the event source queue, in each mode
    When evaluating its statements
    Then with a created bucket only S3, from that bucket in this account, may send (and the
    bucket waits for the policy before writing its notification configuration); with an existing
    bucket only EventBridge, from this stack's rule, may send; and never without TLS."""
    evaluator = _mode(template, mode)
    queue_id = _event_queue_id(template)
    policy_id, statements = _the_policy_of(evaluator, "AWS::SQS::Queue", queue_id)

    allow = [s for s in statements if s["Effect"] == "Allow"]
    deny = [s for s in statements if s["Effect"] == "Deny"]

    assert len(allow) == 1
    assert as_list(allow[0]["Action"]) == ["sqs:SendMessage"]
    assert allow[0]["Resource"] == f"<{queue_id}.Arn>"
    if evaluator.condition("CreatesBucket"):
        assert allow[0]["Principal"] == {"Service": "s3.amazonaws.com"}
        assert allow[0]["Condition"] == {
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        }
        assert template["Resources"]["OriginBucket"]["DependsOn"] == policy_id
    else:
        assert allow[0]["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": "<ObjectEventsRule.Arn>"}}
    assert any(s["Condition"] == TLS_ONLY for s in deny)


@pytest.mark.parametrize("mode", BUCKET_MODES)
def test_dead_letter_queue_admits_only_the_rules_dead_letters(
    template: dict[str, Any], mode: str
) -> None:
    """Given the dead-letter queue's policy, in both bucket modes
    When evaluating its statements
    Then with an existing bucket only EventBridge, for this stack's rule, may send there (the
    rule's own dead letters); with a created bucket no service may; and never without TLS. (The
    batcher's role sends with its own IAM permission.)"""
    evaluator = _mode(template, mode)
    _, statements = _the_policy_of(evaluator, "AWS::SQS::Queue", _dead_letter_queue_id(template))

    allow = [s for s in statements if s["Effect"] == "Allow"]
    deny = [s for s in statements if s["Effect"] == "Deny"]

    if evaluator.condition("AttachesToBucket"):
        assert allow == [
            {
                "Sid": allow[0].get("Sid"),
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": f"<{_dead_letter_queue_id(template)}.Arn>",
                "Condition": {"ArnEquals": {"aws:SourceArn": "<ObjectEventsRule.Arn>"}},
            }
        ]
    else:
        assert allow == []
    assert any(s["Condition"] == TLS_ONLY for s in deny)


@pytest.mark.parametrize("options", [{}, ALL_OPTIONS], ids=["defaults", "all-options"])
@pytest.mark.parametrize("mode", MODES)
def test_every_queue_topic_and_bucket_refuses_insecure_transport(
    template: dict[str, Any], mode: str, options: dict[str, str]
) -> None:
    """Given every SQS queue, SNS topic and S3 bucket the stack creates, in each mode
    When reading the resource policies attached to each
    Then one of them denies everyone, on the whole resource, whenever aws:SecureTransport is
    false: a queue or topic added later without such a policy fails here."""
    evaluator = _mode(template, mode, **options)

    checked: dict[str, list[str]] = {}
    for resource_type, (_, _, action) in RESOURCE_POLICIES.items():
        for logical_id in evaluator.resources(resource_type):
            arn = f"<{logical_id}>" if resource_type == "AWS::SNS::Topic" else f"<{logical_id}.Arn>"
            required = [arn, f"{arn}/*"] if resource_type == "AWS::S3::Bucket" else [arn]
            statements = [
                s
                for policy in _policies_protecting(evaluator, resource_type, logical_id).values()
                for s in policy
            ]
            assert any(
                s["Effect"] == "Deny"
                and _is_everyone(s.get("Principal"))
                and action in as_list(s["Action"])
                and set(required) <= set(as_list(s["Resource"]))
                and s.get("Condition") == TLS_ONLY
                for s in statements
            ), logical_id
            checked.setdefault(resource_type, []).append(logical_id)

    assert len(checked["AWS::SQS::Queue"]) == 2
    assert len(checked["AWS::SNS::Topic"]) == 2
    assert len(checked.get("AWS::S3::Bucket", [])) == int(evaluator.condition("CreatesBucket"))


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
    """Given KeyPrefix and InvalidateDeletes values, and a bucket the stack creates
    When the bucket's notification configuration is evaluated
    Then it subscribes the queue to created (and, if asked, removed) objects, filtered by the
    prefix only when there is one."""
    buckets = _mode(template, "created-bucket", **overrides).resources("AWS::S3::Bucket")

    notifications = buckets["OriginBucket"]["Properties"]["NotificationConfiguration"]

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
    assert set(notifications) == {"QueueConfigurations"}


# ----------------------------------------------------------------------------- existing bucket


def test_an_existing_bucket_is_neither_created_nor_given_a_policy(template: dict[str, Any]) -> None:
    """Given CreateBucket false
    When listing what the stack creates
    Then no bucket, bucket policy or distribution, but the EventBridge rule and the custom
    resource that switches on the bucket's EventBridge delivery; and with a created bucket none
    of the EventBridge parts."""
    attached = _mode(template, "existing-bucket").resources()
    created = _mode(template, "created-bucket").resources()
    types = {resource["Type"] for resource in attached.values()}
    eventbridge_parts = {"BucketEventsLogGroup", "BucketEventsFunction", "BucketEventBridge",
                         "ObjectEventsRule"}  # fmt: skip

    assert not types & {
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
    }
    assert eventbridge_parts <= set(attached)
    assert not eventbridge_parts & set(created)
    assert not {i for i, r in created.items() if r["Type"] == "AWS::Events::Rule"}


@pytest.mark.parametrize(
    ("overrides", "expected_types", "expected_object"),
    [
        ({}, ["Object Created"], None),
        ({"KeyPrefix": "site/"}, ["Object Created"], {"key": [{"prefix": "site/"}]}),
        ({"InvalidateDeletes": "true"}, ["Object Created", "Object Deleted"], None),
        ({"InvalidateDeletes": "true", "KeyPrefix": "a/b/"}, ["Object Created", "Object Deleted"],
         {"key": [{"prefix": "a/b/"}]}),
    ],
)  # fmt: skip
def test_object_events_rule_follows_the_parameters(
    template: dict[str, Any],
    overrides: dict[str, str],
    expected_types: list[str],
    expected_object: dict[str, Any] | None,
) -> None:
    """Given KeyPrefix and InvalidateDeletes values, and an existing bucket
    When the EventBridge rule's pattern is evaluated
    Then it matches S3's object-created (and, if asked, deleted) events of that bucket only,
    filtered by the key prefix only when there is one."""
    rules = _mode(template, "existing-bucket", **overrides).resources("AWS::Events::Rule")

    rule = rules["ObjectEventsRule"]["Properties"]

    expected_detail: dict[str, Any] = {"bucket": {"name": [BUCKET]}}
    if expected_object is not None:
        expected_detail["object"] = expected_object
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": expected_types,
        "detail": expected_detail,
    }
    assert rule["State"] == "ENABLED"
    assert rule["EventBusName"] == "default"


def test_object_events_rule_delivers_to_the_source_queue(template: dict[str, Any]) -> None:
    """Given an existing bucket
    When reading the EventBridge rule's targets
    Then its only target is the batcher's source queue, with retries and the dead-letter queue
    for what cannot be delivered."""
    rules = _mode(template, "existing-bucket").resources("AWS::Events::Rule")

    targets = rules["ObjectEventsRule"]["Properties"]["Targets"]

    assert len(targets) == 1
    assert targets[0]["Arn"] == f"<{_event_queue_id(template)}.Arn>"
    assert targets[0]["DeadLetterConfig"] == {"Arn": f"<{_dead_letter_queue_id(template)}.Arn>"}
    retry = targets[0]["RetryPolicy"]
    assert retry["MaximumRetryAttempts"] > 0
    assert retry["MaximumEventAgeInSeconds"] >= 3600
    assert set(targets[0]) <= {"Id", "Arn", "RetryPolicy", "DeadLetterConfig"}


def test_bucket_events_function_may_only_switch_that_buckets_notifications(
    template: dict[str, Any],
) -> None:
    """Given an existing bucket and the custom resource's function as SAM translates it
    When collecting its role's permissions
    Then it may only read and write the notification configuration of exactly that bucket
    (besides logging and tracing), and it runs the bucket_events handler."""
    resources = _translated_evaluator("existing-bucket").resources()
    function = resources["BucketEventsFunction"]["Properties"]
    role = resources["BucketEventsFunctionRole"]["Properties"]
    source = template["Resources"]["BucketEventsFunction"]["Properties"]

    statements = [s for p in role["Policies"] for _, s in iter_statements(p["PolicyDocument"])]

    assert function["Role"] == "<BucketEventsFunctionRole.Arn>"
    assert len(statements) == 1
    assert statements[0]["Effect"] == "Allow"
    assert sorted(as_list(statements[0]["Action"])) == [
        "s3:GetBucketNotification",
        "s3:PutBucketNotification",
    ]
    assert as_list(statements[0]["Resource"]) == [f"arn:aws:s3:::{BUCKET}"]
    assert set(statements[0]) <= {"Sid", "Effect", "Action", "Resource"}
    assert sorted(role["ManagedPolicyArns"]) == sorted([BASIC_EXECUTION_ROLE, XRAY_WRITE_ONLY])
    assert source["CodeUri"] == "functions/bucket_events/"
    assert source["Handler"] == "app.lambda_handler"


def test_bucket_event_bridge_custom_resource_names_the_bucket(template: dict[str, Any]) -> None:
    """Given an existing bucket
    When the custom resource is evaluated
    Then the bucket_events function serves it and it is told exactly the bucket's name."""
    resources = _mode(template, "existing-bucket").resources()
    custom = {i: r for i, r in resources.items() if r["Type"].startswith("Custom::")}

    assert set(custom) == {"BucketEventBridge"}
    assert custom["BucketEventBridge"]["Properties"] == {
        "ServiceToken": "<BucketEventsFunction.Arn>",
        "ServiceTimeout": 300,
        "BucketName": BUCKET,
    }


# ----------------------------------------------------------------------------- created distribution


def test_origin_access_control_signs_every_request(template: dict[str, Any]) -> None:
    """Given CreateDistribution true
    When reading the Origin Access Control
    Then it is for S3 and signs every origin request with SigV4."""
    controls = _mode(template, "created-bucket-and-distribution").resources(
        "AWS::CloudFront::OriginAccessControl"
    )

    assert list(controls) == ["SiteOriginAccessControl"]
    config = controls["SiteOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert config["OriginAccessControlOriginType"] == "s3"
    assert config["SigningBehavior"] == "always"
    assert config["SigningProtocol"] == "sigv4"


@pytest.mark.parametrize(
    ("overrides", "root_object", "origin_path"),
    [
        ({}, "index.html", None),
        ({"IndexDocument": "default.htm"}, "default.htm", None),
        ({"IndexDocument": ""}, None, None),
        ({"OriginPath": "/"}, "index.html", None),
        ({"OriginPath": "/site"}, "index.html", "/site"),
    ],
    ids=["defaults", "other-index", "no-index", "root-override", "path-override"],
)
def test_created_distribution_reads_the_bucket_through_origin_access_control(
    template: dict[str, Any],
    overrides: dict[str, str],
    root_object: str | None,
    origin_path: str | None,
) -> None:
    """Given CreateDistribution true, with IndexDocument and OriginPath values
    When the distribution is evaluated
    Then its one origin is the created bucket's regional endpoint read through the Origin Access
    Control (no legacy identity), viewers get HTTPS only and read-only methods, the default root
    object is the index document, and an origin path is set only for an explicit override."""
    evaluator = _mode(template, "created-bucket-and-distribution", **overrides)

    distributions = evaluator.resources("AWS::CloudFront::Distribution")

    assert list(distributions) == ["SiteDistribution"]
    config = distributions["SiteDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == "<OriginBucket.RegionalDomainName>"
    assert origin["OriginAccessControlId"] == "<SiteOriginAccessControl.Id>"
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert "CustomOriginConfig" not in origin
    assert origin.get("OriginPath") == origin_path
    assert config.get("DefaultRootObject") == root_object
    assert config["Enabled"] is True
    behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    for behaviour in behaviours:
        assert behaviour["TargetOriginId"] == origin["Id"]
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
        assert set(behaviour["AllowedMethods"]) <= {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("mode", ["created-bucket", "created-bucket-and-distribution",
                                  "created-distribution-and-ids"])  # fmt: skip
def test_bucket_policy_lets_only_the_served_distributions_read(
    template: dict[str, Any], mode: str
) -> None:
    """Given a created bucket, with or without the created distribution
    When evaluating the bucket's policy
    Then its only Allow is CloudFront reading objects on behalf of exactly the distributions the
    stack serves (the created one and DistributionIds), nothing is allowed to everyone, and
    transport without TLS is denied."""
    evaluator = _mode(template, mode)
    _, statements = _the_policy_of(evaluator, "AWS::S3::Bucket", "OriginBucket")
    served = [i for i in evaluator.evaluate({"Ref": "DistributionIds"}) if i]
    if evaluator.condition("CreatesDistribution"):
        served.append(CREATED_DISTRIBUTION)

    allow = [s for s in statements if s["Effect"] == "Allow"]

    ((sid, statement),) = [(s.get("Sid"), s) for s in allow]
    source_arns = statement["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert sorted(as_list(source_arns)) == _distribution_arns(served)
    assert statement == {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": "<OriginBucket.Arn>/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": source_arns}},
    }
    assert not any(_is_everyone(s.get("Principal")) for s in allow)
    assert any(s["Effect"] == "Deny" and s["Condition"] == TLS_ONLY for s in statements)


# ----------------------------------------------------------------------------- rules


def _failed_rules(template: Mapping[str, Any], **overrides: str) -> list[str]:
    return _evaluator(template, **overrides).failed_rules()


@pytest.mark.parametrize(
    ("create_bucket", "create_distribution", "ids", "refused_by"),
    [
        ("true", "false", "E2EXAMPLE12345", []),
        ("true", "false", "", ["DistributionsToInvalidate"]),
        ("true", "false", ",,", ["DistributionsToInvalidate"]),
        ("true", "true", "", []),
        ("true", "true", "E2EXAMPLE12345", []),
        ("false", "false", "E2EXAMPLE12345", []),
        ("false", "false", "", ["DistributionsToInvalidate"]),
        ("false", "true", "E2EXAMPLE12345", ["CreatedDistributionNeedsACreatedBucket"]),
        ("false", "true", "", ["CreatedDistributionNeedsACreatedBucket"]),
    ],
)
def test_rules_require_a_distribution_and_a_created_bucket_for_a_created_distribution(
    template: dict[str, Any], create_bucket: str, create_distribution: str, ids: str,
    refused_by: list[str],
) -> None:  # fmt: skip
    """Given CreateBucket, CreateDistribution and DistributionIds values
    When the template's Rules are evaluated
    Then the stack is refused without any distribution to invalidate, and for a created
    distribution in front of an existing bucket; whatever is accepted leaves every CloudFront
    statement at least one distribution and the batcher a configuration it accepts."""
    evaluator = _evaluator(
        template, CreateBucket=create_bucket, CreateDistribution=create_distribution,
        DistributionIds=ids,
    )  # fmt: skip

    failed = evaluator.failed_rules()

    assert failed == refused_by
    if not failed:
        for path, statement in _cloudfront_statements(template["Resources"]):
            assert as_list(evaluator.evaluate(statement["Resource"])), path
        env = evaluator.evaluate(_batcher(template)["Environment"]["Variables"])
        assert _parsed_batcher_config(env).distribution_ids


@pytest.mark.parametrize("mode", MODES)
def test_rules_use_only_what_cloudformation_allows_in_rules(
    template: dict[str, Any], mode: str
) -> None:
    """Given the template's Rules and each mode's values
    When evaluating them (the evaluator refuses Fn::Join, Fn::Select, conditions, references to
    resources: CloudFormation refuses a template using them in Rules)
    Then they evaluate, and accept each mode."""
    assert template["Rules"]
    assert _mode(template, mode).failed_rules() == []


@pytest.mark.parametrize(
    ("debounce", "batch_size", "allowed"),
    [("0", "10", True), ("0", "1", True), ("0", "11", False), ("0", "1000", False),
     ("1", "10000", True), ("30", "1000", True)],
)  # fmt: skip
def test_rules_reject_large_batches_without_a_window(
    template: dict[str, Any], debounce: str, batch_size: str, allowed: bool
) -> None:
    """Given DebounceSeconds and BatchSize values
    When the template's Rules are evaluated
    Then they fail exactly when BatchSize is above 10 without a batching window."""
    failed = _failed_rules(template, DebounceSeconds=debounce, BatchSize=batch_size)

    assert failed == ([] if allowed else ["LargeBatchesNeedABatchingWindow"])


# ----------------------------------------------------------------------------- batcher wiring


def test_event_source_is_wired_to_the_parameters(template: dict[str, Any]) -> None:
    """Given the batcher's event source mapping
    When reading its properties
    Then it polls the source queue for the batcher, reports partial batch failures and takes
    its size, window and concurrency from the parameters."""
    event = _event_source(template)

    assert event["EventSourceArn"] == {"Fn::GetAtt": ["InvalidationQueue", "Arn"]}
    assert event["FunctionName"] == {"Ref": "BatcherFunction"}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == {"Ref": "BatchSize"}
    assert event["MaximumBatchingWindowInSeconds"] == {"Ref": "DebounceSeconds"}
    assert event["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaxConcurrency"}}
    assert event.get("Enabled", True) is True


def test_batcher_environment_matches_the_architecture_document(template: dict[str, Any]) -> None:
    """Given the environment table in docs/architecture.md
    When reading the batcher's environment variables
    Then exactly the documented variables are declared."""
    declared = set(_batcher(template)["Environment"]["Variables"])

    assert declared == _documented_environment()


@pytest.mark.parametrize(
    ("origin_path", "configured"),
    [("", None), ("/", ""), ("/site", "/site"), ("/a/b", "/a/b")],
    ids=["discover", "root", "site", "nested"],
)
@pytest.mark.parametrize("mode", BUCKET_MODES)
def test_batcher_environment_values(
    template: dict[str, Any], mode: str, origin_path: str, configured: str | None
) -> None:
    """Given two distribution IDs, an OriginPath (empty: discover each distribution's origins;
    /: the bucket root; else an override), in both bucket modes
    When the batcher's environment is evaluated and parsed by its configuration
    Then the IDs arrive comma-separated, the other values come from their parameters, and the
    origin path means what the parameter's description says."""
    evaluator = _mode(
        template, mode, DistributionIds="E2EXAMPLE12345,E3EXAMPLE67890", OriginPath=origin_path
    )

    env = evaluator.evaluate(_batcher(template)["Environment"]["Variables"])
    config = _parsed_batcher_config(env)

    assert env["DISTRIBUTION_IDS"] == "E2EXAMPLE12345,E3EXAMPLE67890"
    assert env["BUCKET_NAME"] == BUCKET
    assert env["KEY_PREFIX"] == ""
    assert env["ORIGIN_PATH"] == origin_path
    assert env["INDEX_DOCUMENT"] == "index.html"
    assert env["STATE_MACHINE_ARN"] == "<TrackerStateMachine>"
    assert env["QUEUE_URL"] == f"<{_event_queue_id(template)}>"
    assert env["DEAD_LETTER_QUEUE_URL"] == f"<{_dead_letter_queue_id(template)}>"
    assert env["TOPIC_ARN"] == "<NotificationTopic>"
    assert env["POWERTOOLS_LOG_LEVEL"] == _batcher(template)["LoggingConfig"]["ApplicationLogLevel"]
    assert config.origin_path == configured
    assert config.bucket_name == BUCKET
    assert config.origin_refresh_seconds == int(env["ORIGIN_REFRESH_SECONDS"])
    assert config.invalidate_deletes is (env["INVALIDATE_DELETES"] == "true")
    assert all(isinstance(value, str) for value in env.values())


@pytest.mark.parametrize(
    ("ids", "create_distribution", "expected"),
    [
        ("E2EXAMPLE12345,E3EXAMPLE67890", "false", ["E2EXAMPLE12345", "E3EXAMPLE67890"]),
        (",E2EXAMPLE12345", "false", ["E2EXAMPLE12345"]),
        ("", "true", [CREATED_DISTRIBUTION_ID]),
        ("E2EXAMPLE12345", "true", [CREATED_DISTRIBUTION_ID, "E2EXAMPLE12345"]),
    ],
    ids=["configured", "empty-item", "created-only", "created-and-configured"],
)
def test_batcher_invalidates_exactly_the_distributions_it_may(
    template: dict[str, Any], ids: str, create_distribution: str, expected: list[str]
) -> None:
    """Given DistributionIds, with or without the distribution the stack creates
    When the batcher's configuration parses DISTRIBUTION_IDS
    Then it lists the created distribution and the configured ones (empty items ignored), which
    are exactly the distributions its CloudFront statement names."""
    evaluator = _evaluator(template, DistributionIds=ids, CreateDistribution=create_distribution)
    ((_, statement),) = _cloudfront_statements(_batcher(template))

    env = evaluator.evaluate(_batcher(template)["Environment"]["Variables"])
    granted = as_list(evaluator.evaluate(statement["Resource"]))

    configured = _parsed_batcher_config(env).distribution_ids
    assert list(configured) == expected
    assert sorted(a.replace(CREATED_DISTRIBUTION, CREATED_DISTRIBUTION_ID) for a in granted) == (
        _distribution_arns(expected)
    )


def test_origin_refresh_is_within_what_the_batcher_accepts(template: dict[str, Any]) -> None:
    """Given the batcher's ORIGIN_REFRESH_SECONDS
    When its configuration parses it and the bounds the configuration states
    Then the template's value is accepted and values outside 10..3600 are refused."""
    value = _batcher(template)["Environment"]["Variables"]["ORIGIN_REFRESH_SECONDS"]

    assert Config.from_env(_valid_env(ORIGIN_REFRESH_SECONDS=value)).origin_refresh_seconds == 300
    for refused in ("9", "3601"):
        with pytest.raises(ConfigError, match="ORIGIN_REFRESH_SECONDS"):
            Config.from_env(_valid_env(ORIGIN_REFRESH_SECONDS=refused))


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


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("/", True), ("/site", True), ("/a/b", True), ("/a.b/c-d_e", True),
     ("site", False), ("/site/", False), ("//", False), ("/a//b", False), ("/a b", False)],
)  # fmt: skip
def test_origin_path_pattern_accepts_only_what_the_batcher_reads_as_meant(
    template: dict[str, Any], value: str, valid: bool
) -> None:
    """Given a candidate OriginPath
    When matching it against AllowedPattern (and, if it passes, parsing it as the batcher does)
    Then empty, / and /a/b-style paths pass and the batcher accepts them; anything the batcher
    would have to guess at (no leading slash, a trailing slash, empty segments) is refused."""
    pattern = template["Parameters"]["OriginPath"]["AllowedPattern"]

    accepted = re.fullmatch(pattern, value) is not None

    assert accepted is valid
    if accepted:
        Config.from_env(_valid_env(ORIGIN_PATH=value))


@pytest.mark.parametrize(("threshold", "allowed"), [("0", True), ("1", False), ("2", True),
                                                    ("10", True), ("3000", True)])  # fmt: skip
def test_rules_reject_a_collapse_threshold_of_one(
    template: dict[str, Any], threshold: str, allowed: bool
) -> None:
    """Given a CollapseThreshold value
    When the template's Rules are evaluated and the batcher parses the same value
    Then both refuse exactly 1 (every single change would become a wildcard)."""
    failed = _failed_rules(template, CollapseThreshold=threshold)

    assert failed == ([] if allowed else ["CollapseThresholdIsNotOne"])
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
    Then each writes to its own log group of this stack, created exactly when it is, and every
    log group has a retention."""
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    used: list[str] = []
    for logical_id, function in _functions(template).items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert set(ref) == {"Ref"}, logical_id
        used.append(ref["Ref"])
        assert log_groups[ref["Ref"]].get("Condition") == function.get("Condition"), logical_id
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
    Then functions run python3.13 on arm64 with active tracing, like the layer is built, and
    every function uses the layer."""
    function_globals = template["Globals"]["Function"]
    layer = template["Resources"]["SharedLayer"]

    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    # Built by layers/shared/Makefile, with python3.13 bytecode (tests/template/test_build.py).
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    for logical_id, function in _functions(template).items():
        assert function["Properties"]["Layers"] == [{"Ref": "SharedLayer"}], logical_id
        assert not {"Runtime", "Architectures"} & set(function["Properties"]), logical_id


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
    assert used == {
        "TopicArn",
        "PollIntervalSeconds",
        "CompletionTimeoutSeconds",
        "MetricsNamespace",
        "ServiceName",
    }


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
    [("E2EXAMPLE12345", True), ("ABCDEFGHJK123", True), ("EDFDVBD6EXAMPLE", True), ("", True),
     ("e2example12345", False), ("E2EXAMPLE", False), ("2EXAMPLE12345", False),
     ("E2EXAMPLE12345,E3EXAMPLE67890", False), (" E2EXAMPLE12345", False)],
)  # fmt: skip
def test_distribution_id_pattern(template: dict[str, Any], value: str, valid: bool) -> None:
    """Given a candidate item of DistributionIds (CloudFormation checks the pattern per item)
    When matching it against AllowedPattern
    Then real IDs, moto's 13-character IDs and an empty item (no IDs beside a created
    distribution; the Rules refuse a list with no ID at all otherwise) pass and anything else
    fails."""
    pattern = template["Parameters"]["DistributionIds"]["AllowedPattern"]

    assert (re.fullmatch(pattern, value) is not None) is valid


def test_samconfig_overrides_satisfy_the_template(template: dict[str, Any]) -> None:
    """Given samconfig.toml's example parameter_overrides
    When checking each value against the template's constraints and Rules
    Then every override names a parameter and passes its pattern, values and range, and no
    Rule refuses the set."""
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
    assert evaluator.failed_rules() == []
    assert evaluator.resources(), "the example creates nothing"


@pytest.mark.parametrize("mode", MODES)
def test_outputs_cover_what_users_and_tests_need(template: dict[str, Any], mode: str) -> None:
    """Given the template's outputs, in each mode
    When evaluating them
    Then every documented output exists and has a description, the bucket is named in both
    bucket modes, and the rule's and the distribution's outputs exist exactly when they do."""
    outputs = template["Outputs"]
    evaluator = _mode(template, mode)

    values = evaluator.outputs()

    assert set(values) >= REQUIRED_OUTPUTS
    for name in outputs:
        assert str(outputs[name].get("Description", "")).strip(), name
    if evaluator.condition("CreatesBucket"):
        assert values["BucketName"] == "<OriginBucket>"
        assert template["Resources"]["OriginBucket"]["Properties"]["BucketName"] == {
            "Ref": "BucketName"
        }
        assert "ObjectEventsRuleArn" not in values
    else:
        assert values["BucketName"] == BUCKET
        assert values["ObjectEventsRuleArn"] == "<ObjectEventsRule.Arn>"
    if evaluator.condition("CreatesDistribution"):
        assert values["DistributionId"] == CREATED_DISTRIBUTION
        assert values["DistributionDomainName"] == "<SiteDistribution.DomainName>"
    else:
        assert not {"DistributionId", "DistributionDomainName"} & set(values)


# Refused by the Rules, but the conditions must not depend on that: a distribution requested in
# front of an existing bucket must still never be created (it would reference no bucket).
REFUSED_DISTRIBUTION = {"CreateBucket": "false", "CreateDistribution": "true"}


@pytest.mark.parametrize("translated", [False, True], ids=["template", "translated"])
@pytest.mark.parametrize("options", [{}, ALL_OPTIONS], ids=["defaults", "all-options"])
@pytest.mark.parametrize("mode", [*MODES, "refused-distribution"])
def test_every_reference_names_a_resource_created_in_the_same_mode(
    template: dict[str, Any], mode: str, options: dict[str, str], translated: bool
) -> None:
    """Given each mode (and a distribution requested for an existing bucket, which the Rules
    refuse), with every optional feature off and on, as written and as SAM translates it
    When evaluating every created resource's properties and DependsOn, and every output
    Then each Ref, Fn::GetAtt and ${...} names a resource that is created too (the evaluator
    raises otherwise: CloudFormation would refuse the stack)."""
    values = MODES.get(mode, REFUSED_DISTRIBUTION) | options
    # samtranslator keeps the conditions: the translation of any mode serves the refused one.
    source = _translated(mode if mode in MODES else "existing-bucket") if translated else template
    evaluator = _evaluator(source, **values)

    resources = evaluator.resources()
    outputs = evaluator.outputs()

    assert {"InvalidationQueue", "BatcherEventSource", "NotificationTopic"} <= set(resources)
    assert set(outputs) >= REQUIRED_OUTPUTS


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
