"""The planner's two readings against moto: ListObjectsV2 keys under a prefix (paged), and the
service's own BilledPaths metric summed since the first of the month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from cfinvalidator.adapters.cloudwatch import Boto3SpendApi
from cfinvalidator.adapters.s3 import Boto3ObjectCountApi
from cfinvalidator.errors import KnowledgeError
from tests.integration.unreachable import unreachable_client

BUCKET = "knowledge-bucket"


def test_keys_are_listed_across_pages_and_stop_at_the_limit() -> None:
    """Given 1,500 keys under img/ and one elsewhere, then listing img/ reads two pages and
    returns all 1,500; with stop_at 1,200, exactly 1,200; an empty prefix lists nothing more."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for n in range(1500):
            s3.put_object(Bucket=BUCKET, Key=f"img/{n:05d}.jpg", Body=b"")
        s3.put_object(Bucket=BUCKET, Key="index.html", Body=b"")
        api = Boto3ObjectCountApi(s3, BUCKET)

        keys = api.list_keys("img/", 10_000)
        assert len(keys) == 1500
        assert keys[0] == "img/00000.jpg"
        assert len(api.list_keys("img/", 1200)) == 1200
        assert api.list_keys("none/", 10_000) == []
        assert len(api.list_keys("", 10_000)) == 1501


def test_a_missing_bucket_is_a_knowledge_error() -> None:
    with mock_aws():
        api = Boto3ObjectCountApi(boto3.client("s3", region_name="us-east-1"), "no-such-bucket")
        with pytest.raises(KnowledgeError) as raised:
            api.list_keys("", 10)
        assert raised.value.code == "NoSuchBucket"


def test_an_unreachable_endpoint_is_a_network_knowledge_error() -> None:
    """Given an endpoint nothing listens on (127.0.0.1, port 9), then NetworkError."""
    client = unreachable_client("s3")
    with pytest.raises(KnowledgeError) as raised:
        Boto3ObjectCountApi(client, BUCKET).list_keys("", 10)
    assert raised.value.code == "NetworkError"


def test_billed_paths_are_summed_from_the_start_of_the_month() -> None:
    """Given BilledPaths datapoints of this service (and of another service name), then the sum
    since the month's start counts this service's alone; a month without datapoints is 0."""
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        now = datetime.now(UTC).replace(microsecond=0)
        for service, value in (("cloudfront-invalidator", 7), ("cloudfront-invalidator", 5),
                               ("someone-else", 100)):  # fmt: skip
            cloudwatch.put_metric_data(
                Namespace="CloudFrontInvalidator",
                MetricData=[
                    {
                        "MetricName": "BilledPaths",
                        "Dimensions": [{"Name": "service", "Value": service}],
                        "Timestamp": now - timedelta(minutes=5),
                        "Value": value,
                    }
                ],
            )
        api = Boto3SpendApi(
            cloudwatch, "CloudFrontInvalidator", "cloudfront-invalidator", now=lambda: now
        )
        assert api.billed_paths_since(now - timedelta(hours=2)) == 12
        assert api.billed_paths_since(now - timedelta(minutes=1)) == 0
