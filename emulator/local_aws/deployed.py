"""What :func:`~emulator.local_aws.stack.deploy_stack` reports: the deployed resources, the
function and its event sources, the bucket notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.local_aws.custom_resources import CustomResource


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
    """Resources the template creates that moto skipped and emulator.local_aws.moto_gaps does
    not complete (physical_id is empty)."""
    custom_resources: tuple[CustomResource, ...] = ()
    """Custom resources created through their function (emulator.local_aws.custom_resources)."""

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise KeyError(f"no resource {logical_id!r} in stack {self.stack_name}") from None

    def of_type(self, resource_type: str) -> tuple[StackResource, ...]:
        return tuple(r for r in self.resources.values() if r.resource_type == resource_type)

    @property
    def event_source(self) -> EventSourceMapping:
        """The function's SQS event source mapping (the template declares exactly one)."""
        sqs_sources = [e for e in self.function.event_sources if ":sqs:" in e.queue_arn]
        if len(sqs_sources) != 1:
            raise LookupError(f"expected one SQS event source, found {len(sqs_sources)}")
        return sqs_sources[0]
