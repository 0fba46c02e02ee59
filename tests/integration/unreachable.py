"""A boto3 client for an endpoint nothing listens on: an AWS call that gets no answer."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config as BotoConfig


def unreachable_client(service: str) -> Any:
    """``service``'s client pointed at 127.0.0.1, port 9 (discard; closed here), with one
    attempt: its calls fail with a botocore connection error, not a ClientError."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
