"""Parsing SQS message bodies into S3 object events."""

from __future__ import annotations

import json

import pytest

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import parse_message
from tests.factories import s3_body, s3_record


def test_put_event_is_parsed_with_decoded_key_and_identity() -> None:
    """Given a Put record with a form-encoded key, then the key is decoded and kept with its
    sequencer."""
    parsed = parse_message("m1", s3_body(s3_record("docs/red flower.jpg", sequencer="00AB")))
    (event,) = parsed.events
    assert event.key == "docs/red flower.jpg"
    assert event.kind == "created"
    assert event.event_name == "ObjectCreated:Put"
    assert event.identity == "s3:my-site-origin-example/docs/red flower.jpg@00AB"


def test_identity_falls_back_to_message_id_without_sequencer() -> None:
    """Given no sequencer (an emulator), then the SQS message ID identifies the event."""
    parsed = parse_message("m9", s3_body(s3_record("a.txt", sequencer=None)))
    assert parsed.events[0].identity == "sqs:m9#0"


def test_duplicate_deliveries_share_identity_and_reuploads_do_not() -> None:
    """Given a duplicate and a later re-upload, then only the duplicate has the same identity."""
    first = parse_message("m1", s3_body(s3_record("a.txt", sequencer="01"))).events[0]
    duplicate = parse_message("m2", s3_body(s3_record("a.txt", sequencer="01"))).events[0]
    reupload = parse_message("m3", s3_body(s3_record("a.txt", sequencer="02"))).events[0]
    assert first.identity == duplicate.identity != reupload.identity


def test_removed_events_are_parsed_and_other_kinds_ignored() -> None:
    """Given Delete and ObjectRestore records, then Delete is kept and Restore counted ignored."""
    body = s3_body(
        s3_record("gone.html", event_name="ObjectRemoved:Delete"),
        s3_record("cold.bin", event_name="ObjectRestore:Completed"),
    )
    parsed = parse_message("m1", body)
    assert [(e.key, e.kind) for e in parsed.events] == [("gone.html", "removed")]
    assert parsed.ignored_records == 1


def test_test_event_is_recognised() -> None:
    """Given the s3:TestEvent S3 sends on configuration, then it is flagged with no events."""
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-21T10:00:00.000Z",
            "Bucket": "b",
            "RequestId": "r",
            "HostId": "h",
        }
    )
    parsed = parse_message("m1", body)
    assert parsed.is_test_event
    assert parsed.events == ()


def test_sns_envelope_is_unwrapped() -> None:
    """Given S3 -> SNS -> SQS delivery, then the inner S3 event is parsed."""
    envelope = json.dumps(
        {"Type": "Notification", "MessageId": "n", "Message": s3_body(s3_record("x/y.css"))}
    )
    assert parse_message("m1", envelope).events[0].key == "x/y.css"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("{}", "no S3 Records"),
        ('{"Records": []}', "no S3 Records"),
        ('{"Records": [{"eventSource": "aws:sqs", "eventName": "x"}]}', "not aws:s3"),
        ('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}', "s3"),
        (
            '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",'
            ' "s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}]}',
            "non-empty string",
        ),
        (
            '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",'
            ' "s3": {"bucket": {"name": "b"}, "object": {"key": "%FF"}}}]}',
            "UTF-8",
        ),
        ('{"Type": "Notification", "Message": "nope"}', "not JSON"),
    ],
)
def test_malformed_bodies_raise_with_a_reason(body: str, reason: str) -> None:
    """Given a body that is not an S3 notification, then the error says why."""
    with pytest.raises(MalformedEventError, match=reason):
        parse_message("m1", body)


def test_event_time_is_read_and_a_missing_one_is_tolerated() -> None:
    """Given S3's eventTime, then it is parsed as UTC; without one the event still parses with
    no time (it can then never count as already covered)."""
    from datetime import UTC, datetime

    record = s3_record("a.css", event_time="2026-11-21T10:00:00.123Z")
    [event] = parse_message("m1", s3_body(record)).events
    assert event.event_time == datetime(2026, 11, 21, 10, 0, 0, 123000, tzinfo=UTC)
    del record["eventTime"]
    [event] = parse_message("m1", s3_body(record)).events
    assert event.event_time is None
