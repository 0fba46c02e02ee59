"""In-memory implementations of the ports (cfinvalidator.ports): the service with no boto3 at all.

For the unit tests of the service and for the handler's CPU figures (emulator.benchmark). They
follow AWS's semantics where the service depends on them: CloudFront returns the earlier
invalidation for a repeated CallerReference with the same paths and refuses it with different
paths, refuses more than 3,000 paths in one request, counts in-progress paths against 3,000
files / 15 wildcards, lists newest first; Step Functions refuses a second execution of the same
name. Time is a settable ``now``.

The boto3-level double is emulator.local_aws.cloudfront (over moto); the contract both honour is
tested on both in tests/emulator/test_memory_contract.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from cfinvalidator.errors import CloudFrontError, NotificationError, TrackingError
from cfinvalidator.ports import (
    CreatedInvalidation,
    DeadLetter,
    Deferral,
    DistributionLayout,
    InvalidationDetails,
    InvalidationPage,
    InvalidationSummary,
    Origin,
    PageReader,
    read_once,
)
from cfinvalidator.quotas import (
    MAX_IN_PROGRESS_FILES,
    MAX_IN_PROGRESS_WILDCARDS,
    MAX_PATHS_PER_REQUEST,
)

START = datetime(2026, 11, 21, 10, 0, 5, tzinfo=UTC)  # just after tests.factories' eventTime
STATUS = {"Throttling": 400, "ServiceUnavailable": 503, "AccessDenied": 403}


@dataclass
class _Invalidation:
    invalidation_id: str
    distribution_id: str
    paths: tuple[str, ...]
    caller_reference: str
    created: datetime
    completes: datetime


@dataclass
class FakeInvalidations:
    now: datetime = START
    completion: timedelta = timedelta(seconds=20)
    fail_with: dict[str, str] = field(default_factory=dict)  # distribution ID -> error code
    inject: dict[str, deque[str]] = field(default_factory=dict)  # operation -> error codes
    invalidations: list[_Invalidation] = field(default_factory=list)
    calls: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    list_calls: int = 0  # ListInvalidations pages read
    detail_calls: int = 0
    # GetDistributionConfig answers; a distribution without one answers NoSuchDistribution.
    layouts: dict[str, DistributionLayout] = field(default_factory=dict)
    layout_calls: int = 0

    def _gate(self, operation: str, distribution_id: str) -> None:
        queue = self.inject.get(operation)
        if queue:
            code = queue.popleft()
            raise CloudFrontError(code, "injected", STATUS.get(code, 400))
        if distribution_id in self.fail_with:
            code = self.fail_with[distribution_id]
            raise CloudFrontError(code, "injected", STATUS.get(code, 400))

    def in_progress(self, distribution_id: str) -> tuple[int, int]:
        files = wildcards = 0
        for inv in self.invalidations:
            if inv.distribution_id == distribution_id and self.now < inv.completes:
                wildcards += sum(p.endswith("*") for p in inv.paths)
                files += sum(not p.endswith("*") for p in inv.paths)
        return files, wildcards

    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> CreatedInvalidation:
        self.calls.append((distribution_id, tuple(paths), caller_reference))
        self._gate("create", distribution_id)
        for inv in self.invalidations:
            if (inv.distribution_id, inv.caller_reference) == (distribution_id, caller_reference):
                if inv.paths != tuple(paths):
                    raise CloudFrontError("InvalidationBatchAlreadyExists", caller_reference, 409)
                return CreatedInvalidation(inv.invalidation_id, self._status(inv), inv.created)
        if len(paths) > MAX_PATHS_PER_REQUEST:
            raise CloudFrontError("BatchTooLarge", "too many paths", 413)
        files, wildcards = self.in_progress(distribution_id)
        new_wildcards = sum(p.endswith("*") for p in paths)
        if (
            files + len(paths) - new_wildcards > MAX_IN_PROGRESS_FILES
            or wildcards + new_wildcards > MAX_IN_PROGRESS_WILDCARDS
        ):
            raise CloudFrontError("TooManyInvalidationsInProgress", "quota", 400)
        inv = _Invalidation(
            f"I{len(self.invalidations):013d}",
            distribution_id,
            tuple(paths),
            caller_reference,
            self.now,
            self.now + self.completion,
        )
        self.invalidations.append(inv)
        return CreatedInvalidation(inv.invalidation_id, "InProgress", inv.created)

    def _status(self, inv: _Invalidation) -> str:
        return "InProgress" if self.now < inv.completes else "Completed"

    def recent_invalidations(
        self,
        distribution_id: str,
        since: datetime,
        max_pages: int,
        read_page: PageReader = read_once,
    ) -> tuple[InvalidationSummary, ...]:
        """Pages of 100, newest first, each counted in ``list_calls`` and open to ``inject``."""
        mine = [i for i in reversed(self.invalidations) if i.distribution_id == distribution_id]
        recent: list[InvalidationSummary] = []
        for start in range(0, 100 * max_pages, 100):
            page = read_page(partial(self._page, mine, start, distribution_id))
            for item in page.items:
                if item.create_time < since:
                    return tuple(recent)
                recent.append(item)
            if page.next_marker is None:
                break
        return tuple(recent)

    def _page(
        self, mine: list[_Invalidation], start: int, distribution_id: str
    ) -> InvalidationPage:
        self.list_calls += 1
        self._gate("list", distribution_id)
        items = tuple(
            InvalidationSummary(inv.invalidation_id, inv.created, self._status(inv))
            for inv in mine[start : start + 100]
        )
        more = start + 100 < len(mine)
        return InvalidationPage(items, items[-1].invalidation_id if more else None)

    def invalidation_details(
        self, distribution_id: str, invalidation_id: str
    ) -> InvalidationDetails:
        self.detail_calls += 1
        self._gate("get", distribution_id)
        inv = next(i for i in self.invalidations if i.invalidation_id == invalidation_id)
        return InvalidationDetails(inv.paths, inv.caller_reference)

    def distribution_layout(self, distribution_id: str) -> DistributionLayout:
        self.layout_calls += 1
        self._gate("config", distribution_id)
        layout = self.layouts.get(distribution_id)
        if layout is None:
            raise CloudFrontError("NoSuchDistribution", distribution_id, 404)
        return layout

    def serve_bucket(self, bucket: str, *distribution_ids: str, origin_path: str = "") -> None:
        """Give each distribution one origin reading ``bucket`` (global endpoint)."""
        for distribution_id in distribution_ids:
            self.layouts[distribution_id] = DistributionLayout(
                distribution_id,
                (Origin("bucket", f"{bucket}.s3.amazonaws.com", origin_path),),
                default_target="bucket",
            )

    @property
    def created(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(distribution, paths, invalidation ID) of every billed invalidation."""
        return [(i.distribution_id, i.paths, i.invalidation_id) for i in self.invalidations]

    @property
    def billed_paths(self) -> int:
        return sum(len(i.paths) for i in self.invalidations)


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


@dataclass
class FakeQueue:
    deferrals: list[Deferral] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    refuse: bool = False

    def defer(self, deferrals: Sequence[Deferral]) -> set[str]:
        if self.refuse:
            return {d.message_id for d in deferrals}
        self.deferrals.extend(deferrals)
        return set()

    def dead_letter(self, letters: Sequence[DeadLetter]) -> set[str]:
        if self.refuse:
            return {letter.message_id for letter in letters}
        self.dead_letters.extend(letters)
        return set()


@dataclass
class FakeNotifier:
    messages: list[tuple[Mapping[str, object], Mapping[str, str]]] = field(default_factory=list)
    fail: bool = False

    def publish(self, message: Mapping[str, object], attributes: Mapping[str, str]) -> None:
        if self.fail:
            raise NotificationError("injected")
        self.messages.append((message, attributes))
