"""Fixtures for the tracker state machine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mypy_boto3_cloudfront import CloudFrontClient

from tests.statemachine.harness import TrackerHarness, open_tracker_harness


@pytest.fixture
def tracker_harness(
    cloudfront_distribution_factory: Callable[[CloudFrontClient], str],
) -> Iterator[TrackerHarness]:
    """The tracker's world in moto: see `open_tracker_harness`."""
    with open_tracker_harness(cloudfront_distribution_factory) as harness:
        yield harness
