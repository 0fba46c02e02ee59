"""In-memory stand-ins for the adapters' interfaces, for service-level tests.

They follow AWS's semantics where the service depends on them: CloudFront returns the earlier
invalidation for a repeated CallerReference with the same paths and refuses it with different
paths; Step Functions refuses a second execution of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cfinvalidator.adapters.cloudfront import CreatedInvalidation
from cfinvalidator.errors import CloudFrontError, TrackingError


@dataclass
class FakeInvalidations:
    fail_with: dict[str, str] = field(default_factory=dict)  # distribution ID -> error code
    by_reference: dict[tuple[str, str], tuple[tuple[str, ...], str]] = field(default_factory=dict)
    created: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)  # billed ones
    calls: int = 0

    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> CreatedInvalidation:
        self.calls += 1
        if distribution_id in self.fail_with:
            raise CloudFrontError(self.fail_with[distribution_id], "injected")
        key = (distribution_id, caller_reference)
        if key in self.by_reference:
            earlier_paths, invalidation_id = self.by_reference[key]
            if earlier_paths != tuple(paths):
                raise CloudFrontError("InvalidationBatchAlreadyExists", caller_reference)
        else:
            invalidation_id = f"I{len(self.created):013d}"
            self.by_reference[key] = (tuple(paths), invalidation_id)
            self.created.append((distribution_id, tuple(paths), invalidation_id))
        return CreatedInvalidation(
            invalidation_id, "InProgress", datetime(2026, 11, 21, tzinfo=UTC)
        )

    @property
    def billed_paths(self) -> int:
        return sum(len(paths) for _, paths, _ in self.created)


@dataclass
class FakeTracker:
    executions: dict[str, Mapping[str, object]] = field(default_factory=dict)
    fail: bool = False

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        if self.fail:
            raise TrackingError("ServiceUnavailable: injected")
        if name in self.executions:
            return False
        self.executions[name] = payload
        return True
