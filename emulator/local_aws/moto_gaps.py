"""What moto's CloudFormation cannot handle or leaves out, adapted before the deploy and
completed after it through the public APIs (see docs/aws-behaviour.md#where-moto-differs)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3

from emulator.local_aws.deployed import (
    BucketNotification,
    DeployedFunction,
    StackDeployError,
    StackResource,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def adapt_for_moto(cfn_template: dict[str, Any], s3: S3Client) -> None:
    """Rewrite, in place, the few properties moto's CloudFormation does not implement.

    AWS::StepFunctions::StateMachine: moto only reads ``DefinitionString``; it ignores
    ``DefinitionS3Location`` (what SAM emits for a packaged ``DefinitionUri``), ``Definition`` and
    ``DefinitionSubstitutions``. The definition is fetched from the artifacts bucket and each
    ``${Name}`` of DefinitionSubstitutions becomes that substitution's own intrinsic inside an
    ``Fn::Join``, so CloudFormation still resolves every value from the template (``!Ref Topic``,
    ``!Ref PollIntervalSeconds``...). Not ``Fn::Sub``: moto implements it with Python's
    string.Template, which would also turn ASL's ``$$.State...`` context paths into ``$.State...``.
    """
    for resource in cfn_template["Resources"].values():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource.setdefault("Properties", {})
        definition = _definition_string(properties, s3)
        substitutions = properties.pop("DefinitionSubstitutions", None) or {}
        properties["DefinitionString"] = _substituted(definition, substitutions)


_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


def _substituted(definition: Any, substitutions: Mapping[str, Any]) -> Any:
    """``definition`` with ``${Name}`` replaced by ``substitutions[Name]`` (an intrinsic or a
    literal), as an ``Fn::Join`` CloudFormation resolves; unknown names stay as written."""
    if not isinstance(definition, str):  # already an intrinsic: nothing to split
        return definition
    parts: list[Any] = []
    position = 0
    for match in _SUBSTITUTION.finditer(definition):
        if match.group(1) not in substitutions:
            continue
        parts += [definition[position : match.start()], substitutions[match.group(1)]]
        position = match.end()
    if not parts:
        return definition
    parts.append(definition[position:])
    return {"Fn::Join": ["", parts]}


def _definition_string(properties: dict[str, Any], s3: S3Client) -> Any:
    if "DefinitionS3Location" in properties:
        location = properties.pop("DefinitionS3Location")
        obj = s3.get_object(Bucket=location["Bucket"], Key=location["Key"])
        body = obj["Body"].read().decode("utf-8")
        json.loads(body)  # fail here, clearly, if the ASL file is not valid JSON
        return body
    if "Definition" in properties:
        return json.dumps(properties.pop("Definition"), indent=2)
    return properties.get("DefinitionString", "")


class Resolver:
    """Resolves a template fragment against the deployed stack with moto's own intrinsics.

    Uses moto internals (``clean_json`` and the stack's ``resource_map``, stable within the
    pinned moto 5.2.x) so that Ref/GetAtt/Sub/If/conditions resolve exactly as they did for every
    other property of the stack.
    """

    def __init__(self, account_id: str, region: str, stack_id: str) -> None:
        from moto.cloudformation.models import cloudformation_backends

        self._resource_map = (
            cloudformation_backends[account_id][region].stacks[stack_id].resource_map
        )

    def __call__(self, fragment: Any) -> Any:
        from moto.cloudformation.parsing import clean_json

        return _as_cloudformation(clean_json(copy.deepcopy(fragment), self._resource_map))


def _as_cloudformation(value: Any) -> Any:
    """Fix what moto's resolver returns differently from CloudFormation.

    List items that resolved to ``AWS::NoValue`` are dropped (moto keeps them as None), and a
    ``Ref`` to a model without a physical ID (AWS::Lambda::LayerVersion) gives its ARN instead of
    the model object.
    """
    if isinstance(value, list):
        return [_as_cloudformation(item) for item in value if item is not None]
    if isinstance(value, dict):
        return {k: _as_cloudformation(v) for k, v in value.items() if v is not None}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(getattr(value, "arn", value))


def created_resources(
    cfn_template: Mapping[str, Any], resource_type: str, resolve: Callable[[Any], Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of the template's resources of a type whose Condition held.

    Decided from the template, not from DescribeStackResources: moto lists the resource types it
    skips (AWS::SQS::QueuePolicy) without their logical IDs.
    """
    for logical_id, resource in cfn_template["Resources"].items():
        if resource.get("Type") != resource_type:
            continue
        condition = resource.get("Condition")
        if condition is None or resolve({"Fn::If": [condition, True, False]}):
            yield logical_id, resource.get("Properties", {})


@dataclass(frozen=True)
class MotoGaps:
    """Completes, through the public APIs, what moto's CloudFormation leaves out."""

    session: boto3.Session
    cfn_template: Mapping[str, Any]
    resources: Mapping[str, StackResource]
    resolve: Callable[[Any], Any]

    def attach_layers(self) -> None:
        # moto's AWS::Lambda::Function ignores Layers (and its Ref of a layer is not an ARN).
        lam = self.session.client("lambda")
        for logical_id, properties in created_resources(
            self.cfn_template, "AWS::Lambda::Function", self.resolve
        ):
            refs = [ref["Ref"] for ref in properties.get("Layers", []) if isinstance(ref, dict)]
            arns = [self.resources[ref].physical_id for ref in refs if ref in self.resources]
            if arns:
                name = self.resources[logical_id].physical_id
                lam.update_function_configuration(FunctionName=name, Layers=arns)

    def stringify_environments(self) -> None:
        # Lambda's Environment.Variables is a map of strings, and CloudFormation passes a Number
        # parameter's Ref there as its string ("8"). moto's CloudFormation stores the int it
        # parsed the parameter into, which GetFunctionConfiguration then returns (and which
        # os.environ refuses). Write the variables back as the strings AWS would hold.
        lam = self.session.client("lambda")
        for logical_id, _ in created_resources(
            self.cfn_template, "AWS::Lambda::Function", self.resolve
        ):
            name = self.resources[logical_id].physical_id
            config = lam.get_function_configuration(FunctionName=name)
            variables: Mapping[str, Any] = config.get("Environment", {}).get("Variables", {})
            if all(isinstance(value, str) for value in variables.values()):
                continue
            lam.update_function_configuration(
                FunctionName=name,
                Environment={"Variables": {k: _cfn_string(v) for k, v in variables.items()}},
            )

    def disable_moto_poller(self, function: DeployedFunction) -> None:
        # An enabled mapping makes moto's SQS invoke the function on every SendMessage, which
        # needs Docker. The local poller (emulator.local_aws.poller) replaces it, so moto's copy is
        # switched off; the settings it reported are kept in DeployedFunction.event_sources.
        lam = self.session.client("lambda")
        for mapping in function.event_sources:
            lam.update_event_source_mapping(UUID=mapping.uuid, Enabled=False)

    def apply_queue_policies(self) -> list[StackResource]:
        # moto's CloudFormation has no AWS::SQS::QueuePolicy model (it skips it). moto's SQS never
        # enforces a policy, but setting it keeps GetQueueAttributes(Policy) as on AWS.
        sqs = self.session.client("sqs")
        applied: list[StackResource] = []
        for logical_id, properties in created_resources(
            self.cfn_template, "AWS::SQS::QueuePolicy", self.resolve
        ):
            document = json.dumps(self.resolve(properties["PolicyDocument"]))
            for queue_url in self.resolve(properties["Queues"]):
                sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": document})
            applied.append(
                StackResource(logical_id, "AWS::SQS::QueuePolicy", self._name(logical_id))
            )
        return applied

    def apply_topic_policies(self) -> list[StackResource]:
        # moto's CloudFormation has no AWS::SNS::TopicPolicy model. moto does not enforce topic
        # policies, but setting them keeps the topic's Policy attribute as on AWS.
        # AWS::S3::BucketPolicy is left out on purpose (it stays in not_emulated): moto enforces
        # bucket policies and treats every mocked request as not using TLS, so the bucket's
        # TLS-only deny would refuse every upload. tests/template/ checks that policy instead.
        sns = self.session.client("sns")
        applied: list[StackResource] = []
        for logical_id, properties in created_resources(
            self.cfn_template, "AWS::SNS::TopicPolicy", self.resolve
        ):
            document = json.dumps(self.resolve(properties["PolicyDocument"]))
            for topic_arn in self.resolve(properties["Topics"]):
                sns.set_topic_attributes(
                    TopicArn=topic_arn, AttributeName="Policy", AttributeValue=document
                )
            applied.append(
                StackResource(logical_id, "AWS::SNS::TopicPolicy", self._name(logical_id))
            )
        return applied

    def apply_alarms(self) -> list[StackResource]:
        # moto's CloudFormation has no AWS::CloudWatch::Alarm model; PutMetricAlarm takes the
        # same property names.
        cloudwatch = self.session.client("cloudwatch")
        applied: list[StackResource] = []
        for logical_id, properties in created_resources(
            self.cfn_template, "AWS::CloudWatch::Alarm", self.resolve
        ):
            alarm = {k: v for k, v in self.resolve(properties).items() if k in _ALARM_PROPERTIES}
            alarm.setdefault("AlarmName", self._name(logical_id))
            cloudwatch.put_metric_alarm(**alarm)
            applied.append(StackResource(logical_id, "AWS::CloudWatch::Alarm", alarm["AlarmName"]))
        return applied

    def _name(self, logical_id: str) -> str:
        """A physical name like CloudFormation generates: <stack>-<logical id>-<suffix>."""
        stack_name = str(self.resolve({"Ref": "AWS::StackName"}))
        suffix = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
        return f"{stack_name}-{logical_id}-{suffix}"

    def register_state_machines(self) -> None:
        # moto's CloudFormation creates state machines in its plain Step Functions backend, but
        # with execute_state_machine=True the API serves (and runs) them from a separate parser
        # backend, where StartExecution would not find them. Register each one there through the
        # public API with the same name (hence the same ARN), definition, role and type; moto's
        # ASL parser validates the definition here, as CloudFormation does on AWS.
        from moto.stepfunctions.models import stepfunctions_backends

        sfn = self.session.client("stepfunctions")
        region = self.session.region_name
        for logical_id, properties in created_resources(
            self.cfn_template, "AWS::StepFunctions::StateMachine", self.resolve
        ):
            arn = self.resources[logical_id].physical_id
            account_id = arn.split(":")[4]
            machine = stepfunctions_backends[account_id][region].describe_state_machine(arn)
            registered = sfn.create_state_machine(
                name=machine.name,
                definition=machine.definition,
                roleArn=machine.roleArn,
                type=properties.get("StateMachineType", "STANDARD"),
            )
            if registered["stateMachineArn"] != arn:
                raise StackDeployError(f"{logical_id}: registered as {registered} instead of {arn}")

    def apply_bucket_notifications(self) -> tuple[BucketNotification, ...]:
        # moto's CloudFormation ignores AWS::S3::Bucket NotificationConfiguration. Apply the
        # resolved configuration with the API, as CloudFormation does on AWS (moto then sends the
        # s3:TestEvent, like S3 does when a configuration is set).
        s3 = self.session.client("s3")
        applied: list[BucketNotification] = []
        for logical_id, properties in created_resources(
            self.cfn_template, "AWS::S3::Bucket", self.resolve
        ):
            if "NotificationConfiguration" not in properties:
                continue
            configuration = _to_api_notification(
                self.resolve(properties["NotificationConfiguration"])
            )
            bucket = self.resources[logical_id].physical_id
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=cast(Any, configuration)
            )
            applied.append(BucketNotification(bucket=bucket, configuration=configuration))
        return tuple(applied)


def _cfn_string(value: Any) -> str:
    """A resolved scalar as CloudFormation renders it into a string property."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_ALARM_PROPERTIES = frozenset(
    {
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "ThresholdMetricId",
    }
)

_NOTIFICATION_TARGETS = (
    # CloudFormation list, its target property -> API list, its target property
    ("QueueConfigurations", "Queue", "QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "Topic", "TopicConfigurations", "TopicArn"),
    ("LambdaConfigurations", "Function", "LambdaFunctionConfigurations", "LambdaFunctionArn"),
)


def _to_api_notification(cfn: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration schema -> the S3 API's."""
    api: dict[str, Any] = {}
    for cfn_list, cfn_target, api_list, api_target in _NOTIFICATION_TARGETS:
        entries = [_to_api_entry(e, cfn_target, api_target) for e in cfn.get(cfn_list, [])]
        if entries:
            api[api_list] = entries
    if cfn.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") in (True, "true"):
        api["EventBridgeConfiguration"] = {}
    return api


def _to_api_entry(entry: Mapping[str, Any], cfn_target: str, api_target: str) -> dict[str, Any]:
    api_entry: dict[str, Any] = {api_target: entry[cfn_target], "Events": [entry["Event"]]}
    rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    if rules:
        api_entry["Filter"] = {
            "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
        }
    return api_entry
