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
from cfinvalidator.errors import CloudFrontError
from cfinvalidator.origins import mapping_for
from cfinvalidator.paths import PathRules
from cfinvalidator.ports import Behaviour, DistributionLayout, Origin
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.local_aws.distributions import OriginSpec, create_distribution
from tests.factories import BUCKET

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


def test_distribution_layout_is_read_from_get_distribution_config() -> None:
    """Given a distribution with two origins of the bucket and a /blog/* behaviour (in moto),
    when the adapter reads it, then origins, origin paths and routing come back in order, and
    the domain mapping serves the blog origin only under /blog/*."""
    with mock_aws():
        client = boto3.client("cloudfront")
        distribution_id = create_distribution(
            client,
            "layout",
            bucket=BUCKET,
            origin_path="/site",
            extra_origins=[OriginSpec("blog", f"{BUCKET}.s3.us-east-1.amazonaws.com", "/b")],
            behaviours=[("/blog/*", "blog")],
        )
        layout = Boto3InvalidationApi(client).distribution_layout(distribution_id)
    assert layout == DistributionLayout(
        distribution_id,
        (
            Origin("origin", f"{BUCKET}.s3.amazonaws.com", "/site"),
            Origin("blog", f"{BUCKET}.s3.us-east-1.amazonaws.com", "/b"),
        ),
        "origin",
        (Behaviour("/blog/*", "blog"),),
    )
    mapping = mapping_for(layout, BUCKET, PathRules())
    assert mapping.paths_for("b/blog/x.html") == ("/blog/x.html",)
    assert mapping.paths_for("site/x.html") == ("/x.html",)


def test_unknown_distribution_layout_is_a_domain_error() -> None:
    """Given a distribution ID moto does not know, then the adapter raises CloudFrontError
    NoSuchDistribution (which the service dead-letters)."""
    with mock_aws():
        api = Boto3InvalidationApi(boto3.client("cloudfront"))
        with pytest.raises(CloudFrontError) as caught:
            api.distribution_layout("E0000000000000")
    assert caught.value.code == "NoSuchDistribution"
