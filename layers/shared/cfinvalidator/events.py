"""Parse SQS message bodies into S3 object events.

Handled bodies: an S3 event notification (``{"Records": [...]}``), the ``s3:TestEvent`` that S3
sends when a notification configuration is written, and either of those wrapped in an SNS
envelope (S3 -> SNS -> SQS fan-out without raw delivery).

Powertools offers pydantic models for these shapes; this module parses by hand instead, because
the handler must stay cheap to cold-start (pydantic is the largest import in the parser
utility) and the subset of fields used is small. Every field read is checked.

The validating walk is generic and, at 10,000 records a batch, slow; the usual body is read by
one of two faster readers (at the end of the module) that give up on anything unusual, leaving
the decision, and the error message, to the walk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.paths import decode_event_key

ChangeKind = Literal["created", "removed"]
_KINDS: dict[str, ChangeKind] = {"ObjectCreated": "created", "ObjectRemoved": "removed"}


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One object change, with the key decoded."""

    bucket: str
    key: str
    event_name: str  # as in the record, without the "s3:" prefix: "ObjectCreated:Put"
    kind: ChangeKind
    sequencer: str | None  # orders events for one key; duplicates share it
    message_id: str
    record_index: int
    event_time: datetime | None = None  # when S3 finished the change (eventTime), UTC

    @property
    def identity(self) -> str:
        """Stable across redeliveries and duplicates of this event, new for a later upload.

        S3 gives every change of a key a new sequencer and repeats it on duplicate deliveries.
        Without one (some emulators omit it) the SQS message ID, which redelivery keeps, serves.
        """
        if self.sequencer:
            return f"s3:{self.bucket}/{self.key}@{self.sequencer}"
        return f"sqs:{self.message_id}#{self.record_index}"


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What one SQS message carried."""

    message_id: str
    events: tuple[ObjectEvent, ...]
    is_test_event: bool = False
    ignored_records: int = 0  # S3 records of other kinds (restore, tagging...): nothing to do


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
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedEventError("body has no S3 Records")
    parsed = [_parse_record(message_id, index, record) for index, record in enumerate(records)]
    events = tuple(event for event in parsed if event is not None)
    return ParsedMessage(
        message_id=message_id, events=events, ignored_records=len(parsed) - len(events)
    )


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedEventError(f"body is not JSON: {exc.msg} at {exc.pos}") from exc


# ---------------------------------------------------------------------------- fast paths
# A batch brings up to 10,000 bodies, and reading them with the walk above costs more than the
# rest of the planning. Two faster readers take the common body: S3's own text, matched without
# decoding JSON, else the decoded document read without the generic walk. Each answers None
# whenever the walk might decide otherwise (anything unusual, malformed or not), and the walk
# then decides, with its messages. tests/unit/test_events_fast_paths.py checks they agree.


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


def parse_message(message_id: str, body: str) -> ParsedMessage:
    """Parse one SQS message body; raise MalformedEventError saying what is wrong."""
    parsed = _plain_s3_body(message_id, body)
    if parsed is None:
        document = _loads(body)
        parsed = _plain_document(message_id, document)
        if parsed is None:
            parsed = _parse_document(message_id, document, enveloped=False)
    return parsed
