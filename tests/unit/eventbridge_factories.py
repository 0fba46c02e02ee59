"""Builders for S3 events as EventBridge delivers them to SQS: the body is the event itself.

The companion of tests.factories (S3 notifications). The key is written raw, as the public
samples show it (the assumption of ``cfinvalidator.events._eventbridge_key``).
"""

from __future__ import annotations

import json
from typing import Any

from tests.factories import BUCKET

EVENT_ID = "2d4eba74-fd51-3966-4bfa-b013c9da8ff1"
SEQUENCER = "00617F08299329D189"
TIME = "2026-11-21T10:00:00Z"
# The reason S3 gives for the usual change of each kind.
USUAL_REASONS = {"Object Created": "PutObject", "Object Deleted": "DeleteObject"}


def eventbridge_event(
    key: str,
    *,
    detail_type: str = "Object Created",
    reason: str | None = None,
    deletion_type: str | None = None,
    bucket: str = BUCKET,
    sequencer: str | None = SEQUENCER,
    time: str = TIME,
    event_id: str = EVENT_ID,
) -> dict[str, Any]:
    """One S3 event in EventBridge's shape. ``reason`` None: the usual reason of the
    detail-type; ``deletion_type`` None: "Permanently Deleted" for Object Deleted."""
    obj: dict[str, Any] = {"key": key}
    if detail_type == "Object Created":
        obj |= {"size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"}
    obj["version-id"] = "IYV3p45BT0ac8hjHg1houSdS1a.Mppz"
    if sequencer is not None:
        obj["sequencer"] = sequencer
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "203.0.113.10",
        "reason": reason if reason is not None else USUAL_REASONS.get(detail_type, "PutObject"),
    }
    if detail_type == "Object Deleted":
        detail["deletion-type"] = deletion_type or "Permanently Deleted"
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": detail,
    }


def eventbridge_body(key: str, **fields: Any) -> str:
    """The SQS body an EventBridge rule delivers: the event as compact JSON."""
    return to_body(eventbridge_event(key, **fields))


def to_body(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def sns_envelope(message: str) -> str:
    """``message`` as SNS wraps it for an SQS subscription without raw delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": f"arn:aws:sns:us-east-1:123456789012:{BUCKET}-events",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2026-11-21T10:00:00.412Z",
        },
        indent=2,
    )
