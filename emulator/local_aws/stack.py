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
   :func:`adapt_for_moto`);
5. creates the stack with moto's CloudFormation and waits for ``CREATE_COMPLETE``;
6. completes, through the public APIs, what moto's CloudFormation leaves out (see
   :class:`MotoGaps`): the function's layers, its environment variables as strings, the queue
   policy, the alarm, the state machine's registration with the Step Functions backend that runs
   executions, and the bucket's notification configuration (which makes moto send the
   s3:TestEvent, as S3 does); moto's own SQS poller is switched off, because
   emulator.local_aws.poller replaces it.

Template values are resolved by moto's own intrinsic-function resolver against the deployed
stack, and every setting reported in :class:`~emulator.local_aws.deployed.DeployedStack` is read
back from the deployed resources (or resolved from the template), so nothing here hand-copies a
value. The steps live in their own modules: ``parameters`` (1), ``packaging`` (2), ``moto_gaps``
(4 and 6), ``template`` (the loader) and ``deployed`` (what is reported).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.exceptions import ClientError

from emulator.local_aws.custom_resources import (
    create_custom_resources,
    request,
    take_custom_resources,
)
from emulator.local_aws.deployed import (
    DeployedFunction,
    DeployedStack,
    EventSourceMapping,
    StackDeployError,
    StackResource,
)
from emulator.local_aws.jsonata import install_jsonata
from emulator.local_aws.moto_gaps import MotoGaps, Resolver, adapt_for_moto, created_resources
from emulator.local_aws.packaging import Packager, package_template
from emulator.local_aws.parameters import (
    ParameterValue,
    check_parameters,
    effective_parameters,
    parameter_string,
)
from emulator.local_aws.template import load_template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

__all__ = ["delete_stack", "deploy_stack"]

_TERMINAL_CREATE_STATES = frozenset({"CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE"})


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
    install_jsonata()  # the tracker has a JSONata state moto cannot evaluate alone


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
        for logical_id, _ in created_resources(cfn_template, resource_type, resolve)
        if logical_id not in resources
    )


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
            continue  # a type moto skipped (see created_resources)
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
    overrides = {k: parameter_string(v) for k, v in (parameters or {}).items()}
    sam_template = load_template(template_path)
    check_parameters(sam_template, overrides)

    s3: S3Client = session.client("s3")
    if region == "us-east-1":
        s3.create_bucket(Bucket=artifacts_bucket)
    else:
        s3.create_bucket(
            Bucket=artifacts_bucket,
            CreateBucketConfiguration={"LocationConstraint": cast(Any, region)},
        )
    packager = Packager(s3=s3, bucket=artifacts_bucket, base_dir=template_path.parent)
    package_template(sam_template, packager)
    cfn_template = _translate(sam_template, overrides, region)
    adapt_for_moto(cfn_template, s3)
    # Custom resources are run here, after the rest of the stack (see custom_resources).
    moto_template = copy.deepcopy(cfn_template)
    take_custom_resources(moto_template)

    with _quiet_moto_unsupported_notices():
        cfn: CloudFormationClient = session.client("cloudformation")
        stack_id = _create_stack(cfn, stack_name, moto_template, overrides, timeout_seconds)
        account_id = stack_id.split(":")[4]
        resolve = Resolver(account_id, region, stack_id)
        resources = _list_resources(cfn, stack_id, resolve)
        gaps = MotoGaps(session, cfn_template, resources, resolve)
        gaps.attach_layers()
        gaps.stringify_environments()
        function = _describe_function(
            session, function_logical_id, resources, packager.local_sources, cfn_template
        )
        # Before the bucket notifications: their s3:TestEvent must reach a queue nobody polls yet.
        gaps.disable_moto_poller(function)
        completed = [
            *gaps.apply_queue_policies(),
            *gaps.apply_topic_policies(),
            *gaps.apply_alarms(),
        ]
        resources.update({r.logical_id: r for r in completed})
        gaps.register_state_machines()
        notifications = gaps.apply_bucket_notifications()
        custom = create_custom_resources(
            cfn_template,
            resources,
            resolve,
            stack_id=stack_id,
            region=region,
            describe=lambda logical_id: _describe_function(
                session, logical_id, resources, packager.local_sources, cfn_template
            ),
        )
        resources.update(
            {
                c.logical_id: StackResource(c.logical_id, c.resource_type, c.physical_id)
                for c in custom
            }
        )
    return DeployedStack(
        stack_name=stack_name,
        stack_id=stack_id,
        region=region,
        account_id=account_id,
        parameters=effective_parameters(sam_template, overrides),
        outputs=_outputs(cfn_template, resolve),
        resources=resources,
        function=function,
        bucket_notifications=notifications,
        not_emulated=_not_emulated(cfn_template, resources, resolve),
        custom_resources=custom,
    )


def delete_stack(
    stack: DeployedStack, *, session: boto3.Session | None = None, timeout_seconds: float = 60.0
) -> None:
    """Delete a stack deployed by :func:`deploy_stack`, as CloudFormation does: the custom
    resources get their Delete request first (they depend on everything they use), then moto
    deletes the rest. A custom resource that answers FAILED leaves the stack in place
    (CloudFormation's DELETE_FAILED) and raises."""
    session = session or boto3.Session()
    for resource in reversed(stack.custom_resources):
        answer = request(resource, "Delete", stack_id=stack.stack_id, region=stack.region)
        if answer.status != "SUCCESS":
            raise StackDeployError(f"{resource.logical_id}: Delete failed: {answer.reason}")
    cfn: CloudFormationClient = session.client("cloudformation")
    cfn.delete_stack(StackName=stack.stack_id)
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = cfn.describe_stacks(StackName=stack.stack_id)["Stacks"][0]["StackStatus"]
        if status == "DELETE_COMPLETE":
            return
        if status == "DELETE_FAILED" or time.monotonic() > deadline:
            raise StackDeployError(f"stack {stack.stack_name} ended in {status}")
        time.sleep(0.1)
