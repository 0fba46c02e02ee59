"""Distributions in moto: the minimal S3-origin distribution the demo, the simulation and the
tests put in front of a bucket."""

from __future__ import annotations

from typing import Any

__all__ = ["create_distribution"]


def create_distribution(
    cloudfront: Any,
    reference: str,
    *,
    origin_domain: str = "origin-bucket.s3.amazonaws.com",
    comment: str = "emulated distribution",
    default_root_object: str = "",
) -> str:
    """Create a minimal S3-origin distribution (in moto) and return its ID.

    ``cloudfront`` is a boto3 CloudFront client inside an active ``mock_aws()``.
    """
    config: dict[str, Any] = {
        "CallerReference": reference,
        "Comment": comment,
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": origin_domain,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
        },
    }
    if default_root_object:
        config["DefaultRootObject"] = default_root_object
    response = cloudfront.create_distribution(DistributionConfig=config)
    return str(response["Distribution"]["Id"])
