"""The fast readers of SQS bodies agree with the validating walk, on generated S3 and
EventBridge bodies.

``parse_message`` first tries S3's own text with a regular expression (no JSON decoding), then
the decoded document without the generic walk (S3 Records, or an EventBridge event), and only
then the walk. Each fast reader must
either give up (None) or return exactly what the walk returns; and where the walk rejects a
body, ``parse_message`` must reject it with the walk's message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import (
    ParsedMessage,
    _loads,
    _parse_document,
    _plain_document,
    _plain_eventbridge,
    _plain_s3_body,
    parse_message,
)
from tests.factories import s3_body, s3_record

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
MISSING: Any = object()  # a field left out of the record

Outcome = ParsedMessage | tuple[str, str]


def _walk(body: str) -> Outcome:
    """The reference: the validating walk over the decoded body."""
    try:
        return _parse_document("m1", _loads(body), enveloped=False)
    except MalformedEventError as exc:
        return ("MalformedEventError", str(exc))


def _parse(body: str) -> Outcome:
    try:
        return parse_message("m1", body)
    except MalformedEventError as exc:
        return ("MalformedEventError", str(exc))


# Raw keys as S3 form-encodes them, and the ways they can go wrong: invalid or truncated
# escapes, bytes that are not UTF-8, characters JSON must escape, non-ASCII, lone surrogates.
good_pieces = st.sampled_from(
    ["a", "/", "+", "%2B", "%20", "%25", "%C3%A9", "%c3%a9", "%E6%97%A5", "%7E", "~", "*", "é"]
)
risky_pieces = st.sampled_from(
    ["%FF", "%C3", "%zz", "%4", "%", "日", "\\", '"', "\x01", "\x7f", " ", "\ud800", "\\x41"]
)
raw_keys = st.lists(
    st.one_of(good_pieces, good_pieces, good_pieces, risky_pieces), min_size=1, max_size=8
).map("".join)
other_json = st.sampled_from([None, 0, 7, 1.5, True, [], {}, ["a"], {"a": "b"}])
EVENT_NAMES = [
    "ObjectCreated:Put",
    "s3:ObjectCreated:Copy",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
    "ObjectRestore:Completed",
    "ObjectCreated",
    "s3:",
]
EVENT_TIMES = ["2026-11-21T10:00:00.000Z", "2026-11-21T10:00:00+01:00", "2026-11-21T10:00:00", "x"]


class Fields:
    """Draws field values: good ones, or (for a spoiled body) now and then a missing field, an
    empty string or another JSON type."""

    def __init__(self, draw: st.DrawFn, *, spoiled: bool) -> None:
        self.draw = draw
        self.spoiled = spoiled

    def __call__(self, good: st.SearchStrategy[Any], *, may_be_missing: bool = True) -> Any:
        if self.spoiled and self.draw(st.sampled_from([False] * 5 + [True])):
            return self.draw(st.one_of(st.just(MISSING if may_be_missing else ""), other_json))
        return self.draw(good)


def put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not MISSING:
        target[name] = value


def record(field: Fields) -> Any:
    """A record in S3's field order (as S3 writes it)."""
    draw = field.draw
    obj: dict[str, Any] = {}
    put(obj, "key", field(raw_keys))
    if draw(st.booleans()):
        obj["size"] = draw(st.sampled_from([0, 1024, -1, 1.5, 2e3]))
    if draw(st.booleans()):
        obj["eTag"] = "d41d8cd98f00b204e9800998ecf8427e"
    if draw(st.booleans()):
        obj["versionId"] = "096fKKXTRTtl3on89fVO.nfljtsv6qko"
    put(obj, "sequencer", field(st.sampled_from(["0055AED6DCD90281E5", "01", ""])))
    bucket: dict[str, Any] = {}
    put(bucket, "name", field(st.sampled_from(["my-bucket", "other-bucket", "b\u00e9"])))
    bucket["ownerIdentity"] = {"principalId": "A3NL1KOZZKEXAMPLE"}
    bucket["arn"] = "arn:aws:s3:::my-bucket"
    s3: dict[str, Any] = {"s3SchemaVersion": "1.0", "configurationId": "invalidate"}
    put(s3, "bucket", field(st.just(bucket)))
    put(s3, "object", field(st.just(obj)))
    record: dict[str, Any] = {"eventVersion": "2.1"}
    put(record, "eventSource", field(st.sampled_from(["aws:s3"] * 5 + ["aws:sqs"])))
    record["awsRegion"] = "us-east-1"
    put(record, "eventTime", field(st.sampled_from(EVENT_TIMES)))
    put(record, "eventName", field(st.sampled_from(EVENT_NAMES)))
    record["userIdentity"] = {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"}
    record["requestParameters"] = {"sourceIPAddress": "203.0.113.10"}
    if draw(st.booleans()):
        record["responseElements"] = {"x-amz-request-id": "C3D13FE5", "x-amz-id-2": "FMyU/Ig="}
    put(record, "s3", field(st.just(s3)))
    return field(st.just(record), may_be_missing=False)


@st.composite
def documents(draw: st.DrawFn, *, odd: bool = True) -> Any:
    """S3 notifications; with ``odd``, half of them spoiled, and now and then several records,
    a test event or an SNS envelope."""
    field = Fields(draw, spoiled=odd and draw(st.booleans()))
    count = draw(st.sampled_from([1, 1, 1, 2, 3])) if odd else 1
    document: dict[str, Any] = {}
    put(document, "Records", field(st.just([record(field) for _ in range(count)])))
    if odd:
        put(document, "Event", draw(st.sampled_from([MISSING] * 8 + ["s3:TestEvent", "other"])))
    if odd and draw(st.sampled_from([False] * 9 + [True])):
        document["Type"] = "Notification"
        document["Message"] = json.dumps({"Records": document.get("Records")})
    return field(st.just(document), may_be_missing=False)


def serialised(document: Any, style: str) -> str:
    if style == "s3":  # as S3 writes it: compact, non-ASCII as is
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    if style == "compact ascii":
        return json.dumps(document, separators=(",", ":"))
    return json.dumps(document)  # spaced, as the test factories write it


bodies = st.one_of(
    st.builds(serialised, documents(), st.sampled_from(["s3", "compact ascii", "spaced"])),
    st.builds(serialised, documents(odd=False), st.just("s3")),  # what S3 sends
)

# EventBridge events (tests/unit/eventbridge_factories.py builds the usual one): raw keys, so
# characters a form-decoder would change matter too.
eventbridge_keys = st.lists(
    st.one_of(
        st.sampled_from(["a", "/", "+", " ", "%20", "%", ":", "?", "#", "~", "*", "é", "😀"]),
        risky_pieces,
    ),
    min_size=1,
    max_size=8,
).map("".join)
DETAIL_TYPES = [
    "Object Created",
    "Object Created",
    "Object Deleted",
    "Object Tags Added",
    "Object Restore Completed",
    "object created",
]
REASONS = [
    "PutObject",
    "POST Object",
    "CopyObject",
    "CompleteMultipartUpload",
    "DeleteObject",
    "Lifecycle Expiration",
    "Other",
]
DELETION_TYPES = ["Permanently Deleted", "Delete Marker Created", "Other"]
EVENTBRIDGE_TIMES = ["2026-11-21T10:00:00Z", "2026-11-21T10:00:00.5+01:00", "2026-11-21T10:00", "x"]


def eventbridge_event(field: Fields) -> Any:
    """An EventBridge event in EventBridge's field order."""
    draw = field.draw
    obj: dict[str, Any] = {}
    put(obj, "key", field(eventbridge_keys))
    if draw(st.booleans()):
        obj["size"] = draw(st.sampled_from([0, 5, 1.5]))
        obj["etag"] = "b1946ac92492d2347c6235b4d2611184"
    if draw(st.booleans()):
        obj["version-id"] = "IYV3p45BT0ac8hjHg1houSdS1a.Mppz"
    put(obj, "sequencer", field(st.sampled_from(["00617F08299329D189", "01", "", MISSING])))
    bucket: dict[str, Any] = {}
    put(bucket, "name", field(st.sampled_from(["my-bucket", "other-bucket", "b\u00e9"])))
    detail: dict[str, Any] = {"version": "0"}
    put(detail, "bucket", field(st.just(bucket)))
    put(detail, "object", field(st.just(obj)))
    detail["request-id"] = "N4N7GDK58NMKJ12R"
    put(detail, "reason", field(st.sampled_from(REASONS)))
    if draw(st.booleans()):
        put(detail, "deletion-type", field(st.sampled_from(DELETION_TYPES)))
    event: dict[str, Any] = {"version": "0"}
    put(event, "id", field(st.sampled_from(["2d4eba74-fd51-3966-4bfa-b013c9da8ff1", "e1"])))
    put(event, "detail-type", field(st.sampled_from(DETAIL_TYPES)))
    put(event, "source", field(st.sampled_from(["aws.s3"] * 5 + ["aws.ec2", "aws:s3"])))
    event["account"] = "123456789012"
    put(event, "time", field(st.sampled_from(EVENTBRIDGE_TIMES)))
    event["region"] = "us-east-1"
    event["resources"] = ["arn:aws:s3:::my-bucket"]
    put(event, "detail", field(st.just(detail)))
    return event


@st.composite
def eventbridge_documents(draw: st.DrawFn, *, odd: bool = True) -> Any:
    """EventBridge events; with ``odd``, half of them spoiled, and now and then carrying a field
    of another body (Records, Event, Type) or wrapped in an SNS envelope."""
    field = Fields(draw, spoiled=odd and draw(st.booleans()))
    document = eventbridge_event(field)
    if odd:
        extra = draw(st.sampled_from([None] * 12 + ["Records", "Event", "Type", "envelope"]))
        if extra == "Records":
            document["Records"] = draw(
                st.sampled_from([[], [{"eventSource": "aws:s3"}], [s3_record("a.html")]])
            )
        elif extra == "Event":
            document["Event"] = draw(st.sampled_from(["s3:TestEvent", "other"]))
        elif extra == "Type":
            document["Type"] = "Notification"
        elif extra == "envelope":
            document = {"Type": "Notification", "Message": json.dumps(document)}
    return field(st.just(document), may_be_missing=False)


eventbridge_bodies = st.one_of(
    st.builds(
        serialised, eventbridge_documents(), st.sampled_from(["s3", "compact ascii", "spaced"])
    ),
    st.builds(serialised, eventbridge_documents(odd=False), st.just("s3")),  # as delivered
)

REAL_S3_BODY = json.loads((EVENTS_DIR / "sqs-s3-put.json").read_text())["Records"][0]["body"]
REAL_EVENTBRIDGE_BODY = json.loads(
    (EVENTS_DIR / "sqs-eventbridge-put.json").read_text(encoding="utf-8")
)["Records"][0]["body"]


def assert_fast_readers_agree(body: str) -> None:
    """Each fast reader returns None or exactly the walk's events, and ``parse_message``
    returns the walk's events or raises its error."""
    expected = _walk(body)
    assert _parse(body) == expected
    from_text = _plain_s3_body("m1", body)
    assert from_text is None or from_text == expected
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return
    from_document = _plain_document("m1", document)
    assert from_document is None or from_document == expected
    from_eventbridge = _plain_eventbridge("m1", document)
    assert from_eventbridge is None or from_eventbridge == expected


@settings(max_examples=1000)
@given(bodies)
def test_fast_readers_agree_with_the_validating_walk(body: str) -> None:
    """Given any generated body, then parsing it answers what the validating walk answers."""
    assert_fast_readers_agree(body)


@settings(max_examples=1000)
@given(eventbridge_bodies)
def test_fast_readers_agree_with_the_validating_walk_on_eventbridge_bodies(body: str) -> None:
    """Given any generated EventBridge body, then parsing it answers what the validating walk
    answers, and the S3 readers give up on it."""
    assert_fast_readers_agree(body)
    assert _plain_s3_body("m1", body) is None


def _envelope(message: str, **extra: object) -> str:
    return json.dumps({"Type": "Notification", "Message": message, **extra})


TRICKY_BODIES = [
    REAL_S3_BODY,
    REAL_S3_BODY.replace('"size":2048', '"size":NaN'),  # JSON to Python, never from S3
    REAL_S3_BODY.replace('"size":2048', '"size":20x48'),  # not JSON
    REAL_S3_BODY.replace("index.html", "a\x01b"),  # a raw control character: not JSON
    REAL_S3_BODY.replace("index.html", "a\tb"),
    # Duplicate fields: json.loads keeps the last one.
    REAL_S3_BODY.replace('"eventName"', '"eventName":"ObjectRestore:Completed","eventName"'),
    REAL_S3_BODY.replace(
        ',"userIdentity"', ',"eventName":"ObjectRestore:Completed","userIdentity"'
    ),
    REAL_S3_BODY.replace(',"sequencer"', ',"key":"other.html","sequencer"'),
    REAL_S3_BODY.replace('{"Records"', '{"Records":[],"Records"', 1),
    # A test event or an SNS envelope that also carries Records.
    REAL_S3_BODY.replace('{"Records"', '{"Event":"s3:TestEvent","Records"', 1),
    REAL_S3_BODY.replace('{"Records"', '{"Event":"other","Records"', 1),
    _envelope(json.dumps({"Records": []}), Records=json.loads(REAL_S3_BODY)["Records"]),
    _envelope(REAL_S3_BODY, Records=[]),
    # Keys: escapes, bad UTF-8, JSON escapes.
    REAL_S3_BODY.replace("index.html", "caf%C3%A9.html"),
    REAL_S3_BODY.replace("index.html", "bad%C3"),
    REAL_S3_BODY.replace("index.html", "%zz%4"),
    REAL_S3_BODY.replace("index.html", 'a\\"b'),
    REAL_S3_BODY.replace("index.html", "a\\u00e9b"),
    REAL_S3_BODY.replace("index.html", "a\\\\x41"),
    REAL_S3_BODY.replace('"sequencer":"0065E1B2C3D4E5F601"', '"sequencer":""'),
    REAL_S3_BODY.replace(',"sequencer":"0065E1B2C3D4E5F601"', ""),
    # Around the document.
    REAL_S3_BODY + " ",
    " " + REAL_S3_BODY,
    "\ufeff" + REAL_S3_BODY,
    REAL_S3_BODY + "{}",
    # EventBridge: duplicate fields (the last one counts), mixed shapes, odd keys.
    REAL_EVENTBRIDGE_BODY,
    REAL_EVENTBRIDGE_BODY.replace(
        '"detail-type"', '"detail-type":"Object Tags Added","detail-type"'
    ),
    REAL_EVENTBRIDGE_BODY.replace(
        '"detail-type":"Object Created"', '"detail-type":"Object Tags Added"'
    ),
    REAL_EVENTBRIDGE_BODY.replace('"source":"aws.s3"', '"source":"aws.s3","source":"aws.ec2"'),
    REAL_EVENTBRIDGE_BODY.replace('{"version"', '{"Records":[],"version"', 1),
    REAL_EVENTBRIDGE_BODY.replace('{"version"', '{"Event":"s3:TestEvent","version"', 1),
    REAL_EVENTBRIDGE_BODY.replace('"key":"blog/post 1.html"', '"key":"a\\ud800b"'),
    REAL_EVENTBRIDGE_BODY.replace('"key":"blog/post 1.html"', '"key":"a\\u00e9%2B+b"'),
    REAL_EVENTBRIDGE_BODY.replace('"sequencer":"0065E1B2C3D4E5F601"', '"sequencer":null'),
    REAL_EVENTBRIDGE_BODY.replace('"time":"2026-11-21T10:00:00Z"', '"time":null'),
    REAL_EVENTBRIDGE_BODY.replace('"reason":"PutObject"', '"reason":{}'),
    _envelope(REAL_EVENTBRIDGE_BODY),
    json.dumps({**json.loads(REAL_EVENTBRIDGE_BODY), **json.loads(REAL_S3_BODY)}),
    json.dumps({"detail": {}}),
    json.dumps({"detail-type": "Object Created"}),
]


@pytest.mark.parametrize("body", TRICKY_BODIES)
def test_fast_readers_agree_on_tricky_bodies(body: str) -> None:
    """Given bodies that differ from S3's in one telling way, then parsing them answers what
    the validating walk answers."""
    assert_fast_readers_agree(body)


@pytest.mark.parametrize("name", ["sqs-s3-put.json", "sqs-s3-delete.json"])
def test_s3_bodies_take_the_fastest_reader(name: str) -> None:
    """Given S3's own bodies, then the text reader reads them (it is not dead code)."""
    for record in json.loads((EVENTS_DIR / name).read_text())["Records"]:
        parsed = _plain_s3_body(record["messageId"], record["body"])
        assert parsed is not None
        assert parsed == _parse_document(
            record["messageId"], json.loads(record["body"]), enveloped=False
        )


def test_other_layouts_take_the_document_reader() -> None:
    """Given a well-formed body in another layout (spaced, two records), then the document
    reader reads it and the text reader gives up."""
    body = s3_body(s3_record("a b.html"), s3_record("c.css", event_name="ObjectRemoved:Delete"))
    assert _plain_s3_body("m1", body) is None
    parsed = _plain_document("m1", json.loads(body))
    assert parsed is not None
    assert [e.key for e in parsed.events] == ["a b.html", "c.css"]
    assert parsed == _walk(body)


@pytest.mark.parametrize("name", ["sqs-eventbridge-put.json", "sqs-eventbridge-delete.json"])
def test_eventbridge_bodies_take_the_eventbridge_reader(name: str) -> None:
    """Given EventBridge's bodies, then the EventBridge reader reads them (it is not dead code)
    and the S3 readers give up."""
    for record in json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))["Records"]:
        message_id, body = record["messageId"], record["body"]
        document = json.loads(body)
        assert _plain_s3_body(message_id, body) is None
        assert _plain_document(message_id, document) is None
        parsed = _plain_eventbridge(message_id, document)
        assert parsed is not None
        assert parsed == _parse_document(message_id, document, enveloped=False)
