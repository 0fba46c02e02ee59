"""The SQS message body S3 sends for one upload, as S3 writes it (see docs/aws-behaviour.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from urllib.parse import quote_plus

from emulator.local_aws.clock import EPOCH
from emulator.simulation.settings import (
    REGION,
    ChangeKind,
)


def _timestamp(at: float, epoch: datetime) -> str:
    """S3's eventTime: milliseconds (truncated) and ``Z``."""
    moment = epoch + timedelta(seconds=at)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def s3_event_body(
    key: str,
    *,
    at: float,
    sequencer: str,
    kind: ChangeKind = "created",
    bucket: str = "sim-origin-bucket",
    region: str = REGION,
    epoch: datetime = EPOCH,
) -> str:
    """The SQS message body S3 sends for one change of the (decoded) ``key``: compact JSON,
    one record, the key form-encoded. Written from a template (this runs once per upload);
    ``quote_plus`` leaves nothing in the key that JSON would escape."""
    encoded_key = quote_plus(key, safe="/")
    if kind == "created":
        digest = hashlib.md5(f"{key}@{sequencer}".encode(), usedforsecurity=False).hexdigest()
        event_name = "ObjectCreated:Put"
        extra = f'"size":1024,"eTag":"{digest}",'
    else:
        event_name = "ObjectRemoved:Delete"
        extra = ""
    name = json.dumps(bucket)
    arn = json.dumps(f"arn:aws:s3:::{bucket}")
    return (
        '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3",'
        f'"awsRegion":{json.dumps(region)},"eventTime":"{_timestamp(at, epoch)}",'
        f'"eventName":"{event_name}",'
        '"userIdentity":{"principalId":"AWS:AIDASIMULATEDEXAMPLE"},'
        '"requestParameters":{"sourceIPAddress":"192.0.2.1"},'
        '"s3":{"s3SchemaVersion":"1.0","configurationId":"invalidate",'
        f'"bucket":{{"name":{name},"ownerIdentity":{{"principalId":"A3NL1KOZZKEXAMPLE"}},'
        f'"arn":{arn}}},'
        f'"object":{{"key":"{encoded_key}",{extra}"sequencer":{json.dumps(sequencer)}}}}}}}]}}'
    )
