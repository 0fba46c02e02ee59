"""The in-memory CloudFront (emulator.local_aws.memory) honours the contract of the faithful one.

Every test runs twice through the ``InvalidationApi`` port: once on ``FakeInvalidations``, once
on ``Boto3InvalidationApi`` over moto with ``FaithfulCloudFront`` installed. Both run on one
manual clock, so "InProgress until the completion time" means the same instant in both; the unit
tests of the service can then trust the small fake where they do not need boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config as BotoConfig
from moto import mock_aws

from cfinvalidator import quotas
from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.errors import CloudFrontError
from cfinvalidator.ports import InvalidationApi
from emulator.local_aws import cloudfront as faithful
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.local_aws.distributions import create_distribution
from emulator.local_aws.memory import FakeInvalidations

EPOCH = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
COMPLETION_SECONDS = 20.0
NO_RETRIES = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1})


@dataclass
class World:
    api: InvalidationApi
    distribution_id: str
    advance: Callable[[float], object]


def _memory() -> Iterator[World]:
    fake = FakeInvalidations(now=EPOCH, completion=timedelta(seconds=COMPLETION_SECONDS))

    def advance(seconds: float) -> None:
        fake.now += timedelta(seconds=seconds)

    yield World(fake, "E2EXAMPLE12345", advance)


def _faithful() -> Iterator[World]:
    clock = ManualClock(epoch=EPOCH)
    with mock_aws():
        client = boto3.client("cloudfront", config=NO_RETRIES)
        distribution_id = create_distribution(client, "contract", comment="contract test")
        with FaithfulCloudFront(
            clock=clock, wall_clock=clock.wall, completion_seconds=COMPLETION_SECONDS
        ):
            yield World(Boto3InvalidationApi(client), distribution_id, clock.advance)


@pytest.fixture(params=["memory", "faithful"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    yield from (_memory() if request.param == "memory" else _faithful())


def _error_code(call: Callable[[], object]) -> str:
    with pytest.raises(CloudFrontError) as caught:
        call()
    return caught.value.code


def test_the_faithful_fake_and_the_domain_agree_on_the_quotas() -> None:
    """The faithful CloudFront keeps AWS's numbers on its own (a double must not agree with the
    code under test by construction); they are the domain's."""
    assert faithful.MAX_IN_PROGRESS_FILES == quotas.MAX_IN_PROGRESS_FILES
    assert faithful.MAX_IN_PROGRESS_WILDCARDS == quotas.MAX_IN_PROGRESS_WILDCARDS
    assert faithful.MAX_PATH_LENGTH == quotas.MAX_PATH_LENGTH
    assert faithful.DEFAULT_MAX_ITEMS == quotas.LIST_INVALIDATIONS_PAGE_SIZE


def test_an_invalidation_is_in_progress_until_it_completes(world: World) -> None:
    created = world.api.create_invalidation(world.distribution_id, ["/a", "/b/*"], "ref-1")
    assert created.status == "InProgress"
    assert created.create_time == EPOCH
    world.advance(COMPLETION_SECONDS - 1)
    [listed] = world.api.recent_invalidations(world.distribution_id, EPOCH, max_pages=1)
    assert (listed.invalidation_id, listed.status) == (created.invalidation_id, "InProgress")
    world.advance(1)
    [listed] = world.api.recent_invalidations(world.distribution_id, EPOCH, max_pages=1)
    assert listed.status == "Completed"
    details = world.api.invalidation_details(world.distribution_id, created.invalidation_id)
    assert (details.paths, details.caller_reference) == (("/a", "/b/*"), "ref-1")


def test_a_repeated_caller_reference_returns_the_earlier_invalidation(world: World) -> None:
    first = world.api.create_invalidation(world.distribution_id, ["/a"], "ref-1")
    world.advance(1)
    again = world.api.create_invalidation(world.distribution_id, ["/a"], "ref-1")
    assert again.invalidation_id == first.invalidation_id
    assert again.create_time == first.create_time
    listed = world.api.recent_invalidations(world.distribution_id, EPOCH, max_pages=1)
    assert len(listed) == 1


def test_a_caller_reference_reused_with_other_paths_is_refused(world: World) -> None:
    world.api.create_invalidation(world.distribution_id, ["/a"], "ref-1")
    code = _error_code(
        lambda: world.api.create_invalidation(world.distribution_id, ["/b"], "ref-1")
    )
    assert code == "InvalidationBatchAlreadyExists"


def test_in_progress_file_paths_are_capped(world: World) -> None:
    files = [f"/f{n}" for n in range(quotas.MAX_IN_PROGRESS_FILES)]
    world.api.create_invalidation(world.distribution_id, files, "ref-files")
    code = _error_code(lambda: world.api.create_invalidation(world.distribution_id, ["/x"], "r"))
    assert code == "TooManyInvalidationsInProgress"
    # Wildcards have a quota of their own.
    world.api.create_invalidation(world.distribution_id, ["/w/*"], "ref-wildcard")
    world.advance(COMPLETION_SECONDS)
    world.api.create_invalidation(world.distribution_id, ["/x"], "ref-after")


def test_in_progress_wildcards_are_capped(world: World) -> None:
    wildcards = [f"/d{n}/*" for n in range(quotas.MAX_IN_PROGRESS_WILDCARDS)]
    world.api.create_invalidation(world.distribution_id, wildcards, "ref-wildcards")
    code = _error_code(lambda: world.api.create_invalidation(world.distribution_id, ["/e/*"], "r"))
    assert code == "TooManyInvalidationsInProgress"
    world.api.create_invalidation(world.distribution_id, ["/file"], "ref-file")


def test_one_request_holds_at_most_3000_paths(world: World) -> None:
    paths = [f"/f{n}" for n in range(quotas.MAX_PATHS_PER_REQUEST + 1)]
    code = _error_code(lambda: world.api.create_invalidation(world.distribution_id, paths, "r"))
    assert code == "BatchTooLarge"


def test_recent_invalidations_are_listed_newest_first_and_stop_at_since(world: World) -> None:
    created = []
    for n in range(5):
        created.append(world.api.create_invalidation(world.distribution_id, [f"/{n}"], f"ref-{n}"))
        world.advance(1)
    since = EPOCH + timedelta(seconds=2)
    listed = world.api.recent_invalidations(world.distribution_id, since, max_pages=1)
    assert [s.invalidation_id for s in listed] == [c.invalidation_id for c in created[:1:-1]]
