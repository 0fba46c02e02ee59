"""The sample payloads in events/ keep AWS's real shapes (they are fixtures for other tests)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.template.cfn import ACCOUNT_ID, REGION, ROOT

EVENTS = ROOT / "events"
BUCKET = "my-site-origin-example"
EXPECTED_FILES = {
    "sqs-s3-put.json",
    "sqs-s3-test-event.json",
    "sqs-s3-delete.json",
    "sqs-malformed.json",
    "sqs-sns-wrapped.json",
}


def _records(name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((EVENTS / name).read_text(encoding="utf-8"))[
        "Records"
    ]
    return records


def _s3_records(body: str) -> list[dict[str, Any]]:
    """The S3 records carried by an SQS body, unwrapping an SNS envelope."""
    document = json.loads(body)
    if document.get("Type") == "Notification":
        document = json.loads(document["Message"])
    records: list[dict[str, Any]] = document.get("Records", [])
    return records


def _keys(name: str) -> list[str]:
    return [r["s3"]["object"]["key"] for m in _records(name) for r in _s3_records(m["body"])]


def test_all_sample_events_exist() -> None:
    """Given the events directory
    When listing it
    Then every documented sample is present."""
    assert {p.name for p in EVENTS.glob("*.json")} >= EXPECTED_FILES


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_sqs_envelope_is_real_shaped(name: str) -> None:
    """Given a sample SQS event
    When reading each record
    Then it has the Lambda SQS record fields and an md5OfBody that matches its body."""
    for record in _records(name):
        assert record["eventSource"] == "aws:sqs"
        assert record["awsRegion"] == REGION
        assert record["eventSourceARN"].startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:")
        assert hashlib.md5(record["body"].encode()).hexdigest() == record["md5OfBody"]  # noqa: S324
        assert {"messageId", "receiptHandle", "attributes", "messageAttributes"} <= set(record)


def test_put_event_keys_are_form_encoded_with_sequencers() -> None:
    """Given the put sample
    When reading its S3 records
    Then keys are form-encoded as S3 sends them ('/' kept, space as '+') and carry a sequencer."""
    records = [r for m in _records("sqs-s3-put.json") for r in _s3_records(m["body"])]

    assert _keys("sqs-s3-put.json") == ["index.html", "docs/red+flower.jpg"]
    for record in records:
        assert record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["bucket"]["name"] == BUCKET
        assert record["s3"]["object"]["sequencer"]


def test_special_samples() -> None:
    """Given the test-event, delete, malformed and SNS-wrapped samples
    When parsing their bodies
    Then each has the shape its name promises."""
    test_event = json.loads(_records("sqs-s3-test-event.json")[0]["body"])
    delete = _s3_records(_records("sqs-s3-delete.json")[0]["body"])
    malformed = _records("sqs-malformed.json")
    wrapped = json.loads(_records("sqs-sns-wrapped.json")[0]["body"])

    assert test_event["Event"] == "s3:TestEvent"
    assert "Records" not in test_event
    assert delete[0]["eventName"] == "ObjectRemoved:Delete"
    assert "size" not in delete[0]["s3"]["object"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed[0]["body"])
    assert _s3_records(malformed[1]["body"])[0]["s3"]["bucket"]["name"] == BUCKET
    assert wrapped["Type"] == "Notification"
    assert _s3_records(json.dumps(wrapped))[0]["s3"]["bucket"]["name"] == BUCKET
