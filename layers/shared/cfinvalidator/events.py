"""Parse SQS message bodies into S3 object events.

Handled bodies: an S3 event notification (``{"Records": [...]}``), the ``s3:TestEvent`` that S3
sends when a notification configuration is written, and either of those wrapped in an SNS
envelope (S3 -> SNS -> SQS fan-out without raw delivery).

Powertools offers pydantic models for these shapes; this module parses by hand instead, because
the handler must stay cheap to cold-start (pydantic is the largest import in the parser
utility) and the subset of fields used is small. Every field read is checked.
"""

from __future__ import annotations

import json
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


def parse_message(message_id: str, body: str) -> ParsedMessage:
    """Parse one SQS message body; raise MalformedEventError saying what is wrong."""
    return _parse_document(message_id, _loads(body), enveloped=False)
