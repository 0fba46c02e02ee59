"""Deploy the real ``template.yaml`` into moto, the way ``sam package`` + ``sam deploy`` would.

Call :func:`deploy_stack` inside an active
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``. It

1. checks the parameters as CloudFormation does before creating anything (names, required
   values, AllowedValues/AllowedPattern/length/range constraints, the template's Rules), none of
   which moto checks;
2. packages the template like ``sam package``: every local ``CodeUri`` / ``ContentUri`` folder is
   zipped and every local ``DefinitionUri`` file uploaded to an artifacts bucket in moto's S3, and
   the template is rewritten to point at the ``s3://`` locations;
3. translates the SAM template to CloudFormation with ``samtranslator`` (offline: the bundled
   managed-policy map, no IAM calls);
4. rewrites only what moto's CloudFormation cannot handle, the state machine's definition (see
   :func:`_adapt_for_moto`);
5. creates the stack with moto's CloudFormation and waits for ``CREATE_COMPLETE``;
6. completes, through the public APIs, what moto's CloudFormation leaves out (see
   :class:`_MotoGaps`): the function's layers, its environment variables as strings, the queue
   policy, the alarm, the state machine's registration with the Step Functions backend that runs
   executions, and the bucket's notification configuration (which makes moto send the
   s3:TestEvent, as S3 does); moto's own SQS poller is switched off, because
   emulator.local_aws.poller replaces it.

Template values are resolved by moto's own intrinsic-function resolver against the deployed
stack, and every setting reported in :class:`DeployedStack` is read back from the deployed
resources (or resolved from the template), so nothing here hand-copies a value.

Every setting reported in :class:`DeployedStack` is read back from the deployed resources, so
nothing here hand-copies a value from the template.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import yaml
from botocore.exceptions import ClientError

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
    """As declared. moto's own copy is then disabled (see ``_MotoGaps.disable_moto_poller``)."""

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
    not_emulated: tuple[StackResource, ...]
    """Resources the template creates that moto skipped and this module does not complete
    (physical_id is empty)."""
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


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
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
    local_sources: dict[str, Path] = field(default_factory=dict)
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
        self.local_sources[uri] = local
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
        properties[prop] = (
            packager.package_dir(value) if is_folder else packager.package_file(value)
        )


# --------------------------------------------------------------------------------------------
# Translation (SAM -> CloudFormation) and the rewrites moto needs
# --------------------------------------------------------------------------------------------


def _translate(sam_template: dict[str, Any], parameters: Mapping[str, str], region: str) -> Any:
    # Imported lazily: samtranslator is a sizeable import that only deployment needs.
    from samtranslator.model.exceptions import InvalidDocumentException
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
    try:
        translated = translator.translate(
            template,
            parameter_values=parameter_values,
            # Offline: samtranslator's bundled AWS managed-policy map answers every name it
            # knows; an unknown name is left as written instead of asking IAM.
            get_managed_policy_map=dict,
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise StackDeployError(f"SAM translation failed: {causes}") from exc
    return undo_mark_unicode_str_in_template(translated)


def _adapt_for_moto(cfn_template: dict[str, Any], s3: S3Client) -> None:
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


# --------------------------------------------------------------------------------------------
# Stack creation
# --------------------------------------------------------------------------------------------


def _require_moto(region: str) -> None:
    from moto.core.config import default_user_config
    from moto.core.models import MockAWS

    # MockAWS._nested_count is the only way to ask moto whether a mock is active.
    if MockAWS._nested_count < 1:
        raise StackDeployError("deploy_stack must run inside moto's mock_aws(): refusing real AWS")
    if not default_user_config.get("stepfunctions", {}).get("execute_state_machine", False):
        raise StackDeployError(
            'use mock_aws(config={"stepfunctions": {"execute_state_machine": True}}) '
            "so that the tracker state machine really runs"
        )
    if not region:
        raise StackDeployError("no AWS region: set AWS_DEFAULT_REGION or pass a session")


def _check_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    """What CloudFormation checks before it creates anything (moto checks none of it):
    declared names, required values, each parameter's constraints, and the template's Rules."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise StackDeployError(f"parameters not declared by the template: {unknown}")
    missing = sorted(
        name for name, spec in declared.items() if "Default" not in spec and name not in parameters
    )
    if missing:
        raise StackDeployError(f"parameters without a default need a value: {missing}")
    effective = _effective_parameters(template, parameters)
    problems = [
        problem
        for name, spec in declared.items()
        for problem in _constraint_problems(name, spec, effective[name])
    ]
    problems += _failed_rule_assertions(template, effective)
    if problems:
        raise StackDeployError("invalid parameters: " + "; ".join(problems))


def _is_list_type(spec: Mapping[str, Any]) -> bool:
    kind = str(spec.get("Type", "String"))
    return kind == "CommaDelimitedList" or kind.startswith("List<")


def _constraint_problems(name: str, spec: Mapping[str, Any], value: str) -> list[str]:
    problems: list[str] = []
    items = value.split(",") if _is_list_type(spec) else [value]
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    pattern = spec.get("AllowedPattern")
    for item in items:
        if allowed and item not in allowed:
            problems.append(f"{name}={item!r} is not one of {allowed}")
        if pattern is not None and not re.fullmatch(str(pattern), item):
            problems.append(f"{name}={item!r}: {spec.get('ConstraintDescription', pattern)}")
    length_range = int(spec.get("MinLength", 0)), int(spec.get("MaxLength", 1 << 20))
    if spec.get("Type", "String") == "String" and not (
        length_range[0] <= len(value) <= length_range[1]
    ):
        problems.append(f"{name}: length {len(value)} is not within {length_range}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [*problems, f"{name}={value!r} is not a number"]
        low, high = spec.get("MinValue", float("-inf")), spec.get("MaxValue", float("inf"))
        if not float(low) <= number <= float(high):
            problems.append(f"{name}={value}: {spec.get('ConstraintDescription', 'out of range')}")
    return problems


def _failed_rule_assertions(
    template: Mapping[str, Any], parameters: Mapping[str, str]
) -> list[str]:
    """The AssertDescription of every Rules assertion that fails (rules whose RuleCondition
    holds). moto ignores the Rules section; CloudFormation refuses the stack."""
    values: dict[str, Any] = {
        name: value.split(",") if _is_list_type(spec) else value
        for name, spec in template.get("Parameters", {}).items()
        if (value := parameters.get(name)) is not None
    }
    failed: list[str] = []
    for rule_name, rule in template.get("Rules", {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _rule_value(condition, values):
            continue
        for assertion in rule.get("Assertions", []):
            if not _rule_value(assertion["Assert"], values):
                failed.append(f"rule {rule_name}: {assertion.get('AssertDescription', 'failed')}")
    return failed


def _rule_value(node: Any, values: Mapping[str, Any]) -> Any:
    """Evaluate a Rules expression (the functions CloudFormation allows there)."""
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return values[node["Ref"]]
    (function, argument), *_ = node.items()
    args = [_rule_value(a, values) for a in argument] if isinstance(argument, list) else argument
    if function == "Fn::And":
        return all(args)
    if function == "Fn::Or":
        return any(args)
    if function == "Fn::Not":
        return not args[0]
    if function == "Fn::Equals":
        return str(args[0]) == str(args[1])
    if function == "Fn::Contains":
        return str(args[1]) in [str(v) for v in args[0]]
    if function == "Fn::EachMemberEquals":
        return all(str(v) == str(args[1]) for v in args[0])
    if function == "Fn::EachMemberIn":
        return all(str(v) in [str(a) for a in args[1]] for v in args[0])
    raise StackDeployError(f"rule function {function} is not emulated")


def _outputs(cfn_template: Mapping[str, Any], resolve: Callable[[Any], Any]) -> dict[str, str]:
    # Resolved here rather than read from DescribeStacks, where moto prints a layer's Ref as a
    # Python object; conditions are honoured as CloudFormation does.
    outputs: dict[str, str] = {}
    for name, output in cfn_template.get("Outputs", {}).items():
        condition = output.get("Condition")
        if condition is None or resolve({"Fn::If": [condition, True, False]}):
            outputs[name] = str(resolve(output["Value"]))
    return outputs


def _not_emulated(
    cfn_template: Mapping[str, Any],
    resources: Mapping[str, StackResource],
    resolve: Callable[[Any], Any],
) -> tuple[StackResource, ...]:
    types = {resource.get("Type", "") for resource in cfn_template["Resources"].values()}
    return tuple(
        StackResource(logical_id, resource_type, "")
        for resource_type in sorted(types)
        for logical_id, _ in _created(cfn_template, resource_type, resolve)
        if logical_id not in resources
    )


def _effective_parameters(
    template: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Declared defaults with the overrides applied, as CloudFormation reports them.

    (moto's DescribeStacks shows a CommaDelimitedList as a Python list repr.)
    """
    declared = template.get("Parameters", {})
    effective = {
        name: _parameter_string(spec["Default"])
        for name, spec in declared.items()
        if "Default" in spec
    }
    effective.update(overrides)
    return effective


def _parameter_string(value: ParameterValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ",".join(value)


_MOTO_UNSUPPORTED_NOTICES = (
    "No Moto CloudFormation support for",
    "not supported by moto's CloudFormation implementation",
)


class _UnsupportedNoticeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(notice in message for notice in _MOTO_UNSUPPORTED_NOTICES)


@contextlib.contextmanager
def _quiet_moto_unsupported_notices() -> Iterator[None]:
    """Silence moto's per-resource "not supported" notices: DeployedStack.not_emulated lists
    the resources that were neither created by moto nor completed here."""
    moto_logger = logging.getLogger("moto")
    notice_filter = _UnsupportedNoticeFilter()
    moto_logger.addFilter(notice_filter)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")
            yield
    finally:
        moto_logger.removeFilter(notice_filter)


def _create_stack(
    cfn: CloudFormationClient,
    stack_name: str,
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    timeout_seconds: float,
) -> str:
    try:
        created = cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    except ClientError as exc:
        raise StackDeployError(f"CreateStack {stack_name} failed: {exc}") from exc
    stack_id = created["StackId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack_id
        if status in _TERMINAL_CREATE_STATES or time.monotonic() > deadline:
            raise StackDeployError(
                f"stack {stack_name} ended in {status}: {_failures(cfn, stack_id)}"
            )
        time.sleep(0.1)


def _list_resources(
    cfn: CloudFormationClient, stack_id: str, resolve: Callable[[Any], Any]
) -> dict[str, StackResource]:
    resources: dict[str, StackResource] = {}
    for row in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]:
        logical_id = row.get("LogicalResourceId")
        if not logical_id:
            continue  # a type moto skipped (see _created)
        # moto omits some physical IDs (AWS::Lambda::LayerVersion); Ref gives the same value.
        physical_id = row.get("PhysicalResourceId") or str(resolve({"Ref": logical_id}))
        resources[logical_id] = StackResource(logical_id, row["ResourceType"], physical_id)
    return resources


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


def _created(
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
class _MotoGaps:
    """Completes, through the public APIs, what moto's CloudFormation leaves out."""

    session: boto3.Session
    cfn_template: Mapping[str, Any]
    resources: Mapping[str, StackResource]
    resolve: Callable[[Any], Any]

    def attach_layers(self) -> None:
        # moto's AWS::Lambda::Function ignores Layers (and its Ref of a layer is not an ARN).
        lam = self.session.client("lambda")
        for logical_id, properties in _created(
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
        for logical_id, _ in _created(self.cfn_template, "AWS::Lambda::Function", self.resolve):
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
        for logical_id, properties in _created(
            self.cfn_template, "AWS::SQS::QueuePolicy", self.resolve
        ):
            document = json.dumps(self.resolve(properties["PolicyDocument"]))
            for queue_url in self.resolve(properties["Queues"]):
                sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": document})
            applied.append(
                StackResource(logical_id, "AWS::SQS::QueuePolicy", self._name(logical_id))
            )
        return applied

    def apply_alarms(self) -> list[StackResource]:
        # moto's CloudFormation has no AWS::CloudWatch::Alarm model; PutMetricAlarm takes the
        # same property names.
        cloudwatch = self.session.client("cloudwatch")
        applied: list[StackResource] = []
        for logical_id, properties in _created(
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
        for logical_id, properties in _created(
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
        for logical_id, properties in _created(self.cfn_template, "AWS::S3::Bucket", self.resolve):
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


# --------------------------------------------------------------------------------------------
# Reading the deployment back
# --------------------------------------------------------------------------------------------


def _describe_function(
    session: boto3.Session,
    logical_id: str,
    resources: Mapping[str, StackResource],
    local_sources: Mapping[str, Path],
    cfn_template: Mapping[str, Any],
) -> DeployedFunction:
    lam: LambdaClient = session.client("lambda")
    name = resources[logical_id].physical_id
    config = lam.get_function_configuration(FunctionName=name)
    deployed_layers = {layer["Arn"] for layer in config.get("Layers", [])}
    mappings = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    properties = cfn_template["Resources"][logical_id]["Properties"]
    layer_ids = [ref["Ref"] for ref in properties.get("Layers", []) if isinstance(ref, dict)]
    layer_dirs = tuple(
        _local_source(cfn_template["Resources"][layer_id]["Properties"]["Content"], local_sources)
        for layer_id in layer_ids
        if layer_id in resources and resources[layer_id].physical_id in deployed_layers
    )
    return DeployedFunction(
        logical_id=logical_id,
        name=config["FunctionName"],
        arn=config["FunctionArn"],
        handler=config["Handler"],
        runtime=config["Runtime"],
        timeout_seconds=int(config["Timeout"]),
        memory_mb=int(config["MemorySize"]),
        environment=dict(config.get("Environment", {}).get("Variables", {})),
        code_dir=_local_source(properties["Code"], local_sources),
        layer_dirs=layer_dirs,
        event_sources=tuple(_event_source(m) for m in mappings),
    )


def _local_source(location: Mapping[str, Any], local_sources: Mapping[str, Path]) -> Path:
    """The local folder a packaged ``{S3Bucket, S3Key}`` was built from."""
    uri = f"s3://{location.get('S3Bucket')}/{location.get('S3Key')}"
    if uri not in local_sources:
        raise StackDeployError(f"{uri} was not packaged from a local folder")
    return local_sources[uri]


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
    if region == "us-east-1":
        s3.create_bucket(Bucket=artifacts_bucket)
    else:
        s3.create_bucket(
            Bucket=artifacts_bucket,
            CreateBucketConfiguration={"LocationConstraint": cast(Any, region)},
        )
    packager = _Packager(s3=s3, bucket=artifacts_bucket, base_dir=template_path.parent)
    _package(sam_template, packager)
    cfn_template = _translate(sam_template, overrides, region)
    _adapt_for_moto(cfn_template, s3)

    with _quiet_moto_unsupported_notices():
        cfn: CloudFormationClient = session.client("cloudformation")
        stack_id = _create_stack(cfn, stack_name, cfn_template, overrides, timeout_seconds)
        account_id = stack_id.split(":")[4]
        resolve = _Resolver(account_id, region, stack_id)
        resources = _list_resources(cfn, stack_id, resolve)
        gaps = _MotoGaps(session, cfn_template, resources, resolve)
        gaps.attach_layers()
        gaps.stringify_environments()
        function = _describe_function(
            session, function_logical_id, resources, packager.local_sources, cfn_template
        )
        # Before the bucket notifications: their s3:TestEvent must reach a queue nobody polls yet.
        gaps.disable_moto_poller(function)
        completed = [*gaps.apply_queue_policies(), *gaps.apply_alarms()]
        resources.update({r.logical_id: r for r in completed})
        gaps.register_state_machines()
        notifications = gaps.apply_bucket_notifications()
    return DeployedStack(
        stack_name=stack_name,
        stack_id=stack_id,
        region=region,
        account_id=account_id,
        parameters=_effective_parameters(sam_template, overrides),
        outputs=_outputs(cfn_template, resolve),
        resources=resources,
        function=function,
        bucket_notifications=notifications,
        not_emulated=_not_emulated(cfn_template, resources, resolve),
        cloudformation_template=cfn_template,
    )
