"""CloudFront invalidation API behind a small interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from cfinvalidator.errors import CloudFrontError

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


@dataclass(frozen=True, slots=True)
class CreatedInvalidation:
    invalidation_id: str
    status: str
    create_time: datetime


class InvalidationApi(Protocol):
    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> CreatedInvalidation:
        """Create (or, for a known caller reference, return) an invalidation."""
        ...


class Boto3InvalidationApi:
    """CreateInvalidation through boto3; botocore's standard retry mode handles throttling."""

    def __init__(self, client: CloudFrontClient) -> None:
        self._client = client

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
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CloudFrontError(
                error.get("Code", "Unknown"), error.get("Message", str(exc))
            ) from exc
        invalidation = response["Invalidation"]
        return CreatedInvalidation(
            invalidation_id=invalidation["Id"],
            status=invalidation["Status"],
            create_time=invalidation["CreateTime"],
        )
