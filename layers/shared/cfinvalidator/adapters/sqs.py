"""The batcher's own queue operations: defer a record, or dead-letter it now."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

_BATCH = 10  # SQS batch APIs take at most 10 entries
_BATCH_BYTES = 200 * 1024  # SendMessageBatch caps a whole batch (1 MiB); stay well below


@dataclass(frozen=True, slots=True)
class Deferral:
    message_id: str
    receipt_handle: str
    seconds: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The original body, plus why it is here (as message attributes)."""

    message_id: str
    body: str
    error_code: str
    reason: str
    receive_count: int


class QueueApi(Protocol):
    def defer(self, deferrals: Sequence[Deferral]) -> set[str]:
        """Hide each record for its delay; return the message IDs that could not be changed."""
        ...

    def dead_letter(self, letters: Sequence[DeadLetter]) -> set[str]:
        """Copy each record to the dead-letter queue; return the message IDs not copied."""
        ...


def _attributes(letter: DeadLetter) -> dict[str, MessageAttributeValueTypeDef]:
    return {
        "errorCode": {"DataType": "String", "StringValue": letter.error_code or "Unknown"},
        "failureReason": {"DataType": "String", "StringValue": letter.reason[:1024] or "-"},
        "sourceMessageId": {"DataType": "String", "StringValue": letter.message_id},
        "receiveCount": {"DataType": "Number", "StringValue": str(letter.receive_count)},
    }


def _chunks(letters: Sequence[DeadLetter]) -> list[list[DeadLetter]]:
    chunks: list[list[DeadLetter]] = []
    size = 0
    for letter in letters:
        weight = len(letter.body.encode()) + len(json.dumps(letter.reason))
        if not chunks or len(chunks[-1]) == _BATCH or size + weight > _BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(letter)
        size += weight
    return chunks


class Boto3QueueApi:
    def __init__(self, client: SQSClient, queue_url: str, dead_letter_queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url

    def defer(self, deferrals: Sequence[Deferral]) -> set[str]:
        failed: set[str] = set()
        for start in range(0, len(deferrals), _BATCH):
            chunk = deferrals[start : start + _BATCH]
            try:
                response = self._client.change_message_visibility_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "ReceiptHandle": d.receipt_handle,
                            "VisibilityTimeout": d.seconds,
                        }
                        for i, d in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError):
                failed.update(d.message_id for d in chunk)
                continue
            failed.update(chunk[int(f["Id"])].message_id for f in response.get("Failed", []))
        return failed

    def dead_letter(self, letters: Sequence[DeadLetter]) -> set[str]:
        failed: set[str] = set()
        for chunk in _chunks(letters):
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._dead_letter_queue_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "MessageBody": letter.body,
                            "MessageAttributes": _attributes(letter),
                        }
                        for i, letter in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError):
                failed.update(letter.message_id for letter in chunk)
                continue
            failed.update(chunk[int(f["Id"])].message_id for f in response.get("Failed", []))
        return failed
