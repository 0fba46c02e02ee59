"""The ports: what the service needs from AWS, as Protocols and the data they exchange.

``cfinvalidator.adapters`` implements them with boto3; tests and the emulator implement them in
memory. Nothing here imports an AWS SDK, so the service depends on these and never on an adapter.
Adapters report failures with the domain's exceptions (``cfinvalidator.errors``):
``CloudFrontError``, ``TrackingError``, ``NotificationError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


# ----------------------------------------------------------------------------- CloudFront
@dataclass(frozen=True, slots=True)
class CreatedInvalidation:
    invalidation_id: str
    status: str
    create_time: datetime


@dataclass(frozen=True, slots=True)
class InvalidationSummary:
    """One invalidation as ListInvalidations shows it."""

    invalidation_id: str
    create_time: datetime
    status: str


@dataclass(frozen=True, slots=True)
class InvalidationPage:
    """One ListInvalidations page, newest first, and the marker of the next (None: the last)."""

    items: tuple[InvalidationSummary, ...]
    next_marker: str | None


PageReader = Callable[[Callable[[], InvalidationPage]], InvalidationPage]
"""Reads one page: given the call that fetches it, returns its result (e.g. with retries)."""


def read_once(fetch: Callable[[], InvalidationPage]) -> InvalidationPage:
    """The plain :data:`PageReader`: one call, no retry."""
    return fetch()


@dataclass(frozen=True, slots=True)
class InvalidationDetails:
    """What never changes about an invalidation (status does: take it from the listing)."""

    paths: tuple[str, ...]
    caller_reference: str


@dataclass(frozen=True, slots=True)
class Origin:
    origin_id: str
    domain_name: str
    origin_path: str = ""  # "" or "/a/b", as CloudFront stores it


@dataclass(frozen=True, slots=True)
class Behaviour:
    path_pattern: str
    target_origin_id: str  # an origin or an origin group


@dataclass(frozen=True, slots=True)
class DistributionLayout:
    """What ``GetDistributionConfig`` says about origins and routing (``cfinvalidator.origins``
    maps keys with it)."""

    distribution_id: str
    origins: tuple[Origin, ...]
    default_target: str
    behaviours: tuple[Behaviour, ...] = ()  # in CloudFront's order of precedence
    origin_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # group ID -> member origin IDs


class InvalidationApi(Protocol):
    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> CreatedInvalidation:
        """Create (or, for a known caller reference, return) an invalidation."""
        ...

    def recent_invalidations(
        self,
        distribution_id: str,
        since: datetime,
        max_pages: int,
        read_page: PageReader = read_once,
    ) -> tuple[InvalidationSummary, ...]:
        """The distribution's invalidations created at or after ``since``, most recent first.

        ListInvalidations is read page by page (100 a page, newest first) until an invalidation
        created before ``since`` appears, the listing ends, or ``max_pages`` pages have been
        read. Each page is fetched through ``read_page`` (the service retries each page there,
        so a failed later page does not read the earlier ones again); an error it lets through
        raises, and nothing is returned then.
        """
        ...

    def invalidation_details(
        self, distribution_id: str, invalidation_id: str
    ) -> InvalidationDetails:
        """Paths and caller reference of one invalidation."""
        ...

    def distribution_layout(self, distribution_id: str) -> DistributionLayout:
        """The distribution's origins and cache behaviours (GetDistributionConfig)."""
        ...


# ---------------------------------------------------------------------- the tracker (SFN)
class TrackerApi(Protocol):
    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        """Start tracking; True if started now, False if an execution of that name exists."""
        ...


# ------------------------------------------------------------------- the batcher's queues
@dataclass(frozen=True, slots=True)
class Deferral:
    message_id: str
    receipt_handle: str
    seconds: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The original body, plus why it is here (as message attributes)."""

    message_id: str
    body: str
    error_code: str
    reason: str
    receive_count: int


class QueueApi(Protocol):
    def defer(self, deferrals: Sequence[Deferral]) -> set[str]:
        """Hide each record for its delay; return the message IDs that could not be changed."""
        ...

    def dead_letter(self, letters: Sequence[DeadLetter]) -> set[str]:
        """Copy each record to the dead-letter queue; return the message IDs not copied."""
        ...


# -------------------------------------------------------------------- notifications (SNS)
class NotifierApi(Protocol):
    def publish(self, message: Mapping[str, object], attributes: Mapping[str, str]) -> None:
        """Publish one JSON message with String message attributes."""
        ...


# ------------------------------------------------- what the planner may know (S3, CloudWatch)
class ObjectCountApi(Protocol):
    def list_keys(self, prefix: str, stop_at: int) -> list[str]:
        """The bucket's keys starting with ``prefix`` (ListObjectsV2), at most ``stop_at`` of
        them: ``stop_at`` keys means there may be more. Raises ``KnowledgeError``."""
        ...


class SpendApi(Protocol):
    def billed_paths_since(self, start: datetime) -> int:
        """Paths this service has billed since ``start`` (its BilledPaths metric summed; 0
        without a datapoint). Raises ``KnowledgeError``."""
        ...


# ------------------------------------------- a bucket's notification configuration (S3)
NotificationDocument = Mapping[str, object]
"""A bucket's notification configuration as GetBucketNotificationConfiguration returns it (no
ResponseMetadata): ``TopicConfigurations``, ``QueueConfigurations``,
``LambdaFunctionConfigurations`` (each absent when empty) and ``EventBridgeConfiguration``
(``{}`` when EventBridge delivery is on, absent when off)."""


class BucketNotificationsApi(Protocol):
    def read(self, bucket: str) -> NotificationDocument:
        """The bucket's whole notification configuration."""
        ...

    def write(self, bucket: str, document: NotificationDocument) -> None:
        """Replace the bucket's whole notification configuration with ``document``."""
        ...


# ----------------------------------------------- CloudFormation custom resource answers
class CustomResourceResponder(Protocol):
    def send(self, response_url: str, body: bytes) -> None:
        """PUT ``body`` (the JSON answer) to the request's pre-signed ``ResponseURL``.

        Raises ``CustomResourceResponseError`` when it could not be delivered.
        """
        ...
