"""CloudFront invalidation API behind a small interface.

The boto3 client is built without botocore retries (see functions/batcher/app.py): the service
retries throttling and 5xx itself, with backoff and jitter bounded by the function's remaining
time, so two retry layers never multiply.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.errors import CloudFrontError

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

PAGE_SIZE = 100  # ListInvalidations' maximum MaxItems
_DETAILS_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class CreatedInvalidation:
    invalidation_id: str
    status: str
    create_time: datetime


@dataclass(frozen=True, slots=True)
class InvalidationSummary:
    invalidation_id: str
    create_time: datetime
    status: str


@dataclass(frozen=True, slots=True)
class InvalidationPage:
    """One ListInvalidations page: newest first; ``next_marker`` None on the last page."""

    items: tuple[InvalidationSummary, ...]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class InvalidationDetails:
    """What never changes about an invalidation (status does: take it from the listing)."""

    paths: tuple[str, ...]
    caller_reference: str


class InvalidationApi(Protocol):
    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> CreatedInvalidation:
        """Create (or, for a known caller reference, return) an invalidation."""
        ...

    def list_invalidations(self, distribution_id: str, marker: str | None) -> InvalidationPage:
        """One page of the distribution's invalidations, most recent first."""
        ...

    def invalidation_details(
        self, distribution_id: str, invalidation_id: str
    ) -> InvalidationDetails:
        """Paths and caller reference of one invalidation."""
        ...


def _error(exc: ClientError | BotoCoreError) -> CloudFrontError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return CloudFrontError(error.get("Code", "Unknown"), error.get("Message", str(exc)), status)
    # No response: connection refused or reset, timeouts. Retrying CreateInvalidation is safe
    # because the caller reference makes a repeat return the first invalidation.
    return CloudFrontError("NetworkError", str(exc))


class Boto3InvalidationApi:
    """boto3 CloudFront client; remembers invalidation details, which never change."""

    def __init__(self, client: CloudFrontClient) -> None:
        self._client = client
        self._details: OrderedDict[tuple[str, str], InvalidationDetails] = OrderedDict()

    def _remember(self, key: tuple[str, str], details: InvalidationDetails) -> None:
        self._details[key] = details
        self._details.move_to_end(key)
        while len(self._details) > _DETAILS_CACHE_SIZE:
            self._details.popitem(last=False)

    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> CreatedInvalidation:
        try:
            response = self._client.create_invalidation(
                DistributionId=distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": list(paths)},
                    "CallerReference": caller_reference,
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc
        invalidation = response["Invalidation"]
        batch = invalidation["InvalidationBatch"]
        self._remember(
            (distribution_id, invalidation["Id"]),
            InvalidationDetails(tuple(batch["Paths"].get("Items", [])), batch["CallerReference"]),
        )
        return CreatedInvalidation(
            invalidation_id=invalidation["Id"],
            status=invalidation["Status"],
            create_time=invalidation["CreateTime"],
        )

    def list_invalidations(self, distribution_id: str, marker: str | None) -> InvalidationPage:
        try:
            if marker:
                response = self._client.list_invalidations(
                    DistributionId=distribution_id, MaxItems=str(PAGE_SIZE), Marker=marker
                )
            else:
                response = self._client.list_invalidations(
                    DistributionId=distribution_id, MaxItems=str(PAGE_SIZE)
                )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc
        listing = response["InvalidationList"]
        items = tuple(
            InvalidationSummary(item["Id"], item["CreateTime"], item["Status"])
            for item in listing.get("Items", [])
        )
        next_marker = listing.get("NextMarker") if listing.get("IsTruncated") else None
        return InvalidationPage(items, next_marker or None)

    def invalidation_details(
        self, distribution_id: str, invalidation_id: str
    ) -> InvalidationDetails:
        key = (distribution_id, invalidation_id)
        cached = self._details.get(key)
        if cached is not None:
            return cached
        try:
            response = self._client.get_invalidation(
                DistributionId=distribution_id, Id=invalidation_id
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc
        batch = response["Invalidation"]["InvalidationBatch"]
        details = InvalidationDetails(
            tuple(batch["Paths"].get("Items", [])), batch["CallerReference"]
        )
        self._remember(key, details)
        return details
