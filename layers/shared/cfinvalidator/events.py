"""Parse SQS message bodies into S3 object events.

Handled bodies:

- an S3 event notification (``{"Records": [...]}``), keys form-encoded;
- the ``s3:TestEvent`` that S3 sends when a notification configuration is written;
- an S3 event delivered by EventBridge (bucket with ``EventBridgeConfiguration``, a rule whose
  target is the queue): the body is the EventBridge event itself (``"source": "aws.s3"``,
  ``"detail-type": "Object Created"``, bucket and key under ``detail``), one object per body,
  the key raw (see ``_eventbridge_key``), ``time`` to the second (see ``_eventbridge_time``);
- any of those wrapped in an SNS envelope (S3 -> SNS -> SQS fan-out without raw delivery);
- an on-demand request (``cfinv invalidate``), read by ``cfinvalidator.on_demand``.

Only created and removed objects become events; other kinds (restore, tagging, ACL, storage
class...) are counted as ignored, never rejected. See docs/aws-behaviour.md ("S3 event
notifications", "S3 to EventBridge").

One piece, though over 400 lines: the fast readers at the end must give exactly the walk's
answers (tests/unit/test_events_fast_paths.py checks it), which is easiest to keep true, and to
review, with the walk and the readers side by side.

Powertools offers pydantic models for these shapes; this module parses by hand instead, because
the handler must stay cheap to cold-start (pydantic is the largest import in the parser
utility) and the subset of fields used is small. Every field read is checked: a required field
that is missing or of the wrong type is a MalformedEventError naming it; an optional one
(sequencer, eventTime / time, EventBridge's reason and deletion-type) of the wrong type counts
as absent, because absence has a safe answer (another identity, the name by detail-type, no
time so never already covered).

The validating walk is generic and, at 10,000 records a batch, slow; the usual body is read by
one of three faster readers (at the end of the module) that give up on anything unusual, leaving
the decision, and the error message, to the walk.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.on_demand import RequestedPath, is_request, parse_request
from cfinvalidator.paths import decode_event_key

ChangeKind = Literal["created", "removed"]
_KINDS: dict[str, ChangeKind] = {"ObjectCreated": "created", "ObjectRemoved": "removed"}


class ObjectEvent(NamedTuple):
    """One object change, with the key decoded.

    A NamedTuple rather than a frozen dataclass, for the same immutability at a third of the
    cost: a batch makes 10,000 of them, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) took about a fifth of a batch's CPU.
    """

    bucket: str
    key: str
    # As in the record, without the "s3:" prefix: "ObjectCreated:Put"; for EventBridge, the
    # name a direct notification of the change would carry (see _eventbridge_name).
    event_name: str
    kind: ChangeKind
    sequencer: str | None  # orders events for one key; duplicates share it
    message_id: str
    record_index: int
    # When S3 finished the change (eventTime), UTC; for EventBridge, the end of the second
    # its ``time`` names, the latest the change can have happened (see _eventbridge_time).
    event_time: datetime | None = None
    event_id: str | None = None  # the EventBridge event's ``id``; None for S3 notifications

    @property
    def identity(self) -> str:
        """Stable across redeliveries and duplicates of this event, new for a later upload.

        S3 gives every change of a key a new sequencer and repeats it on duplicate deliveries:
        ``s3:<bucket>/<key>@<sequencer>``, the same whichever way the event came (direct, SNS,
        EventBridge), so one change reaching the queue twice is served once. Without one (some
        emulators omit it): for EventBridge, ``eventbridge:<id>`` (EventBridge keeps the event
        ID when it delivers an event more than once); otherwise ``sqs:<message ID>#<record>``
        (the SQS message ID, which redelivery keeps).

        UNCONFIRMED (docs/aws-behaviour.md#unconfirmed-assumptions): that the direct and the
        EventBridge event of one change carry the same sequencer, and that a repeated
        EventBridge delivery keeps the ``id``. If not, a change seen twice gets a second, billed
        invalidation; none is ever skipped.
        """
        if self.sequencer:
            return f"s3:{self.bucket}/{self.key}@{self.sequencer}"
        if self.event_id:
            return f"eventbridge:{self.event_id}"
        return f"sqs:{self.message_id}#{self.record_index}"


class ParsedMessage(NamedTuple):
    """What one SQS message carried (a NamedTuple for the reason ``ObjectEvent`` is one)."""

    message_id: str
    events: tuple[ObjectEvent, ...]
    is_test_event: bool = False
    ignored_records: int = 0  # S3 records of other kinds (restore, tagging...): nothing to do
    requested: tuple[RequestedPath, ...] = ()  # an on-demand request's paths


def _field(mapping: Any, *names: str) -> Any:
    value = mapping
    for name in names:
        if not isinstance(value, dict) or name not in value:
            raise MalformedEventError(f"missing field {'.'.join(names)}")
        value = value[name]
    return value


def _text(mapping: Any, *names: str) -> str:
    value = _field(mapping, *names)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"field {'.'.join(names)} must be a non-empty string")
    return value


def _parse_record(message_id: str, index: int, record: Any) -> ObjectEvent | None:
    source = _text(record, "eventSource")
    if source != "aws:s3":
        raise MalformedEventError(f"record {index} has eventSource {source!r}, not aws:s3")
    event_name = _text(record, "eventName").removeprefix("s3:")
    kind = _KINDS.get(event_name.split(":", 1)[0])
    if kind is None:
        return None
    raw_key = _text(record, "s3", "object", "key")
    try:
        key = decode_event_key(raw_key)
    except UnicodeDecodeError as exc:
        raise MalformedEventError(f"record {index} key is not valid UTF-8: {raw_key!r}") from exc
    if not _is_text(key):
        raise MalformedEventError(f"record {index} key is not valid Unicode text: {raw_key!r}")
    sequencer = record["s3"]["object"].get("sequencer")
    return ObjectEvent(
        event_time=_event_time(record.get("eventTime")),
        bucket=_text(record, "s3", "bucket", "name"),
        key=key,
        event_name=event_name,
        kind=kind,
        sequencer=sequencer if isinstance(sequencer, str) and sequencer else None,
        message_id=message_id,
        record_index=index,
    )


def _is_text(key: str) -> bool:
    """False for a key holding a lone surrogate (JSON's ``"\\ud800"``): it has no UTF-8 bytes,
    so no CloudFront path can name it, and encoding it later would fail."""
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _event_time(value: Any) -> datetime | None:
    """S3's ``eventTime`` ("2026-11-21T10:00:00.123Z"); None when absent or unreadable.

    Without a time an event is never treated as already covered by an earlier invalidation,
    which is the safe direction, so a missing time is not a reason to reject the record.
    """
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _parse_document(message_id: str, document: Any, *, enveloped: bool) -> ParsedMessage:
    if not isinstance(document, dict):
        raise MalformedEventError("body is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return ParsedMessage(message_id=message_id, events=(), is_test_event=True)
    if not enveloped and document.get("Type") == "Notification" and "Message" in document:
        inner = _text(document, "Message")
        return _parse_document(message_id, _loads(inner), enveloped=True)
    if _is_eventbridge(document):
        return _parse_eventbridge(message_id, document)
    if is_request(document):
        return ParsedMessage(message_id, events=(), requested=parse_request(message_id, document))
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedEventError("body has no S3 Records")
    parsed = [_parse_record(message_id, index, record) for index, record in enumerate(records)]
    events = tuple(event for event in parsed if event is not None)
    return ParsedMessage(
        message_id=message_id, events=events, ignored_records=len(parsed) - len(events)
    )


# ---------------------------------------------------------------------------- EventBridge
# S3 events through EventBridge (docs/aws-behaviour.md#s3-to-eventbridge): one object per event,
# the body is the event itself. Detail-types of created and removed objects; every other one
# (Object Restore Initiated, Object Tags Added, Object ACL Updated, ...) is ignored.
_EVENTBRIDGE_KINDS: dict[str, ChangeKind] = {
    "Object Created": "created",
    "Object Deleted": "removed",
}
# detail.reason of an "Object Created" event -> the direct notification's event name suffix.
_CREATED_REASONS = {
    "PutObject": "Put",
    "POST Object": "Post",
    "CopyObject": "Copy",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}
# detail.deletion-type of an "Object Deleted" event -> the event name suffix.
_DELETION_TYPES = {"Permanently Deleted": "Delete", "Delete Marker Created": "DeleteMarkerCreated"}
_TIME_RESOLUTION = timedelta(seconds=1)  # EventBridge's ``time`` is truncated to the second


def _is_eventbridge(document: dict[str, Any]) -> bool:
    """A body with ``detail-type`` or ``detail`` (S3 notifications have neither) is read as an
    EventBridge event, so one lacking the other is told what it lacks."""
    return "detail-type" in document or "detail" in document


def _eventbridge_key(raw_key: str) -> str:
    """The object key of an EventBridge event: taken as it is, not decoded.

    UNCONFIRMED (docs/aws-behaviour.md#s3-to-eventbridge): AWS does not say whether
    ``detail.object.key`` is URL-encoded. Public samples show raw characters (a key with ``:``
    arrives as ``:``, where a direct notification sends ``%3A``), so it is assumed raw. If AWS
    does encode it, this is the one place to change (``decode_event_key`` for form encoding, as
    direct notifications use). Left as it is, the wrong assumption would invalidate a key with
    characters other than letters, digits and ``/-_.`` under a wrong path, and its cached
    object would live on until its TTL ends; other keys are the same either way.
    """
    return raw_key


def _eventbridge_time(value: Any) -> datetime | None:
    """The latest moment the change can have happened, from EventBridge's ``time``.

    EventBridge writes ``time`` to the second, truncated: ``10:00:00Z`` for a change at
    10:00:00.900. An invalidation covers a change only if it was created after it
    (``ledger.DistributionState.covering``). Read as the change's time, the truncated value would
    let an invalidation created at 10:00:00.500 (before that change) count as covering it, and the
    path would never be requested. The end of the second (10:00:01) is never earlier than the
    change, so coverage is never granted wrongly; the cost is that an invalidation created within
    that second is not reused and the path is requested again. A time with a fraction (not seen
    from EventBridge) gets the same second added: still never earlier than the change. None when
    absent or unreadable, as for direct notifications (never treated as covered).
    """
    moment = _event_time(value)
    return None if moment is None else moment + _TIME_RESOLUTION


def _eventbridge_name(detail_type: str, reason: object, deletion_type: object) -> str:
    """The event name a direct notification of the same change carries.

    ``Object Created`` by ``reason``: PutObject -> ``ObjectCreated:Put``, POST Object -> ``:Post``,
    CopyObject -> ``:Copy``, CompleteMultipartUpload -> ``:CompleteMultipartUpload``; any other
    or no reason -> ``ObjectCreated:*``. ``Object Deleted`` by ``deletion-type``: Permanently
    Deleted -> ``:Delete``, Delete Marker Created -> ``:DeleteMarkerCreated``, other or none ->
    ``:*``; under ``LifecycleExpiration`` when the reason is Lifecycle Expiration (as S3 names
    those notifications), else under ``ObjectRemoved``.
    """
    if detail_type == "Object Created":
        suffix = _CREATED_REASONS.get(reason, "*") if isinstance(reason, str) else "*"
        return f"ObjectCreated:{suffix}"
    family = "LifecycleExpiration" if reason == "Lifecycle Expiration" else "ObjectRemoved"
    suffix = _DELETION_TYPES.get(deletion_type, "*") if isinstance(deletion_type, str) else "*"
    return f"{family}:{suffix}"


def _eventbridge_event(
    message_id: str,
    *,
    kind: ChangeKind,
    detail_type: str,
    event_id: str,
    bucket: str,
    key: str,
    detail: dict[str, Any],
    s3_object: dict[str, Any],
    time: object,
) -> ObjectEvent:
    """The event, from checked required fields and the optional ones (wrong types count as
    absent, as for direct notifications)."""
    event_name = _eventbridge_name(detail_type, detail.get("reason"), detail.get("deletion-type"))
    sequencer = s3_object.get("sequencer")
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=event_name,
        kind=kind,
        sequencer=sequencer if isinstance(sequencer, str) and sequencer else None,
        message_id=message_id,
        record_index=0,
        event_time=_eventbridge_time(time),
        event_id=event_id,
    )


def _parse_eventbridge(message_id: str, document: dict[str, Any]) -> ParsedMessage:
    """The validating reader of an EventBridge event (every required field checked)."""
    source = _text(document, "source")
    if source != "aws.s3":
        raise MalformedEventError(f"EventBridge field source is {source!r}, not aws.s3")
    detail_type = _text(document, "detail-type")
    kind = _EVENTBRIDGE_KINDS.get(detail_type)
    if kind is None:
        return ParsedMessage(message_id=message_id, events=(), ignored_records=1)
    event_id = _text(document, "id")
    bucket = _text(document, "detail", "bucket", "name")
    raw_key = _text(document, "detail", "object", "key")
    key = _eventbridge_key(raw_key)
    if not _is_text(key):
        raise MalformedEventError(
            f"EventBridge field detail.object.key is not valid Unicode text: {raw_key!r}"
        )
    event = _eventbridge_event(
        message_id,
        kind=kind,
        detail_type=detail_type,
        event_id=event_id,
        bucket=bucket,
        key=key,
        detail=document["detail"],
        s3_object=document["detail"]["object"],
        time=document.get("time"),
    )
    return ParsedMessage(message_id=message_id, events=(event,))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedEventError(f"body is not JSON: {exc.msg} at {exc.pos}") from exc


# ---------------------------------------------------------------------------- fast paths
# A batch brings up to 10,000 bodies, and reading them with the walk above costs more than the
# rest of the planning. Three faster readers take the common bodies: S3's own text, matched
# without decoding JSON, else the decoded document read without the generic walk (S3 Records, or
# an EventBridge event). Each answers None whenever the walk might decide otherwise (anything
# unusual, malformed or not), and the walk then decides, with its messages.
# tests/unit/test_events_fast_paths.py checks they agree.


def _plain_event(
    message_id: str,
    index: int,
    *,
    event_name: object,
    bucket: object,
    raw_key: object,
    sequencer: object,
    event_time: object,
) -> ObjectEvent | None:
    """What ``_parse_record`` makes of an ``aws:s3`` record with these fields, or None when it
    would skip the record (another kind) or reject it."""
    if not (isinstance(event_name, str) and isinstance(bucket, str) and isinstance(raw_key, str)):
        return None
    event_name = event_name.removeprefix("s3:")
    kind = _KINDS.get(event_name.split(":", 1)[0])
    if kind is None or not bucket or not raw_key:
        return None
    try:
        key = decode_event_key(raw_key)
    except UnicodeDecodeError:
        return None
    if not _is_text(key):
        return None
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=event_name,
        kind=kind,
        sequencer=sequencer if isinstance(sequencer, str) and sequencer else None,
        message_id=message_id,
        record_index=index,
        event_time=_event_time(event_time),
    )


_CHARS = r'[^"\\\x00-\x1f]*'  # a JSON string's text without escapes: the text is the value
_STRING = f'"{_CHARS}"'
_FLAT = rf"\{{(?:{_STRING}:{_STRING}(?:,{_STRING}:{_STRING})*)?\}}"  # strings only
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
# One record of a created or removed object as S3 writes it: compact, in S3's field order, the
# optional fields optional. A body matching it is valid JSON with exactly these fields.
_S3_BODY = re.compile(
    rf"""
    \{{"Records":\[\{{
        "eventVersion":{_STRING},
        "eventSource":"aws:s3",
        "awsRegion":{_STRING},
        "eventTime":"(?P<event_time>{_CHARS})",
        "eventName":"(?P<event_name>{_CHARS})",
        "userIdentity":{_FLAT},
        "requestParameters":{_FLAT},
        (?:"responseElements":{_FLAT},)?
        "s3":\{{
            "s3SchemaVersion":{_STRING},
            "configurationId":{_STRING},
            "bucket":\{{"name":"(?P<bucket>{_CHARS})","ownerIdentity":{_FLAT},"arn":{_STRING}\}},
            "object":\{{
                "key":"(?P<raw_key>{_CHARS})"
                (?:,"size":{_NUMBER})?
                (?:,"eTag":{_STRING})?
                (?:,"versionId":{_STRING})?
                (?:,"sequencer":"(?P<sequencer>{_CHARS})")?
            \}}
        \}}
    \}}\]\}}
    """,
    re.VERBOSE,
)


def _plain_s3_body(message_id: str, body: str) -> ParsedMessage | None:
    """S3's own body, read without decoding JSON: where it matches, each group is exactly the
    value ``json.loads`` would give (a string without escapes is its own text)."""
    match = _S3_BODY.fullmatch(body)
    if match is None:
        return None
    event_time, event_name, bucket, raw_key, sequencer = match.group(
        "event_time", "event_name", "bucket", "raw_key", "sequencer"
    )
    event = _plain_event(
        message_id,
        0,
        event_name=event_name,
        bucket=bucket,
        raw_key=raw_key,
        sequencer=sequencer,
        event_time=event_time,
    )
    return None if event is None else ParsedMessage(message_id=message_id, events=(event,))


def _plain_record(message_id: str, index: int, record: Any) -> ObjectEvent | None:
    """``_plain_event`` for a decoded record; None when a field is missing."""
    try:
        source, event_name = record["eventSource"], record["eventName"]
        bucket, s3_object = record["s3"]["bucket"]["name"], record["s3"]["object"]
        raw_key = s3_object["key"]
    except (KeyError, TypeError):  # not a dict, or a field missing (JSON has no other types)
        return None
    if source != "aws:s3":
        return None
    return _plain_event(
        message_id,
        index,
        event_name=event_name,
        bucket=bucket,
        raw_key=raw_key,
        sequencer=s3_object.get("sequencer"),
        event_time=record.get("eventTime"),
    )


def _plain_document(message_id: str, document: Any) -> ParsedMessage | None:
    """S3 ``Records`` of created or removed objects, read from the decoded body."""
    if not isinstance(document, dict) or "Event" in document or "Type" in document:
        return None
    if _is_eventbridge(document) or is_request(document):
        return None
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        return None
    events: list[ObjectEvent] = []
    for index, record in enumerate(records):
        event = _plain_record(message_id, index, record)
        if event is None:
            return None
        events.append(event)
    return ParsedMessage(message_id=message_id, events=tuple(events))


def _plain_eventbridge(message_id: str, document: Any) -> ParsedMessage | None:
    """An EventBridge event of a created or deleted object, read from the decoded body; None
    for anything else (ignored kinds included: the walk counts them)."""
    if not isinstance(document, dict) or "Event" in document or "Type" in document:
        return None
    try:
        detail_type, detail, event_id = document["detail-type"], document["detail"], document["id"]
        s3_object = detail["object"]
        bucket, raw_key = detail["bucket"]["name"], s3_object["key"]
    except (KeyError, TypeError):  # not a dict, or a field missing (JSON has no other types)
        return None
    if document.get("source") != "aws.s3" or not isinstance(detail_type, str):
        return None
    kind = _EVENTBRIDGE_KINDS.get(detail_type)
    if kind is None or not (_filled(event_id) and _filled(bucket) and _filled(raw_key)):
        return None
    key = _eventbridge_key(raw_key)
    if not _is_text(key):
        return None
    event = _eventbridge_event(
        message_id,
        kind=kind,
        detail_type=detail_type,
        event_id=event_id,
        bucket=bucket,
        key=key,
        detail=detail,
        s3_object=s3_object,
        time=document.get("time"),
    )
    return ParsedMessage(message_id=message_id, events=(event,))


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def parse_message(message_id: str, body: str) -> ParsedMessage:
    """Parse one SQS message body; raise MalformedEventError saying what is wrong."""
    parsed = _plain_s3_body(message_id, body)
    if parsed is None:
        document = _loads(body)
        parsed = _plain_document(message_id, document)
        if parsed is None:
            parsed = _plain_eventbridge(message_id, document)
        if parsed is None:
            parsed = _parse_document(message_id, document, enveloped=False)
    return parsed
