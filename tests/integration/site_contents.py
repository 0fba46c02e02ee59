"""A bucket that already holds a site, as a real origin does before the first deploy."""

from __future__ import annotations

from collections.abc import Iterable

import boto3


def seed_unchanged_siblings(bucket: str, keys: Iterable[str]) -> list[str]:
    """Put one unchanged object beside each of ``keys`` (in its directory) and return them.

    With an empty bucket, a wildcard over just-uploaded keys invalidates nothing else, so the
    planner rightly prefers it to exact paths; a bucket that holds other objects there is what
    tests of exact paths need."""
    s3 = boto3.client("s3")
    siblings = sorted({key.rpartition("/")[0] + ("/" if "/" in key else "") for key in keys})
    seeded = [f"{directory}unchanged-sibling.txt" for directory in siblings]
    for key in seeded:
        s3.put_object(Bucket=bucket, Key=key, Body=b"unchanged")
    return seeded


def purge(queue_url: str) -> None:
    """Drop what the seeding put on the queue (its events are not part of the test)."""
    boto3.client("sqs").purge_queue(QueueUrl=queue_url)
