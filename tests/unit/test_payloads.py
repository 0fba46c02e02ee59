"""What the batcher sends out: the shapes docs/architecture.md documents, and their sampling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from cfinvalidator.payloads import (
    dead_letter_attributes,
    failed_notification,
    failed_notification_attributes,
    timestamp,
    tracker_input,
)
from cfinvalidator.ports import DeadLetter

D = "EDIST1AAAAAAA"


def test_tracker_input_samples_lists_but_counts_everything_within_the_budget() -> None:
    """Given 120 keys, then the input keeps 50 of each with exact counts; fifty 1,024-byte
    non-ASCII keys stay far below Step Functions' 256 KiB."""
    keys = [f"k{i:03d}" for i in range(120)]
    payload = tracker_input(
        D, "INV1", "cfinv-x", [f"/{k}" for k in keys], keys, "2026-11-21T10:00:00Z"
    )
    assert (payload["pathCount"], payload["sourceKeyCount"]) == (120, 120)
    assert len(payload["paths"]) == 50  # type: ignore[arg-type]
    big = [f"{i:02d}" + "é" * 511 for i in range(50)]
    payload = tracker_input(D, "INV1", "cfinv-x", big, big, "2026-11-21T10:00:00Z")
    assert len(json.dumps(payload)) < 80 * 1024
    assert 0 < len(payload["paths"]) < 50  # type: ignore[arg-type]


def test_tracker_input_has_the_documented_fields() -> None:
    """Given one invalidation, then the input has exactly the documented fields, in order."""
    payload = tracker_input(
        D, "INV1", "cfinv-x", ["/docs/", "/docs"], ["docs/index.html"], "2026-11-21T10:00:00.000Z"
    )
    assert payload == {
        "distributionId": D,
        "invalidationId": "INV1",
        "callerReference": "cfinv-x",
        "pathCount": 2,
        "paths": ["/docs/", "/docs"],
        "sourceKeyCount": 1,
        "sourceKeys": ["docs/index.html"],
        "requestedAt": "2026-11-21T10:00:00.000Z",
    }


def test_timestamps_are_millisecond_utc() -> None:
    """Given a moment in another zone, then it is written in UTC with milliseconds and Z."""
    moment = datetime(2026, 11, 21, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp(moment) == "2026-11-21T10:00:00.123Z"
    assert timestamp(datetime(2026, 11, 21, 10, 0, tzinfo=UTC)) == "2026-11-21T10:00:00.000Z"


def test_failed_notification_samples_and_counts() -> None:
    """Given 60 records and 120 keys, then the FAILED message keeps 50 of each with exact
    counts, and a failure tied to no distribution carries "-" as its attribute."""
    ids = [f"m{i:03d}" for i in range(60)]
    keys = [f"k{i:03d}" for i in range(120)]
    message = failed_notification(
        distribution_id="",
        error="MalformedEvent",
        cause="not JSON",
        message_ids=ids,
        source_keys=keys,
        dead_lettered=True,
        failed_at="2026-11-21T10:00:00.000Z",
    )
    assert message == {
        "status": "FAILED",
        "stage": "request",
        "distributionId": "",
        "error": "MalformedEvent",
        "cause": "not JSON",
        "recordCount": 60,
        "messageIds": ids[:50],
        "sourceKeyCount": 120,
        "sourceKeys": keys[:50],
        "deadLettered": True,
        "failedAt": "2026-11-21T10:00:00.000Z",
    }
    assert failed_notification_attributes("") == {"status": "FAILED", "distributionId": "-"}
    assert failed_notification_attributes(D) == {"status": "FAILED", "distributionId": D}


def test_dead_letter_attributes_name_the_failure() -> None:
    """Given a dead letter, then its attributes carry the code, the reason cut to 1,024
    characters, the source message ID and the delivery as a number; empty values get
    placeholders."""
    letter = DeadLetter("m1", "{}", "AccessDenied", "x" * 2000, 3)
    assert dead_letter_attributes(letter) == {
        "errorCode": "AccessDenied",
        "failureReason": "x" * 1024,
        "sourceMessageId": "m1",
        "receiveCount": 3,
    }
    empty = dead_letter_attributes(DeadLetter("m2", "{}", "", "", 1))
    assert (empty["errorCode"], empty["failureReason"]) == ("Unknown", "-")
