"""Deploy the real ``template.yaml`` into moto, the way ``sam package`` + ``sam deploy`` would.

Call :func:`deploy_stack` inside an active
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``. It

1. packages the template like ``sam package``: every local ``CodeUri`` / ``ContentUri`` folder is
   zipped and every local ``DefinitionUri`` file uploaded to an artifacts bucket in moto's S3, and
   the template is rewritten to point at the ``s3://`` locations;
2. translates the SAM template to CloudFormation with ``samtranslator`` (offline: the bundled
   managed-policy map, no IAM calls);
3. rewrites only what moto's CloudFormation cannot handle (each rewrite says why, see
   :func:`_adapt_for_moto`);
4. creates the stack with moto's CloudFormation and waits for ``CREATE_COMPLETE``;
5. completes, through the public APIs, what moto's CloudFormation leaves out (see
   :func:`_complete_what_moto_skips`): queue policies, bucket notifications, the state machine's
   registration with the executing Step Functions backend, and moto's own SQS poller.

Every setting reported in :class:`DeployedStack` is read back from the deployed resources, so
nothing here hand-copies a value from the template.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import yaml

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "BucketNotification",
    "DeployedFunction",
    "DeployedStack",
    "EventSourceMapping",
    "StackDeployError",
    "StackResource",
    "deploy_stack",
    "load_template",
]

ParameterValue = str | int | float | Sequence[str]

_PACKAGE_EXCLUDES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
# Fixed timestamp so that packaging the same folder twice gives the same zip (and S3 key), as
# `sam package` does with its content hash.
_ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)
_TERMINAL_CREATE_STATES = frozenset({"CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE"})


class StackDeployError(RuntimeError):
    """The template could not be packaged, translated or deployed."""


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    resource_type: str
    physical_id: str


@dataclass(frozen=True)
class EventSourceMapping:
    """The SQS event source mapping as deployed (template values resolved with the parameters)."""

    uuid: str
    queue_arn: str
    batch_size: int
    maximum_batching_window_seconds: int
    function_response_types: tuple[str, ...]
    maximum_concurrency: int | None
    enabled: bool
    """As declared. moto's own copy is disabled after deployment (see ``_disable_moto_poller``)."""

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class DeployedFunction:
    """A Lambda function as deployed, plus the local folders its package was built from."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, str]
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    event_sources: tuple[EventSourceMapping, ...]


@dataclass(frozen=True)
class BucketNotification:
    """A bucket's NotificationConfiguration, as applied with PutBucketNotificationConfiguration."""

    bucket: str
    configuration: Mapping[str, Any]

    def queue_filters(self) -> dict[str, list[dict[str, str]]]:
        """Queue ARN -> the key filter rules of its configurations (empty when unfiltered)."""
        filters: dict[str, list[dict[str, str]]] = {}
        for entry in self.configuration.get("QueueConfigurations", []):
            rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            filters.setdefault(entry["QueueArn"], []).extend(rules)
        return filters


@dataclass(frozen=True)
class DeployedStack:
    stack_name: str
    stack_id: str
    region: str
    account_id: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    resources: Mapping[str, StackResource]
    function: DeployedFunction
    bucket_notifications: tuple[BucketNotification, ...]
    cloudformation_template: Mapping[str, Any] = field(repr=False)
    """The translated (and moto-adapted) template that was deployed."""

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(f"no resource {logical_id!r} in stack {self.stack_name}") from None

    def of_type(self, resource_type: str) -> tuple[StackResource, ...]:
        return tuple(r for r in self.resources.values() if r.resource_type == resource_type)

    def single(self, resource_type: str) -> StackResource:
        """The one resource of a type; fails loudly if the template has none or several."""
        found = self.of_type(resource_type)
        if len(found) != 1:
            names = [r.logical_id for r in found]
            raise LookupError(f"expected exactly one {resource_type}, found {names}")
        return found[0]

    @property
    def event_source(self) -> EventSourceMapping:
        """The function's SQS event source mapping (the template declares exactly one)."""
        sqs_sources = [e for e in self.function.event_sources if ":sqs:" in e.queue_arn]
        if len(sqs_sources) != 1:
            raise LookupError(f"expected one SQS event source, found {len(sqs_sources)}")
        return sqs_sources[0]


# --------------------------------------------------------------------------------------------
# Template loading (CloudFormation short-form tags)
# --------------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands ``!Ref``, ``!GetAtt``, ``!Sub``... like CloudFormation."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


def _construct_plain_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # CloudFormation reads 2010-09-09 as a string, not a date.
    return str(loader.construct_scalar(cast(yaml.ScalarNode, node)))


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_plain_string)


def load_template(template_path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) template into plain dicts."""
    loaded = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise StackDeployError(f"{template_path} is not a CloudFormation template")
    return cast(dict[str, Any], loaded)


# --------------------------------------------------------------------------------------------
# Packaging (what `sam package` does for local paths)
# --------------------------------------------------------------------------------------------


@dataclass
class _Packager:
    s3: S3Client
    bucket: str
    base_dir: Path
    local_dirs: dict[str, Path] = field(default_factory=dict)
    """s3:// URI -> the local folder or file it was built from."""

    def package_dir(self, relative: str) -> str:
        folder = (self.base_dir / relative).resolve()
        if not folder.is_dir():
            raise StackDeployError(f"{relative!r} (resolved to {folder}) is not a folder")
        return self._upload(_zip_folder(folder), suffix=".zip", local=folder)

    def package_file(self, relative: str) -> str:
        path = (self.base_dir / relative).resolve()
        if not path.is_file():
            raise StackDeployError(f"{relative!r} (resolved to {path}) is not a file")
        return self._upload(path.read_bytes(), suffix=path.suffix, local=path)

    def _upload(self, body: bytes, *, suffix: str, local: Path) -> str:
        key = hashlib.md5(body, usedforsecurity=False).hexdigest() + suffix
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        uri = f"s3://{self.bucket}/{key}"
        self.local_dirs[uri] = local
        return uri


def _zip_folder(folder: Path) -> bytes:
    # The layer is zipped as-is rather than built into python/ like `sam build`: moto never runs
    # the package (the local poller imports the handler from the source folders instead).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_dir() or _PACKAGE_EXCLUDES.intersection(relative.parts):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


_LOCAL_ARTIFACT_PROPERTIES: Mapping[str, tuple[str, bool]] = {
    # resource type -> (property, is a folder)
    "AWS::Serverless::Function": ("CodeUri", True),
    "AWS::Serverless::LayerVersion": ("ContentUri", True),
    "AWS::Serverless::StateMachine": ("DefinitionUri", False),
}


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _package(template: dict[str, Any], packager: _Packager) -> None:
    """Replace local artifact paths with s3:// URIs, in place (``sam package``)."""
    function_globals = template.get("Globals", {}).get("Function", {})
    for resource in template["Resources"].values():
        artifact = _LOCAL_ARTIFACT_PROPERTIES.get(resource.get("Type", ""))
        if artifact is None:
            continue
        prop, is_folder = artifact
        properties = resource.setdefault("Properties", {})
        value = properties.get(prop)
        if value is None and resource["Type"] == "AWS::Serverless::Function":
            value = function_globals.get(prop)
        if not _is_local_path(value):
            continue
        properties[prop] = packager.package_dir(value) if is_folder else packager.package_file(value)


# --------------------------------------------------------------------------------------------
# Translation (SAM -> CloudFormation) and the rewrites moto needs
# --------------------------------------------------------------------------------------------


def _translate(sam_template: dict[str, Any], parameters: Mapping[str, str], region: str) -> Any:
    # Imported lazily: samtranslator is a sizeable import that only deployment needs.
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    template = copy.deepcopy(sam_template)
    parameter_values: dict[str, Any] = dict(parameters)
    to_py27_compatible_template(template, parameter_values)
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    translated = translator.translate(
        template,
        parameter_values=parameter_values,
        # Offline: samtranslator's bundled AWS managed-policy map answers every name it knows;
        # an unknown name is left as written instead of asking IAM.
        get_managed_policy_map=dict,
    )
    return undo_mark_unicode_str_in_template(translated)


def _adapt_for_moto(cfn_template: dict[str, Any], s3: S3Client) -> None:
    """Rewrite, in place, the few properties moto's CloudFormation does not implement.

    AWS::StepFunctions::StateMachine: moto only reads ``DefinitionString``; it ignores
    ``DefinitionS3Location`` (what SAM emits for a packaged ``DefinitionUri``), ``Definition`` and
    ``DefinitionSubstitutions``. The definition is fetched from the artifacts bucket and the
    substitutions are handed to CloudFormation's own ``Fn::Sub`` with the same variable map, which
    resolves ``${Name}`` exactly as DefinitionSubstitutions does (every value still comes from the
    template: ``!Ref Topic``, ``!Ref PollIntervalSeconds``...).
    """
    for resource in cfn_template["Resources"].values():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource.setdefault("Properties", {})
        definition = _definition_string(properties, s3)
        substitutions = properties.pop("DefinitionSubstitutions", None)
        properties["DefinitionString"] = (
            {"Fn::Sub": [definition, substitutions]} if substitutions else definition
        )


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


# --------------------------------------------------------------------------------------------
# Stack creation
# --------------------------------------------------------------------------------------------


def _require_moto(region: str) -> None:
    from moto.core.config import default_user_config
    from moto.core.models import MockAWS

    if MockAWS._nested_count < 1:  # noqa: SLF001 - the only way to ask moto if it is active
        raise StackDeployError("deploy_stack must run inside moto's mock_aws(): refusing real AWS")
    if not default_user_config.get("stepfunctions", {}).get("execute_state_machine", False):
        raise StackDeployError(
            'use mock_aws(config={"stepfunctions": {"execute_state_machine": True}}) '
            "so that the tracker state machine really runs"
        )
    if not region:
        raise StackDeployError("no AWS region: set AWS_DEFAULT_REGION or pass a session")


def _check_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise StackDeployError(f"parameters not declared by the template: {unknown}")
    missing = sorted(
        name for name, spec in declared.items() if "Default" not in spec and name not in parameters
    )
    if missing:
        raise StackDeployError(f"parameters without a default need a value: {missing}")


def _parameter_string(value: ParameterValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ",".join(value)


def _create_stack(
    cfn: CloudFormationClient,
    stack_name: str,
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    timeout_seconds: float,
) -> str:
    created = cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack_id = created["StackId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack_id
        if status in _TERMINAL_CREATE_STATES or time.monotonic() > deadline:
            raise StackDeployError(f"stack {stack_name} ended in {status}: {_failures(cfn, stack_id)}")
        time.sleep(0.1)


def _failures(cfn: CloudFormationClient, stack_id: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ]


# --------------------------------------------------------------------------------------------
# What moto's CloudFormation skips, completed through the public APIs
# --------------------------------------------------------------------------------------------


class _Resolver:
    """Resolves a template fragment against the deployed stack with moto's own intrinsics.

    Uses moto internals (``clean_json`` and the stack's ``resource_map``, stable within the
    pinned moto 5.2.x) so that Ref/GetAtt/Sub/If/conditions resolve exactly as they did for every
    other property of the stack.
    """

    def __init__(self, account_id: str, region: str, stack_id: str) -> None:
        from moto.cloudformation.models import cloudformation_backends

        self._resource_map = cloudformation_backends[account_id][region].stacks[stack_id].resource_map

    def __call__(self, fragment: Any) -> Any:
        from moto.cloudformation.parsing import clean_json

        return clean_json(copy.deepcopy(fragment), self._resource_map)


def _complete_what_moto_skips(
    session: boto3.Session,
    cfn_template: Mapping[str, Any],
    resources: Mapping[str, StackResource],
    resolve: Callable[[Any], Any],
) -> tuple[BucketNotification, ...]:
    _apply_queue_policies(session, cfn_template, resources, resolve)
    _register_state_machines(session, resources)
    return tuple(_apply_bucket_notifications(session, cfn_template, resources, resolve))


def _deployed(
    cfn_template: Mapping[str, Any], resources: Mapping[str, StackResource], resource_type: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of the template's resources of a type that were created."""
    for logical_id, resource in cfn_template["Resources"].items():
        if resource.get("Type") == resource_type and logical_id in resources:
            yield logical_id, resource.get("Properties", {})


def _apply_queue_policies(
    session: boto3.Session,
    cfn_template: Mapping[str, Any],
    resources: Mapping[str, StackResource],
    resolve: Callable[[Any], Any],
) -> None:
    # moto's CloudFormation has no AWS::SQS::QueuePolicy model (it warns and skips it). moto's SQS
    # never enforces a policy, but setting it keeps GetQueueAttributes(Policy) as on AWS.
    sqs = session.client("sqs")
    for _, properties in _deployed(cfn_template, resources, "AWS::SQS::QueuePolicy"):
        document = json.dumps(resolve(properties["PolicyDocument"]))
        for queue_url in resolve(properties["Queues"]):
            sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": document})


def _register_state_machines(session: boto3.Session, resources: Mapping[str, StackResource]) -> None:
    # moto's CloudFormation creates state machines in its plain Step Functions backend, while the
    # API with execute_state_machine=True serves (and runs) them from a separate parser backend,
    # so StartExecution would not find them. Register each one there through the public API with
    # the same name (hence the same ARN), definition and role; moto's parser also validates the
    # ASL here, as CloudFormation does on AWS.
    from moto.stepfunctions.models import stepfunctions_backends

    sfn = session.client("stepfunctions")
    account_id = session.client("sts").get_caller_identity()["Account"]
    deployed = stepfunctions_backends[account_id][cast(str, session.region_name)]
    for resource in resources.values():
        if resource.resource_type != "AWS::StepFunctions::StateMachine":
            continue
        machine = deployed.describe_state_machine(resource.physical_id)
        registered = sfn.create_state_machine(
            name=machine.name,
            definition=machine.definition,
            roleArn=machine.roleArn,
            type=getattr(machine, "type", None) or "STANDARD",
        )
        if registered["stateMachineArn"] != resource.physical_id:
            raise StackDeployError(f"state machine ARN mismatch for {resource.logical_id}")


def _apply_bucket_notifications(
    session: boto3.Session,
    cfn_template: Mapping[str, Any],
    resources: Mapping[str, StackResource],
    resolve: Callable[[Any], Any],
) -> Iterator[BucketNotification]:
    # moto's CloudFormation ignores AWS::S3::Bucket NotificationConfiguration. Apply the resolved
    # configuration with the API, as CloudFormation does on AWS (moto then sends the s3:TestEvent,
    # like S3 does when the configuration is set).
    s3 = session.client("s3")
    for logical_id, properties in _deployed(cfn_template, resources, "AWS::S3::Bucket"):
        if "NotificationConfiguration" not in properties:
            continue
        configuration = _to_api_notification(resolve(properties["NotificationConfiguration"]))
        bucket = resources[logical_id].physical_id
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration=cast(Any, configuration),
        )
        yield BucketNotification(bucket=bucket, configuration=configuration)


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


# --------------------------------------------------------------------------------------------
# Reading the deployment back
# --------------------------------------------------------------------------------------------


def _describe_function(
    session: boto3.Session,
    logical_id: str,
    resources: Mapping[str, StackResource],
    local_dirs: Mapping[str, Path],
    sam_template: Mapping[str, Any],
) -> DeployedFunction:
    lam: LambdaClient = session.client("lambda")
    name = resources[logical_id].physical_id
    config = lam.get_function_configuration(FunctionName=name)
    layer_arns = [layer["Arn"] for layer in config.get("Layers", [])]
    mappings = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    return DeployedFunction(
        logical_id=logical_id,
        name=config["FunctionName"],
        arn=config["FunctionArn"],
        handler=config["Handler"],
        runtime=config["Runtime"],
        timeout_seconds=int(config["Timeout"]),
        memory_mb=int(config["MemorySize"]),
        environment=dict(config.get("Environment", {}).get("Variables", {})),
        code_dir=_local_source(sam_template, logical_id, "CodeUri", local_dirs),
        layer_dirs=tuple(_layer_dir(arn, resources, sam_template, local_dirs) for arn in layer_arns),
        event_sources=tuple(_event_source(m) for m in mappings),
    )


def _local_source(
    sam_template: Mapping[str, Any], logical_id: str, prop: str, local_dirs: Mapping[str, Path]
) -> Path:
    resource = sam_template["Resources"][logical_id]
    uri = resource.get("Properties", {}).get(prop)
    if uri is None and prop == "CodeUri":
        uri = sam_template.get("Globals", {}).get("Function", {}).get(prop)
    if uri not in local_dirs:
        raise StackDeployError(f"{logical_id}.{prop} was not built from a local folder: {uri!r}")
    return local_dirs[uri]


def _layer_dir(
    layer_arn: str,
    resources: Mapping[str, StackResource],
    sam_template: Mapping[str, Any],
    local_dirs: Mapping[str, Path],
) -> Path:
    for resource in resources.values():
        if resource.physical_id == layer_arn:
            return _local_source(sam_template, resource.logical_id, "ContentUri", local_dirs)
    raise StackDeployError(f"layer {layer_arn} is not one of this stack's layers")


def _event_source(mapping: Mapping[str, Any]) -> EventSourceMapping:
    scaling = mapping.get("ScalingConfig") or {}
    concurrency = scaling.get("MaximumConcurrency")
    return EventSourceMapping(
        uuid=mapping["UUID"],
        queue_arn=mapping["EventSourceArn"],
        batch_size=int(mapping["BatchSize"]),
        maximum_batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
        function_response_types=tuple(mapping.get("FunctionResponseTypes") or ()),
        maximum_concurrency=int(concurrency) if concurrency is not None else None,
        enabled=mapping.get("State", "Enabled") == "Enabled",
    )


def _disable_moto_poller(session: boto3.Session, function: DeployedFunction) -> None:
    # An enabled mapping makes moto's SQS invoke the function on every SendMessage, which needs
    # Docker. The local poller (emulator.poller) replaces it, so moto's copy is switched off; the
    # settings it reported are kept in DeployedFunction.event_sources.
    lam = session.client("lambda")
    for mapping in function.event_sources:
        lam.update_event_source_mapping(UUID=mapping.uuid, Enabled=False)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def deploy_stack(
    template_path: Path,
    parameters: Mapping[str, ParameterValue] | None = None,
    *,
    stack_name: str = "cfinv-local",
    function_logical_id: str = "BatcherFunction",
    artifacts_bucket: str = "cfinv-local-artifacts",
    session: boto3.Session | None = None,
    timeout_seconds: float = 60.0,
) -> DeployedStack:
    """Package, translate and deploy ``template_path`` into moto; return what was deployed.

    ``parameters`` are the overrides (``sam deploy --parameter-overrides``); lists are joined
    with commas for CommaDelimitedList parameters. Must run inside an active ``mock_aws`` with
    ``execute_state_machine`` enabled.
    """
    session = session or boto3.Session()
    region = session.region_name or ""
    _require_moto(region)
    overrides = {k: _parameter_string(v) for k, v in (parameters or {}).items()}
    sam_template = load_template(template_path)
    _check_parameters(sam_template, overrides)

    s3: S3Client = session.client("s3")
    s3.create_bucket(Bucket=artifacts_bucket)
    packager = _Packager(s3=s3, bucket=artifacts_bucket, base_dir=template_path.parent)
    _package(sam_template, packager)
    cfn_template = _translate(sam_template, overrides, region)
    _adapt_for_moto(cfn_template, s3)

    cfn: CloudFormationClient = session.client("cloudformation")
    stack_id = _create_stack(cfn, stack_name, cfn_template, overrides, timeout_seconds)
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    account_id = stack_id.split(":")[4]
    resources = {
        r["LogicalResourceId"]: StackResource(
            r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId", "")
        )
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }
    resolve = _Resolver(account_id, region, stack_id)
    notifications = _complete_what_moto_skips(session, cfn_template, resources, resolve)
    function = _describe_function(
        session, function_logical_id, resources, packager.local_dirs, sam_template
    )
    _disable_moto_poller(session, function)
    return DeployedStack(
        stack_name=stack_name,
        stack_id=stack_id,
        region=region,
        account_id=account_id,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        function=function,
        bucket_notifications=notifications,
        cloudformation_template=cfn_template,
    )
