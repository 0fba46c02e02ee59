"""The faithful CloudFront fake behaves as AWS documents it, seen through a real boto3 client."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from mypy_boto3_cloudfront import CloudFrontClient
from mypy_boto3_cloudfront.type_defs import (
    CreateInvalidationResultTypeDef,
    InvalidationBatchTypeDef,
    ListInvalidationsResultTypeDef,
)

from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import (
    DEFAULT_MAX_ITEMS,
    MAX_IN_PROGRESS_FILES,
    MAX_IN_PROGRESS_WILDCARDS,
    FaithfulCloudFront,
)
from emulator.local_aws.distributions import create_distribution

COMPLETION_SECONDS = 20.0
# The wall clock the fixture gives the fake: EPOCH plus the manual clock's reading.
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
# botocore retries Throttling and 5xx by itself; one attempt shows each answer as it is.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ConflictCode = Literal["InvalidationBatchAlreadyExists", "InvalidArgument"]


@dataclass
class CloudFrontWorld:
    client: CloudFrontClient
    distribution_id: str
    fake: FaithfulCloudFront
    clock: ManualClock
    make_distribution: Callable[[CloudFrontClient], str]

    def invalidate(
        self, paths: Sequence[str], reference: str, distribution_id: str | None = None
    ) -> CreateInvalidationResultTypeDef:
        return self.client.create_invalidation(
            DistributionId=distribution_id or self.distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": list(paths)},
                "CallerReference": reference,
            },
        )

    def status(self, invalidation_id: str) -> str:
        response = self.client.get_invalidation(
            DistributionId=self.distribution_id, Id=invalidation_id
        )
        return response["Invalidation"]["Status"]

    def now(self) -> datetime:
        """What the fake's wall clock reads now."""
        return EPOCH + timedelta(seconds=self.clock())

    def list_page(self, max_items: int, marker: str = "") -> ListInvalidationsResultTypeDef:
        return self.client.list_invalidations(
            DistributionId=self.distribution_id, MaxItems=str(max_items), Marker=marker
        )


@pytest.fixture
def world(
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> Iterator[CloudFrontWorld]:
    clock = ManualClock(start=1000.0)
    with mock_aws():
        client = boto3.client("cloudfront", config=NO_RETRIES)
        distribution_id = cloudfront_distribution_factory(client)
        with FaithfulCloudFront(
            clock=clock,
            completion_seconds=COMPLETION_SECONDS,
            wall_clock=lambda: EPOCH + timedelta(seconds=clock()),
        ) as fake:
            yield CloudFrontWorld(
                client, distribution_id, fake, clock, cloudfront_distribution_factory
            )


def files(count: int, prefix: str = "f") -> list[str]:
    return [f"/{prefix}/{i}.html" for i in range(count)]


def wildcards(count: int, prefix: str = "w") -> list[str]:
    return [f"/{prefix}{i}/*" for i in range(count)]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --------------------------------------------------------------------------- status


def test_status_is_in_progress_until_completion_time_then_completed(world: CloudFrontWorld) -> None:
    """Given a new invalidation and a fake clock,
    when the clock reaches the completion time,
    then Get/List report AWS's exact `InProgress` before and `Completed` from then on."""
    created = world.invalidate(["/a.html"], "ref-1")["Invalidation"]
    invalidation_id = created["Id"]
    assert created["Status"] == "InProgress"

    world.clock.advance(COMPLETION_SECONDS - 0.001)
    assert world.status(invalidation_id) == "InProgress"
    listed = world.client.list_invalidations(DistributionId=world.distribution_id)
    assert [(i["Id"], i["Status"]) for i in listed["InvalidationList"]["Items"]] == [
        (invalidation_id, "InProgress")
    ]

    world.clock.advance(0.001)
    assert world.status(invalidation_id) == "Completed"
    listed = world.client.list_invalidations(DistributionId=world.distribution_id)
    assert [(i["Id"], i["Status"]) for i in listed["InvalidationList"]["Items"]] == [
        (invalidation_id, "Completed")
    ]
    assert world.fake.status(invalidation_id) == "Completed"


def test_completion_seconds_sampler_sets_each_invalidations_own_latency(
    world: CloudFrontWorld,
) -> None:
    """Given a sampler of completion latencies,
    when two invalidations are created,
    then each completes after its own sampled latency."""
    latencies = iter([5.0, 50.0])
    world.fake.completion_seconds = lambda: next(latencies)
    fast = world.invalidate(["/fast"], "fast")["Invalidation"]["Id"]
    slow = world.invalidate(["/slow"], "slow")["Invalidation"]["Id"]

    world.clock.advance(5.0)

    assert (world.status(fast), world.status(slow)) == ("Completed", "InProgress")
    world.clock.advance(45.0)
    assert world.status(slow) == "Completed"


def test_create_time_follows_the_wall_clock_in_create_get_and_list(
    world: CloudFrontWorld,
) -> None:
    """Given a fake with an injected wall clock,
    when an invalidation is created (and later repeated, and read back),
    then CreateInvalidation, GetInvalidation and ListInvalidations all report the wall clock's
    reading at creation, as the same aware UTC datetime."""
    world.clock.advance(12.345678)
    expected = world.now()

    created = world.invalidate(["/a"], "ref-1")["Invalidation"]
    world.clock.advance(COMPLETION_SECONDS)
    repeated = world.invalidate(["/a"], "ref-1")["Invalidation"]
    got = world.client.get_invalidation(DistributionId=world.distribution_id, Id=created["Id"])
    listed = world.client.list_invalidations(DistributionId=world.distribution_id)

    assert created["CreateTime"] == expected
    assert created["CreateTime"].utcoffset() == timedelta(0)
    assert repeated["CreateTime"] == expected
    assert got["Invalidation"]["CreateTime"] == expected
    assert [i["CreateTime"] for i in listed["InvalidationList"]["Items"]] == [expected]


def test_wall_clock_may_read_epoch_seconds(world: CloudFrontWorld) -> None:
    """Given a wall clock whose readings are epoch seconds,
    when an invalidation is created,
    then its CreateTime is that instant in UTC."""
    world.fake.uninstall()
    with FaithfulCloudFront(clock=world.clock, wall_clock=lambda: 1_800_000_000.25):
        created = world.invalidate(["/a"], "ref-1")["Invalidation"]

    assert created["CreateTime"] == datetime(2027, 1, 15, 8, 0, 0, 250_000, tzinfo=UTC)


def test_a_naive_wall_clock_is_refused(world: CloudFrontWorld) -> None:
    """Given a wall clock that returns naive datetimes (no time zone, so no one instant),
    when an invalidation is created,
    then the fake refuses it loudly instead of guessing, and creates nothing."""
    world.fake.uninstall()
    naive = datetime(2026, 11, 1, 12, 0)  # no tzinfo: the mistake under test
    with FaithfulCloudFront(clock=world.clock, wall_clock=lambda: naive) as fake:
        with pytest.raises(ValueError, match="timezone-aware"):
            world.invalidate(["/a"], "ref-1")

        assert fake.invalidation_count == 0


def test_without_a_wall_clock_create_time_is_real_time(world: CloudFrontWorld) -> None:
    """Given a fake without a wall clock,
    when an invalidation is created,
    then its CreateTime is moto's real-time stamp, as an aware UTC datetime."""
    world.fake.uninstall()
    with FaithfulCloudFront(clock=world.clock):
        before = datetime.now(UTC)
        created = world.invalidate(["/a"], "ref-1")["Invalidation"]
        after = datetime.now(UTC)

    assert before <= created["CreateTime"] <= after
    assert created["CreateTime"].utcoffset() == timedelta(0)


# ----------------------------------------------------------------------------- listing


def test_list_invalidations_pages_newest_first_by_marker(world: CloudFrontWorld) -> None:
    """Given five invalidations created a second apart, the oldest already completed,
    when they are listed two at a time, each page's NextMarker passed back as Marker,
    then the pages run newest to oldest with AWS's IsTruncated, NextMarker, Quantity and items
    (Id, CreateTime, Status)."""
    created: list[tuple[str, datetime]] = []
    for index in range(5):
        invalidation = world.invalidate([f"/{index}"], f"ref-{index}")["Invalidation"]
        created.append((invalidation["Id"], invalidation["CreateTime"]))
        world.clock.advance(COMPLETION_SECONDS if index == 0 else 1.0)
    newest_first = created[::-1]
    statuses = ["InProgress"] * 4 + ["Completed"]

    pages: list[ListInvalidationsResultTypeDef] = [world.list_page(2)]
    while pages[-1]["InvalidationList"]["IsTruncated"]:
        pages.append(world.list_page(2, pages[-1]["InvalidationList"]["NextMarker"]))

    summaries = [
        (
            page["InvalidationList"]["IsTruncated"],
            page["InvalidationList"].get("NextMarker"),
            page["InvalidationList"]["Quantity"],
            page["InvalidationList"]["MaxItems"],
        )
        for page in pages
    ]
    assert summaries == [
        (True, newest_first[1][0], 2, 2),
        (True, newest_first[3][0], 2, 2),
        (False, None, 1, 2),
    ]
    items = [
        (item["Id"], item["CreateTime"], item["Status"])
        for page in pages
        for item in page["InvalidationList"]["Items"]
    ]
    assert items == [(i, t, s) for (i, t), s in zip(newest_first, statuses, strict=True)]


def test_list_invalidations_defaults_to_100_per_page(world: CloudFrontWorld) -> None:
    """Given 101 invalidations created at the same instant,
    when they are listed without MaxItems,
    then the first page holds the 100 most recently created (ties go to creation order) and
    the next page the oldest."""
    ids = [
        world.invalidate([f"/{i}"], f"ref-{i}")["Invalidation"]["Id"]
        for i in range(DEFAULT_MAX_ITEMS + 1)
    ]

    first = world.client.list_invalidations(DistributionId=world.distribution_id)
    marker = first["InvalidationList"]["NextMarker"]
    second = world.client.list_invalidations(DistributionId=world.distribution_id, Marker=marker)

    assert first["InvalidationList"]["MaxItems"] == DEFAULT_MAX_ITEMS
    assert first["InvalidationList"]["IsTruncated"] is True
    assert [i["Id"] for i in first["InvalidationList"]["Items"]] == ids[:0:-1]
    assert marker == ids[1]
    assert [i["Id"] for i in second["InvalidationList"]["Items"]] == [ids[0]]
    assert second["InvalidationList"]["IsTruncated"] is False


def test_listing_of_a_distribution_without_invalidations_is_empty(world: CloudFrontWorld) -> None:
    """Given a distribution with no invalidations,
    when it is listed,
    then the list is empty and not truncated."""
    listed = world.list_page(2)["InvalidationList"]

    assert (listed["Quantity"], listed["IsTruncated"], listed.get("Items", [])) == (0, False, [])


def test_pages_are_stable_while_new_invalidations_arrive(world: CloudFrontWorld) -> None:
    """Given a listing part-way through (first page read),
    when a new invalidation is created before the next page is requested,
    then the next page continues after the marker: nothing repeated, nothing skipped."""
    ids = [world.invalidate([f"/{i}"], f"ref-{i}")["Invalidation"]["Id"] for i in range(4)]
    first = world.list_page(2)["InvalidationList"]

    world.clock.advance(1.0)
    newest = world.invalidate(["/new"], "ref-new")["Invalidation"]["Id"]
    second = world.list_page(2, first["NextMarker"])["InvalidationList"]

    assert [i["Id"] for i in first["Items"]] == [ids[3], ids[2]]
    assert [i["Id"] for i in second["Items"]] == [ids[1], ids[0]]
    assert second["IsTruncated"] is False
    assert [i["Id"] for i in world.list_page(1)["InvalidationList"]["Items"]] == [newest]


def test_invalidations_from_before_the_fake_are_listed_completed_by_create_time(
    world: CloudFrontWorld,
) -> None:
    """Given two invalidations moto created before the fake was installed (at real time) and a
    fake whose wall clock reads a later instant,
    when the distribution's invalidations are listed,
    then all three are listed newest first by CreateTime, the earlier ones as Completed."""
    world.fake.uninstall()
    old = [world.invalidate([f"/old{i}"], f"old-{i}")["Invalidation"]["Id"] for i in range(2)]
    later = datetime(2100, 1, 1, tzinfo=UTC)
    with FaithfulCloudFront(clock=world.clock, wall_clock=lambda: later):
        new = world.invalidate(["/new"], "new")["Invalidation"]["Id"]
        listed = world.list_page(10)["InvalidationList"]

    assert [(i["Id"], i["Status"]) for i in listed["Items"]] == [
        (new, "InProgress"),
        (old[1], "Completed"),
        (old[0], "Completed"),
    ]
    times = [i["CreateTime"] for i in listed["Items"]]
    assert times == sorted(times, reverse=True)
    assert times[0] == later


@pytest.mark.parametrize(
    ("max_items", "marker"),
    [
        pytest.param(2, "INOSUCHINVALIDATION", id="unknown-marker"),
        pytest.param(0, "", id="zero-max-items"),
    ],
)
def test_invalid_list_arguments_are_invalid_argument(
    world: CloudFrontWorld, max_items: int, marker: str
) -> None:
    """Given a distribution with an invalidation,
    when it is listed with a Marker that names none of its invalidations, or MaxItems 0,
    then the call fails with InvalidArgument (400)."""
    world.invalidate(["/a"], "ref-1")

    with pytest.raises(ClientError) as excinfo:
        world.list_page(max_items, marker)

    assert error_of(excinfo) == ("InvalidArgument", 400)


# --------------------------------------------------------------------------- quotas


def test_file_quota_rejects_the_request_that_would_exceed_3000_in_progress(
    world: CloudFrontWorld,
) -> None:
    """Given 2,999 file paths in progress,
    when a request for 2 more arrives,
    then it fails with TooManyInvalidationsInProgress (400) and nothing is created or billed;
    one more path still fits."""
    world.invalidate(files(2999), "big")

    with pytest.raises(ClientError) as excinfo:
        world.invalidate(files(2, prefix="more"), "over")

    assert error_of(excinfo) == ("TooManyInvalidationsInProgress", 400)
    assert world.fake.in_progress(world.distribution_id) == (2999, 0)
    assert world.fake.billed_paths == 2999
    assert world.fake.calls[-1].outcome == "rejected"
    world.invalidate(["/last-one.html"], "fits")
    assert world.fake.in_progress(world.distribution_id) == (MAX_IN_PROGRESS_FILES, 0)


def test_wildcard_quota_is_separate_and_counts_15_wildcard_paths(world: CloudFrontWorld) -> None:
    """Given 15 wildcard paths in progress (plus files, which do not count toward it),
    when another wildcard is requested,
    then it fails with TooManyInvalidationsInProgress while a file-only request still succeeds."""
    world.invalidate([*wildcards(10), *files(100)], "mixed")
    world.invalidate(wildcards(5, prefix="x"), "five-more")
    assert world.fake.in_progress(world.distribution_id) == (100, MAX_IN_PROGRESS_WILDCARDS)

    with pytest.raises(ClientError) as excinfo:
        world.invalidate(["/sixteenth/*"], "too-many")

    assert error_of(excinfo) == ("TooManyInvalidationsInProgress", 400)
    world.invalidate(["/plain.css"], "file-only")
    assert world.fake.in_progress(world.distribution_id) == (101, MAX_IN_PROGRESS_WILDCARDS)


def test_quota_is_freed_when_invalidations_complete(world: CloudFrontWorld) -> None:
    """Given both quotas exhausted,
    when the in-progress invalidations complete,
    then the same requests succeed."""
    world.invalidate([*files(2985), *wildcards(15)], "full")
    with pytest.raises(ClientError):
        world.invalidate(["/w/*"], "blocked")

    world.clock.advance(COMPLETION_SECONDS)

    assert world.fake.in_progress(world.distribution_id) == (0, 0)
    created = world.invalidate([*files(2985), *wildcards(15)], "full-again")
    assert created["Invalidation"]["Status"] == "InProgress"


def test_quotas_are_per_distribution(world: CloudFrontWorld) -> None:
    """Given one distribution's wildcard quota exhausted,
    when another distribution asks for wildcards,
    then it is not affected."""
    other = world.make_distribution(world.client)
    world.invalidate(wildcards(15), "full")

    world.invalidate(wildcards(15), "other-full", distribution_id=other)

    assert world.fake.in_progress(other) == (0, 15)
    assert world.fake.billed_paths_for(other) == 15


def test_more_than_3000_paths_in_one_request_is_batch_too_large(world: CloudFrontWorld) -> None:
    """Given an idle distribution,
    when one request carries 3,001 paths,
    then it fails with BatchTooLarge (413) and nothing is in progress."""
    with pytest.raises(ClientError) as excinfo:
        world.invalidate(files(3001), "huge")

    assert error_of(excinfo) == ("BatchTooLarge", 413)
    assert world.fake.in_progress(world.distribution_id) == (0, 0)
    assert world.fake.invalidation_count == 0


@pytest.mark.parametrize(
    "paths",
    [
        pytest.param(["no-leading-slash"], id="relative"),
        pytest.param(["/" + "a" * 4000], id="long"),
    ],
)
def test_invalid_paths_are_rejected_with_invalid_argument(
    world: CloudFrontWorld, paths: list[str]
) -> None:
    """Given a path CloudFront cannot accept (no leading `/`, over 4,000 characters),
    when it is requested,
    then the request fails with InvalidArgument (400)."""
    with pytest.raises(ClientError) as excinfo:
        world.invalidate(paths, "bad")

    assert error_of(excinfo) == ("InvalidArgument", 400)


def test_unknown_distribution_is_no_such_distribution(world: CloudFrontWorld) -> None:
    """Given a distribution ID that does not exist,
    when an invalidation is requested or listed,
    then both fail with NoSuchDistribution (404)."""
    with pytest.raises(ClientError) as create_error:
        world.invalidate(["/a"], "ref", distribution_id="EDOESNOTEXIST")
    with pytest.raises(ClientError) as list_error:
        world.client.list_invalidations(DistributionId="EDOESNOTEXIST")

    assert error_of(create_error) == ("NoSuchDistribution", 404)
    assert error_of(list_error) == ("NoSuchDistribution", 404)


# ------------------------------------------------------------------- caller reference


def test_same_reference_and_paths_returns_the_earlier_invalidation_unbilled(
    world: CloudFrontWorld,
) -> None:
    """Given an invalidation created with a CallerReference,
    when the identical request is repeated (a retry),
    then the earlier invalidation comes back: no new one, no quota use, nothing billed."""
    first = world.invalidate(["/a", "/b/*"], "ref-1")["Invalidation"]

    world.clock.advance(1.0)
    again = world.invalidate(["/a", "/b/*"], "ref-1")["Invalidation"]

    assert again["Id"] == first["Id"]
    assert again["Status"] == "InProgress"
    assert world.fake.invalidation_count == 1
    assert world.fake.in_progress(world.distribution_id) == (1, 1)
    assert [c.outcome for c in world.fake.calls] == ["created", "duplicate"]
    assert [c.billed_paths for c in world.fake.calls] == [2, 0]
    assert world.fake.billed_paths == 2


def test_repeated_reference_after_completion_reports_completed(world: CloudFrontWorld) -> None:
    """Given an invalidation that has completed,
    when the identical request is repeated,
    then the earlier (Completed) invalidation is returned and nothing new is in progress."""
    first_id = world.invalidate(["/a"], "ref-1")["Invalidation"]["Id"]
    world.clock.advance(COMPLETION_SECONDS)

    again = world.invalidate(["/a"], "ref-1")["Invalidation"]

    assert (again["Id"], again["Status"]) == (first_id, "Completed")
    assert world.fake.in_progress(world.distribution_id) == (0, 0)


@pytest.mark.parametrize(
    ("conflict_code", "status"),
    [("InvalidationBatchAlreadyExists", 409), ("InvalidArgument", 400)],
)
def test_same_reference_with_other_paths_is_refused(
    world: CloudFrontWorld, conflict_code: ConflictCode, status: int
) -> None:
    """Given an invalidation created with a CallerReference,
    when the same reference arrives with different paths (or the same paths in another order),
    then it is refused with the documented InvalidationBatchAlreadyExists, or the InvalidArgument
    AWS is reported to answer, and nothing new is created."""
    world.fake.uninstall()
    with FaithfulCloudFront(clock=world.clock, conflict_error_code=conflict_code) as fake:
        world.invalidate(["/a", "/b"], "ref-1")
        for paths in (["/a", "/c"], ["/b", "/a"]):
            with pytest.raises(ClientError) as excinfo:
                world.invalidate(paths, "ref-1")
            assert error_of(excinfo) == (conflict_code, status)

        assert fake.invalidation_count == 1
        assert fake.billed_paths == 2


def test_reference_is_scoped_to_the_distribution(world: CloudFrontWorld) -> None:
    """Given a CallerReference used on one distribution,
    when another distribution uses it with other paths,
    then that is a new invalidation there."""
    other = world.make_distribution(world.client)
    world.invalidate(["/a"], "shared-ref")

    created = world.invalidate(["/b"], "shared-ref", distribution_id=other)

    assert created["Invalidation"]["Status"] == "InProgress"
    assert world.fake.invalidation_count == 2


# -------------------------------------------------------------------- injected errors


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("Throttling", 400, "Rate exceeded"),
        ("ServiceUnavailable", 503, "Service Unavailable"),
        ("AccessDenied", 403, "Access denied."),
        ("NoSuchDistribution", 404, "The specified distribution does not exist."),
    ],
)
def test_injected_errors_reach_boto3_with_aws_code_and_status(
    world: CloudFrontWorld, code: str, status: int, message: str
) -> None:
    """Given an error injected into CreateInvalidation,
    when boto3 calls it,
    then it raises a ClientError with AWS's code, message and HTTP status; the next call works."""
    world.fake.inject("CreateInvalidation", code)

    with pytest.raises(ClientError) as excinfo:
        world.invalidate(["/a"], "ref-1")

    assert error_of(excinfo) == (code, status)
    assert excinfo.value.response["Error"]["Message"] == message
    assert world.fake.calls[-1].outcome == "rejected"
    assert world.fake.calls[-1].error_code == code
    assert world.invalidate(["/a"], "ref-1")["Invalidation"]["Status"] == "InProgress"


def test_injected_errors_are_consumed_in_order_and_per_operation(world: CloudFrontWorld) -> None:
    """Given two Throttling then one ServiceUnavailable injected into GetInvalidation,
    when GetInvalidation is called four times and CreateInvalidation in between,
    then the answers come in that order, and CreateInvalidation is unaffected."""
    invalidation_id = world.invalidate(["/a"], "ref-1")["Invalidation"]["Id"]
    world.fake.inject("GetInvalidation", "Throttling", times=2)
    world.fake.inject("GetInvalidation", "ServiceUnavailable", status=503, message="Try later")

    answers: list[tuple[str, int] | str] = []
    for _ in range(4):
        try:
            answers.append(world.status(invalidation_id))
        except ClientError as error:
            answers.append(
                (
                    error.response["Error"]["Code"],
                    error.response["ResponseMetadata"]["HTTPStatusCode"],
                )
            )
        world.invalidate(["/b"], "ref-2")

    assert answers == [
        ("Throttling", 400),
        ("Throttling", 400),
        ("ServiceUnavailable", 503),
        "InProgress",
    ]


def test_injected_error_on_list_invalidations(world: CloudFrontWorld) -> None:
    """Given Throttling injected into ListInvalidations,
    when it is called,
    then boto3 raises Throttling."""
    world.fake.inject("ListInvalidations", "Throttling")

    with pytest.raises(ClientError) as excinfo:
        world.client.list_invalidations(DistributionId=world.distribution_id)

    assert error_of(excinfo) == ("Throttling", 400)


def test_default_client_retries_absorb_a_single_throttle(world: CloudFrontWorld) -> None:
    """Given one injected Throttling and a boto3 client with its default retry policy,
    when it creates an invalidation,
    then botocore retries by itself and the caller sees success (two calls reached the fake)."""
    retrying = boto3.client("cloudfront", config=Config(retries={"mode": "standard"}))
    world.fake.inject("CreateInvalidation", "Throttling")

    created = retrying.create_invalidation(
        DistributionId=world.distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/a"]}, "CallerReference": "r"},
    )

    assert created["Invalidation"]["Status"] == "InProgress"
    assert [c.outcome for c in world.fake.calls] == ["rejected", "created"]


def test_throttle_after_rate_limits_quick_calls_on_a_sliding_window(world: CloudFrontWorld) -> None:
    """Given a limit of 6 calls per second,
    when 7 calls arrive within that second,
    then the 7th is `Throttling: Rate exceeded`; once the window has slid, calls succeed again."""
    world.fake.throttle_after(calls=6, within_seconds=1.0)
    for i in range(6):
        world.invalidate([f"/{i}"], f"ref-{i}")
        world.clock.advance(0.1)

    with pytest.raises(ClientError) as excinfo:
        world.invalidate(["/6"], "ref-6")

    assert error_of(excinfo) == ("Throttling", 400)
    assert excinfo.value.response["Error"]["Message"] == "Rate exceeded"
    world.clock.advance(0.5)  # the first call (t=0) has left the window
    assert world.invalidate(["/6"], "ref-6")["Invalidation"]["Status"] == "InProgress"


# ---------------------------------------------------------------------- billing, lifecycle


def test_billed_paths_count_each_path_of_new_invalidations_only(world: CloudFrontWorld) -> None:
    """Given new, repeated and rejected requests,
    when billing is read,
    then every path of each new invalidation counts once (a wildcard is one path)."""
    world.invalidate(["/a", "/b", "/c/*"], "ref-1")
    world.invalidate(["/a", "/b", "/c/*"], "ref-1")  # duplicate: free
    with pytest.raises(ClientError):
        world.invalidate(files(3001), "huge")  # rejected: free
    world.invalidate(["/d"], "ref-2")

    assert world.fake.billed_paths == 4
    assert world.fake.billed_paths_for(world.distribution_id) == 4
    assert [c.outcome for c in world.fake.calls] == ["created", "duplicate", "rejected", "created"]


def test_uninstall_restores_moto_behaviour(
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> None:
    """Given the fake installed in a mock,
    when it is uninstalled,
    then moto's own (unfaithful, `COMPLETED`) behaviour is back."""
    with mock_aws():
        client = boto3.client("cloudfront", config=NO_RETRIES)
        distribution_id = cloudfront_distribution_factory(client)
        batch: InvalidationBatchTypeDef = {
            "Paths": {"Quantity": 1, "Items": ["/a"]},
            "CallerReference": "r",
        }
        with FaithfulCloudFront(clock=ManualClock()):
            inside = client.create_invalidation(
                DistributionId=distribution_id, InvalidationBatch=batch
            )

        outside = client.create_invalidation(
            DistributionId=distribution_id, InvalidationBatch=batch
        )

    assert inside["Invalidation"]["Status"] == "InProgress"
    assert outside["Invalidation"]["Status"] == "COMPLETED"
    assert outside["Invalidation"]["Id"] != inside["Invalidation"]["Id"]


def test_invalid_control_arguments_are_refused(world: CloudFrontWorld) -> None:
    """Given the fake,
    when asked for nonsense controls,
    then it refuses them instead of silently doing nothing."""
    with pytest.raises(ValueError, match="times"):
        world.fake.inject("CreateInvalidation", "Throttling", times=0)
    with pytest.raises(ValueError, match="within_seconds"):
        world.fake.throttle_after(calls=0, within_seconds=1.0)
    with pytest.raises(RuntimeError, match="already installed"):
        world.fake.install()
    with pytest.raises(ValueError, match="backwards"):
        world.clock.advance(-1)


# ------------------------------------------------------------------------ property


# The file quota is scaled down so examples stay small and fast; the logic is the same.
SMALL_FILE_QUOTA = 30


@st.composite
def request_plans(draw: st.DrawFn) -> list[tuple[int, int, float]]:
    """(file paths, wildcard paths, seconds to advance before the request)."""
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from([0, 1, 2, 5, 10, 14, 15, 16]),
                st.integers(0, 8),
                st.sampled_from([0.0, 0.0, 5.0, COMPLETION_SECONDS]),
            ).filter(lambda t: t[0] + t[1] > 0),
            min_size=1,
            max_size=8,
        )
    )


def test_quotas_are_never_exceeded_and_billing_matches_created(
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> None:
    """Given any sequence of requests and clock advances (one fresh distribution and fake each),
    when each is sent,
    then a request is refused exactly when it would exceed the in-progress file quota or 15
    wildcards (checked against an independent model), in-progress counts match the model, and
    billed paths equal the paths of the created invalidations."""
    with mock_aws():  # one mock for all examples: starting moto costs more than an example
        client = boto3.client("cloudfront", config=NO_RETRIES)

        @settings(max_examples=40, deadline=None)
        @given(plan=request_plans())
        def check(plan: list[tuple[int, int, float]]) -> None:
            distribution_id = cloudfront_distribution_factory(client)
            clock = ManualClock()
            model: list[tuple[float, int, int]] = []  # (created at, files, wildcards)
            with FaithfulCloudFront(
                clock=clock,
                completion_seconds=COMPLETION_SECONDS,
                max_in_progress_files=SMALL_FILE_QUOTA,
                max_paths_per_request=SMALL_FILE_QUOTA,
            ) as fake:
                for index, (file_count, wildcard_count, advance) in enumerate(plan):
                    now = clock.advance(advance)
                    live = [m for m in model if now < m[0] + COMPLETION_SECONDS]
                    fits = (
                        sum(m[1] for m in live) + file_count <= SMALL_FILE_QUOTA
                        and sum(m[2] for m in live) + wildcard_count <= MAX_IN_PROGRESS_WILDCARDS
                    )
                    paths = [
                        *files(file_count, f"p{index}"),
                        *wildcards(wildcard_count, f"p{index}-"),
                    ]
                    batch: InvalidationBatchTypeDef = {
                        "Paths": {"Quantity": len(paths), "Items": paths},
                        "CallerReference": f"ref-{index}",
                    }
                    if fits:
                        client.create_invalidation(
                            DistributionId=distribution_id, InvalidationBatch=batch
                        )
                        model.append((now, file_count, wildcard_count))
                    else:
                        with pytest.raises(ClientError) as excinfo:
                            client.create_invalidation(
                                DistributionId=distribution_id, InvalidationBatch=batch
                            )
                        assert error_of(excinfo) == ("TooManyInvalidationsInProgress", 400)
                    live = [m for m in model if now < m[0] + COMPLETION_SECONDS]
                    assert fake.in_progress(distribution_id) == (
                        sum(m[1] for m in live),
                        sum(m[2] for m in live),
                    )
                assert fake.billed_paths == sum(m[1] + m[2] for m in model)

        check()


def test_a_clock_that_steps_back_sees_invalidations_in_progress_again() -> None:
    """Given an invalidation completed by the clock (the fake keeps its load incrementally),
    when the clock steps back to before its completion (a simulation does this after a
    handler's sleep),
    then quota, GetInvalidation and ListInvalidations all show it in progress again."""
    clock = ManualClock(0.0)
    with mock_aws():
        client = boto3.client("cloudfront", region_name="us-east-1", config=NO_RETRIES)
        distribution_id = create_distribution(client, "step-back")
        with FaithfulCloudFront(clock=clock, completion_seconds=COMPLETION_SECONDS) as fake:
            created = client.create_invalidation(
                DistributionId=distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": 2, "Items": ["/a.css", "/b/*"]},
                    "CallerReference": "step-back",
                },
            )
            invalidation_id = created["Invalidation"]["Id"]

            def seen() -> tuple[tuple[int, int], str, str]:
                got = client.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)
                listed = client.list_invalidations(DistributionId=distribution_id)
                return (
                    fake.in_progress(distribution_id),
                    got["Invalidation"]["Status"],
                    listed["InvalidationList"]["Items"][0]["Status"],
                )

            clock.set(COMPLETION_SECONDS + 5)
            assert seen() == ((0, 0), "Completed", "Completed")
            clock.set(COMPLETION_SECONDS - 5)
            assert seen() == ((1, 1), "InProgress", "InProgress")
            clock.set(COMPLETION_SECONDS)
            assert seen() == ((0, 0), "Completed", "Completed")
