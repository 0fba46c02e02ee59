"""CloudFront's invalidation API, as ``ports.InvalidationApi``.

The boto3 client is built without botocore retries (see functions/batcher/app.py): the service
retries throttling and 5xx itself, with backoff and jitter bounded by the function's remaining
time, so two retry layers never multiply.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.errors import CloudFrontError
from cfinvalidator.ports import (
    Behaviour,
    CreatedInvalidation,
    DistributionLayout,
    InvalidationDetails,
    InvalidationPage,
    InvalidationSummary,
    Origin,
    PageReader,
    read_once,
)
from cfinvalidator.quotas import LIST_INVALIDATIONS_PAGE_SIZE

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import DistributionConfigOutputTypeDef

_DETAILS_CACHE_SIZE = 4096


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

    def recent_invalidations(
        self,
        distribution_id: str,
        since: datetime,
        max_pages: int,
        read_page: PageReader = read_once,
    ) -> tuple[InvalidationSummary, ...]:
        recent: list[InvalidationSummary] = []
        marker: str | None = None
        for _ in range(max_pages):
            page = read_page(partial(self._page, distribution_id, marker))
            for item in page.items:
                if item.create_time < since:
                    return tuple(recent)  # newest first: every later one is older still
                recent.append(item)
            marker = page.next_marker
            if marker is None:
                break
        return tuple(recent)

    def _page(self, distribution_id: str, marker: str | None) -> InvalidationPage:
        """One ListInvalidations page."""
        page_size = str(LIST_INVALIDATIONS_PAGE_SIZE)
        try:
            if marker:
                response = self._client.list_invalidations(
                    DistributionId=distribution_id, MaxItems=page_size, Marker=marker
                )
            else:
                response = self._client.list_invalidations(
                    DistributionId=distribution_id, MaxItems=page_size
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

    def distribution_layout(self, distribution_id: str) -> DistributionLayout:
        try:
            response = self._client.get_distribution_config(Id=distribution_id)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc
        return layout_of(distribution_id, response["DistributionConfig"])


def layout_of(distribution_id: str, config: DistributionConfigOutputTypeDef) -> DistributionLayout:
    """The origins and routing of a GetDistributionConfig answer (empty lists may be absent)."""
    origins = tuple(
        Origin(item["Id"], item["DomainName"], item.get("OriginPath", ""))
        for item in config["Origins"].get("Items", [])
    )
    behaviours = tuple(
        Behaviour(item["PathPattern"], item["TargetOriginId"])
        for item in config.get("CacheBehaviors", {}).get("Items", [])
    )
    groups = tuple(
        (item["Id"], tuple(m["OriginId"] for m in item["Members"].get("Items", [])))
        for item in config.get("OriginGroups", {}).get("Items", [])
    )
    return DistributionLayout(
        distribution_id=distribution_id,
        origins=origins,
        default_target=config["DefaultCacheBehavior"]["TargetOriginId"],
        behaviours=behaviours,
        origin_groups=groups,
    )
