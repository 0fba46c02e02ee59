"""S3 events delivered through EventBridge: parsed beside direct and SNS-wrapped notifications."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import ChangeKind, ObjectEvent, _plain_eventbridge, parse_message
from cfinvalidator.ledger import DistributionState, KnownInvalidation
from cfinvalidator.paths import decode_path
from cfinvalidator.service import SqsMessage
from tests.factories import BUCKET, load_event, s3_body, s3_record
from tests.unit.eventbridge_factories import (
    EVENT_ID,
    SEQUENCER,
    eventbridge_body,
    eventbridge_event,
    sns_envelope,
    to_body,
)
from tests.unit.test_service import CONFIG, D1, World

ONE_DISTRIBUTION = replace(CONFIG, distribution_ids=(D1,))


def only_event(body: str, message_id: str = "m1") -> ObjectEvent:
    (event,) = parse_message(message_id, body).events
    return event


# ---------------------------------------------------------------------------- detail-types


@pytest.mark.parametrize(
    ("detail_type", "reason", "deletion_type", "kind", "event_name"),
    [
        ("Object Created", "PutObject", None, "created", "ObjectCreated:Put"),
        ("Object Created", "POST Object", None, "created", "ObjectCreated:Post"),
        ("Object Created", "CopyObject", None, "created", "ObjectCreated:Copy"),
        (
            "Object Created",
            "CompleteMultipartUpload",
            None,
            "created",
            "ObjectCreated:CompleteMultipartUpload",
        ),
        ("Object Created", "RenameObject", None, "created", "ObjectCreated:*"),
        (
            "Object Deleted",
            "DeleteObject",
            "Permanently Deleted",
            "removed",
            "ObjectRemoved:Delete",
        ),
        (
            "Object Deleted",
            "DeleteObject",
            "Delete Marker Created",
            "removed",
            "ObjectRemoved:DeleteMarkerCreated",
        ),
        (
            "Object Deleted",
            "Lifecycle Expiration",
            "Permanently Deleted",
            "removed",
            "LifecycleExpiration:Delete",
        ),
        (
            "Object Deleted",
            "Lifecycle Expiration",
            "Delete Marker Created",
            "removed",
            "LifecycleExpiration:DeleteMarkerCreated",
        ),
        (
            "Object Deleted",
            "SomeNewReason",
            "Permanently Deleted",
            "removed",
            "ObjectRemoved:Delete",
        ),
        ("Object Deleted", "DeleteObject", "Some New Type", "removed", "ObjectRemoved:*"),
    ],
)
def test_created_and_deleted_events_are_parsed(
    detail_type: str, reason: str, deletion_type: str | None, kind: ChangeKind, event_name: str
) -> None:
    """Given an EventBridge event of a created or deleted object, then every field is read:
    bucket, raw key, sequencer, event ID, the kind from the detail-type and the event name a
    direct notification would carry (unknown reasons still map by detail-type)."""
    body = eventbridge_body(
        "blog/post 1.html", detail_type=detail_type, reason=reason, deletion_type=deletion_type
    )
    parsed = parse_message("m7", body)
    assert parsed.ignored_records == 0
    assert not parsed.is_test_event
    (event,) = parsed.events
    assert event == ObjectEvent(
        bucket=BUCKET,
        key="blog/post 1.html",
        event_name=event_name,
        kind=kind,
        sequencer=SEQUENCER,
        message_id="m7",
        record_index=0,
        event_time=datetime(2026, 11, 21, 10, 0, 1, tzinfo=UTC),
        event_id=EVENT_ID,
    )


@pytest.mark.parametrize(
    ("detail_type", "kind", "event_name"),
    [
        ("Object Created", "created", "ObjectCreated:*"),
        ("Object Deleted", "removed", "ObjectRemoved:*"),
    ],
)
@pytest.mark.parametrize("odd", [..., 7, None, ["PutObject"]])
def test_missing_or_odd_reasons_map_by_detail_type(
    detail_type: str, kind: ChangeKind, event_name: str, odd: Any
) -> None:
    """Given an event whose reason and deletion-type are missing or not strings, then it still
    parses, named by its detail-type alone (optional fields of the wrong type count as absent)."""
    event = eventbridge_event("a.html", detail_type=detail_type)
    for field in ("reason", "deletion-type"):
        event["detail"].pop(field, None)
        _set(event, f"detail.{field}", odd)
    parsed = only_event(to_body(event))
    assert (parsed.kind, parsed.event_name) == (kind, event_name)


IGNORED_DETAIL_TYPES = [
    "Object Restore Initiated",
    "Object Restore Completed",
    "Object Restore Expired",
    "Object Tags Added",
    "Object Tags Deleted",
    "Object ACL Updated",
    "Object Storage Class Changed",
    "Object Access Tier Changed",
]


@pytest.mark.parametrize("detail_type", IGNORED_DETAIL_TYPES)
def test_other_detail_types_are_ignored_not_rejected(detail_type: str) -> None:
    """Given an S3 event of another kind (restore, tags, ACL, storage class...), then it is
    counted as ignored, with no event and no error."""
    parsed = parse_message("m1", eventbridge_body("cold.bin", detail_type=detail_type))
    assert (parsed.events, parsed.ignored_records, parsed.is_test_event) == ((), 1, False)


def test_ignored_events_go_through_the_service_without_a_request() -> None:
    """Given only ignored EventBridge events, when served, then nothing is requested and no
    record fails."""
    world = World(config=ONE_DISTRIBUTION)
    bodies = [eventbridge_body(f"k{i}", detail_type=t) for i, t in enumerate(IGNORED_DETAIL_TYPES)]
    messages = [SqsMessage(f"m{i}", body) for i, body in enumerate(bodies)]
    outcome = world.run(messages)
    assert outcome.batch_item_failures([m.message_id for m in messages]) == []
    assert world.cloudfront.calls == []
    assert world.queue.dead_letters == []


# ---------------------------------------------------------------------------- malformed


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, with ``...``, delete) the field at dotted ``path``."""
    *parents, name = path.split(".")
    for parent in parents:
        document = document[parent]
    if value is ...:
        document.pop(name, None)
    else:
        document[name] = value


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("source", "aws.ec2", "source is 'aws.ec2', not aws.s3"),
        ("source", ..., "missing field source"),
        ("source", 3, "field source must be a non-empty string"),
        ("detail-type", ..., "missing field detail-type"),
        ("detail-type", "", "field detail-type must be a non-empty string"),
        ("detail-type", ["Object Created"], "field detail-type must be a non-empty string"),
        ("id", ..., "missing field id"),
        ("id", None, "field id must be a non-empty string"),
        ("detail", "x", "missing field detail.bucket.name"),
        ("detail.bucket", ..., "missing field detail.bucket.name"),
        ("detail.bucket.name", ..., "missing field detail.bucket.name"),
        ("detail.bucket.name", "", "field detail.bucket.name must be a non-empty string"),
        ("detail.object", [], "missing field detail.object.key"),
        ("detail.object.key", ..., "missing field detail.object.key"),
        ("detail.object.key", 42, "field detail.object.key must be a non-empty string"),
        ("detail.object.key", "", "field detail.object.key must be a non-empty string"),
        ("detail.object.key", "a\ud800b", "detail.object.key is not valid Unicode text"),
    ],
)
def test_malformed_events_raise_naming_the_field(field: str, value: Any, reason: str) -> None:
    """Given an EventBridge event with one required field missing or wrong, then parsing raises
    MalformedEventError naming that field."""
    event = eventbridge_event("a.html")
    _set(event, field, value)
    for body in (to_body(event), json.dumps(event)):  # raw or escaped non-ASCII
        with pytest.raises(MalformedEventError) as raised:
            parse_message("m1", body)
        assert reason in str(raised.value)


def test_a_lone_surrogate_in_a_direct_key_is_malformed_too() -> None:
    """Given a direct notification whose key is a JSON lone surrogate, then it is rejected as
    malformed when parsed, instead of failing later when its path is encoded."""
    body = s3_body(s3_record("placeholder")).replace("placeholder", "a\\ud800b")
    with pytest.raises(MalformedEventError, match="record 0 key is not valid Unicode text"):
        parse_message("m1", body)


def test_a_malformed_event_is_dead_lettered_alone_by_the_service() -> None:
    """Given a batch with a good EventBridge event and one from another source, then the good
    one is served and the other is dead-lettered as MalformedEvent."""
    bad = eventbridge_event("b.html")
    bad["source"] = "aws.ec2"
    world = World(config=ONE_DISTRIBUTION)
    outcome = world.run(
        [SqsMessage("good", eventbridge_body("a.html")), SqsMessage("bad", to_body(bad))]
    )
    assert outcome.batch_item_failures(["good", "bad"]) == []
    assert [paths for _, paths, _ in world.cloudfront.created] == [("/a.html",)]
    assert [(d.message_id, d.error_code) for d in world.queue.dead_letters] == [
        ("bad", "MalformedEvent")
    ]


# ---------------------------------------------------------------------------- identity


def test_with_a_sequencer_the_identity_is_the_direct_notifications() -> None:
    """Given one change reaching the queue both directly and through EventBridge (same bucket,
    key and sequencer), then both events have the same identity, whatever the message IDs."""
    key = "docs/red flower+1.jpg"
    direct = only_event(s3_body(s3_record(key, sequencer=SEQUENCER)), "m1")
    bridged = only_event(eventbridge_body(key, sequencer=SEQUENCER), "m2")
    assert direct.identity == bridged.identity == f"s3:{BUCKET}/{key}@{SEQUENCER}"
    later = only_event(eventbridge_body(key, sequencer="00617F08299329D190"), "m3")
    assert later.identity != bridged.identity


@pytest.mark.parametrize("sequencer", [..., "", 17])
def test_without_a_sequencer_the_identity_is_the_event_id(sequencer: Any) -> None:
    """Given events without a usable sequencer, then the EventBridge event ID identifies them:
    the same event delivered twice (two SQS messages) shares it, another event does not."""
    event = eventbridge_event("a.html")
    _set(event, "detail.object.sequencer", sequencer)
    first = only_event(to_body(event), "m1")
    again = only_event(to_body(event), "m2")
    event["id"] = "17793124-05d4-b198-2fde-7ededc63b103"
    other = only_event(to_body(event), "m3")
    assert first.sequencer is None
    assert first.identity == again.identity == f"eventbridge:{EVENT_ID}"
    assert other.identity == "eventbridge:17793124-05d4-b198-2fde-7ededc63b103"


def test_the_same_change_both_ways_in_one_batch_is_requested_once() -> None:
    """Given one change delivered directly and through EventBridge in one batch, then one
    request serves both records with the key's path once."""
    world = World(config=ONE_DISTRIBUTION)
    messages = [
        SqsMessage("direct", s3_body(s3_record("a b.html", sequencer=SEQUENCER))),
        SqsMessage("bridged", eventbridge_body("a b.html", sequencer=SEQUENCER)),
    ]
    outcome = world.run(messages)
    assert outcome.batch_item_failures(["direct", "bridged"]) == []
    assert [paths for _, paths, _ in world.cloudfront.created] == [("/a%20b.html",)]
    (created,) = outcome.created
    assert created.request.message_ids == {"direct", "bridged"}


# ---------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-11-21T10:00:00Z", datetime(2026, 11, 21, 10, 0, 1, tzinfo=UTC)),
        ("2026-11-21T10:00:59Z", datetime(2026, 11, 21, 10, 1, 0, tzinfo=UTC)),
        ("2026-11-21T11:00:00+01:00", datetime(2026, 11, 21, 10, 0, 1, tzinfo=UTC)),
        ("2026-11-21T10:00:00.250Z", datetime(2026, 11, 21, 10, 0, 1, 250000, tzinfo=UTC)),
        ("2026-11-21T10:00:00", None),  # no time zone: unreadable
        ("yesterday", None),
        (1763719200, None),
        (..., None),
    ],
)
def test_time_is_read_as_the_end_of_its_second(time: Any, expected: datetime | None) -> None:
    """Given EventBridge's time (truncated to the second), then the event time is one second
    later: the change happened before it; an absent or unreadable time gives no time."""
    event = eventbridge_event("a.html")
    _set(event, "time", time)
    assert only_event(to_body(event)).event_time == expected


def test_an_invalidation_within_the_same_second_does_not_count_as_covering() -> None:
    """Given an invalidation of the path created 1.5 s after the truncated time (the change may
    have happened 0.9 s after it), then it does not cover the EventBridge event, though it
    covers a direct notification of a change at the truncated time; one created 2 s after
    covers both."""
    moment = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    bridged = only_event(eventbridge_body("a.html", time="2026-11-21T10:00:00Z"))
    direct = only_event(s3_body(s3_record("a.html", event_time="2026-11-21T10:00:00.000Z")))

    def state(after: timedelta) -> DistributionState:
        return DistributionState.of(
            [KnownInvalidation("I1", moment + after, "Completed", ("/a.html",))]
        )

    within = state(timedelta(seconds=1.5))
    assert within.covering("/a.html", bridged.event_time) is None
    assert within.covering("/a.html", direct.event_time) is not None
    later = state(timedelta(seconds=2))
    assert later.covering("/a.html", bridged.event_time) is not None


def test_the_service_requests_again_what_an_invalidation_within_the_second_may_miss() -> None:
    """Given someone's invalidation of /a.html created 1.5 s after an EventBridge event's
    truncated time, when the event is served, then /a.html is requested again."""
    world = World(config=ONE_DISTRIBUTION)
    start = world.cloudfront.now
    world.cloudfront.now = datetime(2026, 11, 21, 10, 0, 1, 500000, tzinfo=UTC)
    world.cloudfront.create_invalidation(D1, ("/a.html",), "someone-else")
    world.cloudfront.now = start
    outcome = world.run([SqsMessage("m1", eventbridge_body("a.html", time="2026-11-21T10:00:00Z"))])
    assert outcome.batch_item_failures(["m1"]) == []
    assert [paths for _, paths, _ in world.cloudfront.created] == [("/a.html",), ("/a.html",)]
    assert [plan.covered_paths for plan in outcome.plans] == [0]


# ---------------------------------------------------------------------------- hostile keys

# (decoded key, the CloudFront paths requested for it), written out by hand.
HOSTILE_KEYS = [
    ("a+b.html", ("/a+b.html",)),
    ("red flower.jpg", ("/red%20flower.jpg",)),
    ("100%.html", ("/100%25.html",)),
    ("a%20b.html", ("/a%2520b.html",)),  # a literal '%20' in the key
    ("time:10:00.html", ("/time:10:00.html",)),
    ("what?.html", ("/what%3F.html",)),
    ("c#sharp.html", ("/c%23sharp.html",)),
    ("docs/page~1.html", ("/docs/page*",)),
    ("notes*", ("/notes*",)),
    ("a*b.html", ("/a*b.html",)),
    ("café.html", ("/caf%C3%A9.html",)),
    (
        "日本/index.html",
        ("/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC/", "/%E6%97%A5%E6%9C%AC/index.html"),
    ),
    ("😀 party.png", ("/%F0%9F%98%80%20party.png",)),
    ("a//b.html", ("/a//b.html",)),
    ("dir/", ("/dir/",)),
]


def direct_body(key: str) -> str:
    return s3_body(s3_record(key, sequencer=SEQUENCER))


def sns_body(key: str) -> str:
    return sns_envelope(direct_body(key))


def bridged_body(key: str) -> str:
    return eventbridge_body(key, sequencer=SEQUENCER)


def bridged_sns_body(key: str) -> str:
    return sns_envelope(bridged_body(key))


SOURCES: dict[str, Callable[[str], str]] = {
    "direct": direct_body,
    "sns": sns_body,
    "eventbridge": bridged_body,
    "eventbridge via sns": bridged_sns_body,
}


def requested_paths(body: str) -> tuple[str, ...]:
    """The paths of the one invalidation the service requests for this one body."""
    world = World(config=ONE_DISTRIBUTION)
    outcome = world.run([SqsMessage("m1", body)])
    assert outcome.batch_item_failures(["m1"]) == []
    ((_, paths, _),) = world.cloudfront.created
    return paths


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize(("key", "paths"), HOSTILE_KEYS)
def test_hostile_keys_reach_the_same_paths_from_every_source(
    source: str, key: str, paths: tuple[str, ...]
) -> None:
    """Given a key with characters that need care, sent form-encoded by a direct notification
    (also through SNS) and raw by EventBridge, then the decoded key is the key and the service
    requests exactly its encoded paths."""
    body = SOURCES[source](key)
    assert only_event(body).key == key
    assert requested_paths(body) == paths


def test_direct_keys_are_sent_form_encoded_and_eventbridge_keys_raw() -> None:
    """Given the builders used above, then the direct body carries S3's form encoding and the
    EventBridge body the raw key (so the equality above compares two encodings)."""
    key = "a+b c:é.html"
    raw_direct = json.loads(direct_body(key))["Records"][0]["s3"]["object"]["key"]
    raw_bridged = json.loads(eventbridge_body(key))["detail"]["object"]["key"]
    assert raw_direct == "a%2Bb+c%3A%C3%A9.html"
    assert raw_bridged == key


hostile_characters = st.sampled_from([*'+ %:?#~*/.é日本😀\\"\t', "%20", "%2B", "//"])
keys = st.lists(st.one_of(hostile_characters, st.characters()), min_size=1, max_size=12).map(
    "".join
)


@settings(max_examples=150, deadline=None)
@given(keys)
def test_any_key_reaches_the_same_key_and_paths_from_both_sources(key: str) -> None:
    """Given any key text, then the direct notification (form-encoded) and the EventBridge event
    (raw) yield the same decoded key, and the service requests the same CloudFront paths, one
    of which names the key exactly unless CloudFront forces a wildcard ('~', a trailing '*')."""
    direct = direct_body(key)
    bridged = eventbridge_body(key)
    assert only_event(direct).key == only_event(bridged).key == key
    paths = requested_paths(direct)
    assert requested_paths(bridged) == paths
    if "~" not in key and not key.endswith("*"):
        assert "/" + key in {decode_path(path) for path in paths}


# ---------------------------------------------------------------------------- samples


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "sqs-eventbridge-put.json",
            [
                ("blog/post 1.html", "created", "ObjectCreated:Put"),
                ("media/café:intro.mp4", "created", "ObjectCreated:CompleteMultipartUpload"),
            ],
        ),
        (
            "sqs-eventbridge-delete.json",
            [
                ("docs/old page.html", "removed", "ObjectRemoved:Delete"),
                ("reports/2025 q3.pdf", "removed", "LifecycleExpiration:DeleteMarkerCreated"),
            ],
        ),
    ],
)
def test_sample_payloads_parse(name: str, expected: list[tuple[str, str, str]]) -> None:
    """Given the EventBridge sample SQS events, then each body parses (through the fast reader)
    to its object with a sequencer, an event ID and a time; md5OfBody matches the body."""
    records = load_event(name)["Records"]
    found = []
    for record in records:
        body = record["body"]
        assert hashlib.md5(body.encode()).hexdigest() == record["md5OfBody"]  # noqa: S324
        event = only_event(body, record["messageId"])
        assert _plain_eventbridge(record["messageId"], json.loads(body)) == parse_message(
            record["messageId"], body
        )
        assert event.bucket == BUCKET
        assert event.sequencer
        document = json.loads(body)
        assert event.event_id == document["id"]
        assert event.event_time == datetime.fromisoformat(document["time"]) + timedelta(seconds=1)
        found.append((event.key, event.kind, event.event_name))
    assert found == expected


def test_sample_payloads_are_served() -> None:
    """Given both EventBridge samples in one batch, then one request carries exactly their
    encoded paths."""
    world = World(config=ONE_DISTRIBUTION)
    messages = [
        SqsMessage(r["messageId"], r["body"])
        for name in ("sqs-eventbridge-put.json", "sqs-eventbridge-delete.json")
        for r in load_event(name)["Records"]
    ]
    outcome = world.run(messages)
    assert outcome.batch_item_failures([m.message_id for m in messages]) == []
    assert [paths for _, paths, _ in world.cloudfront.created] == [
        (
            "/blog/post%201.html",
            "/docs/old%20page.html",
            "/media/caf%C3%A9:intro.mp4",
            "/reports/2025%20q3.pdf",
        )
    ]
