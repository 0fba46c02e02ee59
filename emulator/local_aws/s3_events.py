"""Emulator correction: moto's S3 event bodies (direct notifications and the events S3 sends
through EventBridge) rewritten into AWS's shape."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from datetime import datetime
from typing import Any

__all__ = ["FaithfulS3Events"]


class FaithfulS3Events:
    """Emulator correction: rewrite moto's S3 event notification bodies into AWS's shape.

    moto 5.2's S3 event records differ from AWS's (docs/aws-behaviour.md#where-moto-differs):

    - keys encode ``/`` as ``%2F``; AWS keeps ``/`` (both form-decode to the same key, so a
      correct handler copes with either; this shows AWS's form);
    - there is no ``s3.object.sequencer``. AWS's is a hexadecimal string that increases with each
      change of a key and is repeated on duplicate deliveries. One is synthesised from the
      record's eventTime (milliseconds) with a counter for ties: 12 + 6 hex digits, so the string
      order is the event order, and it is remembered per message ID so a redelivered message
      carries the same sequencer, as on AWS;
    - ``userIdentity``, ``requestParameters``, ``responseElements`` and
      ``s3.bucket.ownerIdentity`` are absent; AWS-shaped placeholder values are filled in.

    S3 events delivered through EventBridge (moto 5.2 sends them to the rules of every bus when
    the bucket's ``EventBridgeConfiguration`` is on, and an SQS target receives the event JSON as
    the body, as on AWS) differ too:

    - every event carries the same ``id`` and the same ``detail.object.sequencer``; AWS gives each
      event its own ID and each change of a key a new, increasing sequencer. Both are replaced,
      once per message ID (a redelivery keeps them, as an EventBridge retry keeps its ID);
    - ``detail.reason`` is ``ObjectCreated``/``ObjectDeleted``; AWS names the API call
      (``PutObject``, ``DeleteObject``...): moto does not say which, so the usual one is written;
      ``detail.object.eTag`` is spelled ``etag`` on AWS, ``version-id`` ``"null"`` is absent on an
      unversioned bucket, and a deletion carries ``deletion-type``.

    Keys are left as moto sends them: raw, which is what public AWS samples show (the assumption
    cfinvalidator.events makes, see docs/aws-behaviour.md#s3-to-eventbridge).

    Bodies that are not S3 events (the s3:TestEvent included) pass unchanged.
    """

    def __init__(self, principal_id: str = "AWS:AIDAEMULATOREXAMPLE") -> None:
        self._principal_id = principal_id
        self._lock = threading.Lock()
        self._by_message: dict[str, str] = {}
        self._ties: dict[int, int] = {}

    def __call__(self, message_id: str, body: str) -> str:
        with self._lock:
            if message_id not in self._by_message:
                self._by_message[message_id] = self._correct(body)
            return self._by_message[message_id]

    def _correct(self, body: str) -> str:
        try:
            document = json.loads(body)
        except json.JSONDecodeError:
            return body
        if _is_eventbridge_s3_event(document):
            self._correct_eventbridge(document)
            return json.dumps(document)
        records = document.get("Records") if isinstance(document, dict) else None
        if not isinstance(records, list) or not all(_is_s3_record(r) for r in records):
            return body
        for record in records:
            self._correct_record(record)
        return json.dumps(document)

    def _correct_record(self, record: dict[str, Any]) -> None:
        s3 = record["s3"]
        s3_object = s3["object"]
        s3_object["key"] = s3_object["key"].replace("%2F", "/")
        s3_object.setdefault("sequencer", self._sequencer(record.get("eventTime", "")))
        s3["bucket"].setdefault("ownerIdentity", {"principalId": "A3NL1KOZZKEXAMPLE"})
        record.setdefault("userIdentity", {"principalId": self._principal_id})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault(
            "responseElements",
            {
                "x-amz-request-id": secrets.token_hex(8).upper(),
                "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode(),
            },
        )

    def _correct_eventbridge(self, event: dict[str, Any]) -> None:
        detail = event["detail"]
        s3_object = detail["object"]
        event["id"] = str(uuid.uuid4())
        # Ordered by the event's time (whole seconds), then by the order the events are read.
        s3_object["sequencer"] = self._sequencer(str(event.get("time", "")))
        if "eTag" in s3_object:
            s3_object["etag"] = s3_object.pop("eTag")
        if s3_object.get("version-id") == "null":
            del s3_object["version-id"]
        detail["request-id"] = secrets.token_hex(8).upper()
        if event.get("detail-type") == "Object Deleted":
            detail["reason"] = "DeleteObject"
            detail.setdefault("deletion-type", "Permanently Deleted")
            s3_object.pop("etag", None)
            s3_object.pop("size", None)
        else:
            detail["reason"] = "PutObject"

    def _sequencer(self, event_time: str) -> str:
        try:
            millis = int(datetime.fromisoformat(event_time).timestamp() * 1000)
        except ValueError:
            millis = int(time.time() * 1000)
        tie = self._ties.get(millis, 0)
        self._ties[millis] = tie + 1
        return f"{millis:012X}{tie:06X}"


def _is_s3_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and record.get("eventSource") == "aws:s3"
        and isinstance(record.get("s3"), dict)
        and isinstance(record["s3"].get("object"), dict)
        and isinstance(record["s3"].get("bucket"), dict)
        and isinstance(record["s3"]["object"].get("key"), str)
    )


def _is_eventbridge_s3_event(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("source") == "aws.s3"
        and isinstance(document.get("detail"), dict)
        and isinstance(document["detail"].get("object"), dict)
    )
