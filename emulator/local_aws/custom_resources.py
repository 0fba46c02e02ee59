"""CloudFormation custom resources, run the way CloudFormation runs them, with the real handler.

moto's CloudFormation would invoke a custom resource's function through its Lambda backend,
which needs Docker. The emulator instead takes the ``Custom::*`` resources out of the template it
gives moto (:func:`take_custom_resources`) and, once the rest of the stack exists, sends each one
the request CloudFormation sends (:func:`request`): ``RequestType`` Create (Update, Delete),
``ResponseURL``, ``StackId``, ``RequestId``, ``LogicalResourceId``, ``ResourceType``, the resolved
``ResourceProperties`` (``ServiceToken`` included) and, after Create, the ``PhysicalResourceId``.
The function's handler runs in-process (:class:`~emulator.local_aws.lambda_context.LocalFunction`)
and must answer with an HTTP PUT of JSON to ``ResponseURL``, which here is a real local HTTP
server on 127.0.0.1 (:class:`~emulator.local_aws.response_server.ResponseServer`), so the answer
is checked on the wire. No answer at all is an error: CloudFormation would wait an hour.
The handler runs with :func:`~emulator.local_aws.s3_notifications.faithful_bucket_notifications`
on, so it reads the bucket's EventBridge delivery as AWS reports it.
"""

from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from emulator.local_aws.deployed import DeployedFunction, StackDeployError, StackResource
from emulator.local_aws.lambda_context import LocalFunction
from emulator.local_aws.response_server import ResponseServer
from emulator.local_aws.s3_notifications import faithful_bucket_notifications

__all__ = [
    "CustomResource",
    "CustomResourceAnswer",
    "create_custom_resources",
    "request",
    "take_custom_resources",
]

RequestType = Literal["Create", "Update", "Delete"]


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or (
        resource_type == "AWS::CloudFormation::CustomResource"
    )


def take_custom_resources(cfn_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Remove the custom resources from ``cfn_template`` (in place) and return them by logical
    ID, in template order."""
    taken = {
        logical_id: resource
        for logical_id, resource in cfn_template["Resources"].items()
        if _is_custom(str(resource.get("Type", "")))
    }
    for logical_id in taken:
        del cfn_template["Resources"][logical_id]
    return taken


@dataclass(frozen=True)
class CustomResourceAnswer:
    """What the handler PUT to the ResponseURL."""

    status: str
    reason: str
    physical_id: str
    data: Mapping[str, Any]
    document: Mapping[str, Any]
    logs: str = ""  # what the handler printed (its CloudWatch Logs on AWS)


@dataclass(frozen=True)
class CustomResource:
    """A custom resource of the deployed stack, and the function that serves it."""

    logical_id: str
    resource_type: str
    properties: Mapping[str, Any]  # resolved, ServiceToken included
    function: DeployedFunction
    physical_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def request(
    resource: CustomResource,
    request_type: RequestType,
    *,
    stack_id: str,
    region: str,
    old_properties: Mapping[str, Any] | None = None,
) -> CustomResourceAnswer:
    """Send one CloudFormation request to the resource's function; return its answer.

    Raises StackDeployError when the function answers nothing, more than once, or malformed
    JSON; a FAILED answer is returned (the caller decides: CloudFormation rolls back a failed
    Create, and a failed Delete leaves the stack in DELETE_FAILED).
    """
    server = ResponseServer()
    server.start()
    try:
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": resource.properties.get("ServiceToken", resource.function.arn),
            "ResponseURL": server.url,
            "StackId": stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": resource.logical_id,
            "ResourceType": resource.resource_type,
            "ResourceProperties": dict(resource.properties),
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = resource.physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = dict(old_properties)
        logs = io.StringIO()
        function = LocalFunction(resource.function, region=region, log_sink=logs)
        try:
            with faithful_bucket_notifications():
                function(event, function.new_context())
        except Exception as exc:
            # On AWS a crashed invocation is only logged; what matters is whether it answered.
            if not server.requests:
                raise StackDeployError(
                    f"{resource.logical_id}: the handler raised {exc!r} without answering "
                    f"CloudFormation (the stack would wait an hour); its output:\n"
                    f"{logs.getvalue()}"
                ) from exc
    finally:
        server.stop()
    if len(server.requests) != 1:
        raise StackDeployError(
            f"{resource.logical_id}: {len(server.requests)} answers to one {request_type} "
            "request (CloudFormation reads exactly one)"
        )
    answer = server.requests[0]
    if answer.method != "PUT":
        raise StackDeployError(f"{resource.logical_id}: answered with {answer.method}, not PUT")
    try:
        document = answer.json()
    except ValueError as exc:
        raise StackDeployError(f"{resource.logical_id}: the answer is not JSON") from exc
    return CustomResourceAnswer(
        status=str(document.get("Status", "")),
        reason=str(document.get("Reason", "")),
        physical_id=str(document.get("PhysicalResourceId", "")),
        data=dict(document.get("Data") or {}),
        document=document,
        logs=logs.getvalue(),
    )


def create_custom_resources(
    cfn_template: Mapping[str, Any],
    resources: Mapping[str, StackResource],
    resolve: Callable[[Any], Any],
    *,
    stack_id: str,
    region: str,
    describe: Callable[[str], DeployedFunction],
) -> tuple[CustomResource, ...]:
    """Send each custom resource whose condition holds its Create request, in template order;
    ``describe`` reads a deployed function back by logical ID. A FAILED answer raises
    StackDeployError (CloudFormation would roll back), with the handler's output."""
    functions = {
        resource.physical_id: logical_id
        for logical_id, resource in resources.items()
        if resource.resource_type == "AWS::Lambda::Function"
    }
    created: list[CustomResource] = []
    for logical_id, resource in take_custom_resources(copy.deepcopy(dict(cfn_template))).items():
        condition = resource.get("Condition")
        if condition is not None and not resolve({"Fn::If": [condition, True, False]}):
            continue
        properties = resolve(resource.get("Properties", {}))
        token = str(properties.get("ServiceToken", ""))
        function_id = functions.get(token.rsplit(":", 1)[-1])
        if function_id is None:
            raise StackDeployError(f"{logical_id}: ServiceToken {token!r} is no function here")
        pending = CustomResource(logical_id, resource["Type"], properties, describe(function_id))
        answer = request(pending, "Create", stack_id=stack_id, region=region)
        if answer.status != "SUCCESS":
            raise StackDeployError(
                f"{logical_id} failed: {answer.reason} (CloudFormation would roll back);"
                f" its output:\n{answer.logs}"
            )
        created.append(replace(pending, physical_id=answer.physical_id, data=answer.data))
    return tuple(created)
