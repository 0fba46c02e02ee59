"""Fixtures shared by every test package. Keep this small; package-specific ones live next to
their tests (e.g. tests/statemachine/conftest.py)."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

# Powertools reads these when the observability module is first imported, as Lambda would have
# them from template.yaml.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cloudfront-invalidator")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CloudFrontInvalidatorTest")

import pytest
from hypothesis import HealthCheck, settings
from mypy_boto3_cloudfront import CloudFrontClient

from emulator.local_aws.distributions import create_distribution
from tests.factories import BUCKET

TEST_REGION = "us-east-1"

# Property tests must pass at any machine speed: no per-example deadline and no "too slow"
# health check, both of which measure wall-clock time (CI runs on a busy 2-core machine).
settings.register_profile("any-speed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("any-speed")


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real account: fixed fake credentials and region, no profile."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)


@pytest.fixture
def cloudfront_distribution_factory() -> Callable[[CloudFrontClient], str]:
    """A function to call inside an active mock_aws: creates a distribution, returns its ID."""
    counter = iter(range(1_000_000))

    def make(cloudfront: CloudFrontClient) -> str:
        return create_distribution(
            cloudfront, f"test-{next(counter)}", bucket=BUCKET, comment="test distribution"
        )

    return make


@pytest.fixture
def service_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The service logger's JSON lines written during the test, parsed: call it to read them."""
    from cfinvalidator.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    try:
        yield lines
    finally:
        handler.setStream(previous)
