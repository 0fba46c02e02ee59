"""Distributions in moto: S3-origin distributions the demo, the simulation and the tests put in
front of a bucket (one origin by default; more origins and cache behaviours when asked)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["OriginSpec", "create_distribution"]


@dataclass(frozen=True, slots=True)
class OriginSpec:
    """One origin: ``domain`` is an S3 endpoint (or any other host, for a non-S3 origin)."""

    origin_id: str
    domain: str
    origin_path: str = ""


def create_distribution(
    cloudfront: Any,
    reference: str,
    *,
    bucket: str = "origin-bucket",
    origin_path: str = "",
    comment: str = "emulated distribution",
    default_root_object: str = "",
    extra_origins: Sequence[OriginSpec] = (),
    behaviours: Sequence[tuple[str, str]] = (),
) -> str:
    """Create a distribution (in moto) whose default behaviour reads ``bucket`` through its
    global S3 endpoint with ``origin_path``; return its ID.

    ``extra_origins`` are added after it, and ``behaviours`` are (PathPattern, origin ID) cache
    behaviours in order. ``cloudfront`` is a boto3 CloudFront client inside ``mock_aws()``.
    """
    origins = [OriginSpec("origin", f"{bucket}.s3.amazonaws.com", origin_path), *extra_origins]
    config: dict[str, Any] = {
        "CallerReference": reference,
        "Comment": comment,
        "Enabled": True,
        "Origins": {"Quantity": len(origins), "Items": [_origin(o) for o in origins]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
        },
    }
    if behaviours:
        config["CacheBehaviors"] = {
            "Quantity": len(behaviours),
            "Items": [
                {
                    "PathPattern": pattern,
                    "TargetOriginId": target,
                    "ViewerProtocolPolicy": "redirect-to-https",
                }
                for pattern, target in behaviours
            ],
        }
    if default_root_object:
        config["DefaultRootObject"] = default_root_object
    response = cloudfront.create_distribution(DistributionConfig=config)
    return str(response["Distribution"]["Id"])


def _origin(spec: OriginSpec) -> dict[str, Any]:
    origin: dict[str, Any] = {"Id": spec.origin_id, "DomainName": spec.domain}
    if spec.origin_path:
        origin["OriginPath"] = spec.origin_path
    if ".s3." in spec.domain or ".s3-" in spec.domain:
        origin["S3OriginConfig"] = {"OriginAccessIdentity": ""}
    else:
        origin["CustomOriginConfig"] = {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
        }
    return origin
