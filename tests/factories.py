"""Builders for real-shaped S3 event notifications and SQS records, the batcher's configuration,
and payload loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from cfinvalidator.config import Config

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
BUCKET = "my-site-origin-example"


def service_config(*distribution_ids: str) -> Config:
    """The batcher's configuration for these distributions, on BUCKET, with default knobs."""
    return Config(
        distribution_ids=distribution_ids,
        bucket_name=BUCKET,
        key_prefix="",
        origin_path="",
        index_document="index.html",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:tracker",
        queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/queue",
        dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        topic_arn="arn:aws:sns:us-east-1:123456789012:topic",
    )


def load_event(name: str) -> dict[str, Any]:
    """Load a payload from events/ (the real shapes also used in the docs)."""
    document: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return document


def s3_record(
    key: str,
    *,
    bucket: str = BUCKET,
    event_name: str = "ObjectCreated:Put",
    sequencer: str | None = "0055AED6DCD90281E5",
    event_time: str = "2026-11-21T10:00:00.000Z",
) -> dict[str, Any]:
    """One S3 event record; ``key`` is the decoded key, form-encoded here as S3 does."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": 1024, "eTag": "d41d8cd9"}
    if sequencer is not None:
        obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time,
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "invalidate",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_body(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def sqs_record(message_id: str, body: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1763719200000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1763719200001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:invalidation-queue",
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}
