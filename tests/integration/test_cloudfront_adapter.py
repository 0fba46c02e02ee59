"""The CloudFront adapter against moto and the faithful CloudFront: it pages ListInvalidations
itself, newest first, and stops at the first invalidation older than asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_cloudfront import CloudFrontClient

from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront

EPOCH = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
COUNT = 230  # three pages of up to 100


@dataclass
class Listing:
    api: Boto3InvalidationApi
    distribution_id: str
    created: list[str]  # invalidation IDs, oldest first, one a second from EPOCH
    pages: list[dict[str, Any]] = field(default_factory=list)  # ListInvalidations parameters


@pytest.fixture
def listing(
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> Iterator[Listing]:
    clock = ManualClock()
    with mock_aws():
        client = boto3.client("cloudfront")
        distribution_id = cloudfront_distribution_factory(client)
        with FaithfulCloudFront(clock=clock, wall_clock=lambda: EPOCH + timedelta(seconds=clock())):
            created = []
            for n in range(COUNT):
                response = client.create_invalidation(
                    DistributionId=distribution_id,
                    InvalidationBatch={
                        "Paths": {"Quantity": 1, "Items": [f"/{n}.html"]},
                        "CallerReference": f"ref-{n}",
                    },
                )
                created.append(response["Invalidation"]["Id"])
                clock.advance(1.0)
            result = Listing(Boto3InvalidationApi(client), distribution_id, created)

            def count_page(params: dict[str, Any], **_: Any) -> None:
                result.pages.append(params)

            client.meta.events.register(
                "provide-client-params.cloudfront.ListInvalidations", count_page
            )
            yield result


def test_reads_every_page_newest_first(listing: Listing) -> None:
    """Given 230 invalidations, when all since EPOCH are asked for, then three pages of 100 are
    read and every invalidation is returned, newest first."""
    recent = listing.api.recent_invalidations(listing.distribution_id, EPOCH, max_pages=10)
    assert [s.invalidation_id for s in recent] == listing.created[::-1]
    assert [page["MaxItems"] for page in listing.pages] == ["100"] * 3
    assert "Marker" not in listing.pages[0]


def test_stops_at_the_first_older_invalidation(listing: Listing) -> None:
    """Given invalidations a second apart, when those created since the 80th newest are asked
    for, then one page is read and exactly those 80 come back (one created at ``since``
    counts)."""
    since = EPOCH + timedelta(seconds=COUNT - 80)
    recent = listing.api.recent_invalidations(listing.distribution_id, since, max_pages=10)
    assert [s.invalidation_id for s in recent] == listing.created[: COUNT - 81 : -1]
    assert recent[-1].create_time == since
    assert len(listing.pages) == 1


def test_reads_at_most_max_pages(listing: Listing) -> None:
    """Given 230 recent invalidations, when at most two pages may be read, then the 200 newest
    come back."""
    recent = listing.api.recent_invalidations(listing.distribution_id, EPOCH, max_pages=2)
    assert [s.invalidation_id for s in recent] == listing.created[: COUNT - 201 : -1]
    assert len(listing.pages) == 2
