"""The batcher's own queue operations: defer a record, or dead-letter it now (``ports.QueueApi``).

A dead letter's attributes come from ``payloads``; this module only encodes them for SQS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.payloads import dead_letter_attributes
from cfinvalidator.ports import DeadLetter, Deferral
from cfinvalidator.quotas import MAX_BATCH_ENTRIES

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

# Deferring a 10,000-record batch takes 1,000 ChangeMessageVisibilityBatch calls: run them a few
# at a time (boto3 clients are thread-safe) so they fit well inside the function's timeout.
_PARALLEL_CALLS = 8
_BATCH_BYTES = 200 * 1024  # SendMessageBatch caps a whole batch (1 MiB); stay well below


def _attributes(letter: DeadLetter) -> dict[str, MessageAttributeValueTypeDef]:
    return {
        name: {
            "DataType": "Number" if isinstance(value, int) else "String",
            "StringValue": str(value),
        }
        for name, value in dead_letter_attributes(letter).items()
    }


def _chunks(letters: Sequence[DeadLetter]) -> list[list[DeadLetter]]:
    chunks: list[list[DeadLetter]] = []
    size = 0
    for letter in letters:
        weight = len(letter.body.encode()) + len(json.dumps(letter.reason))
        if not chunks or len(chunks[-1]) == MAX_BATCH_ENTRIES or size + weight > _BATCH_BYTES:
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
        size = MAX_BATCH_ENTRIES
        chunks = [deferrals[i : i + size] for i in range(0, len(deferrals), size)]
        return _in_parallel(self._defer_chunk, chunks)

    def _defer_chunk(self, chunk: Sequence[Deferral]) -> set[str]:
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
            return {d.message_id for d in chunk}
        return {chunk[int(f["Id"])].message_id for f in response.get("Failed", [])}

    def dead_letter(self, letters: Sequence[DeadLetter]) -> set[str]:
        return _in_parallel(self._dead_letter_chunk, _chunks(letters))

    def _dead_letter_chunk(self, chunk: Sequence[DeadLetter]) -> set[str]:
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
            return {letter.message_id for letter in chunk}
        return {chunk[int(f["Id"])].message_id for f in response.get("Failed", [])}


def _in_parallel[T](
    call: Callable[[Sequence[T]], set[str]], chunks: Sequence[Sequence[T]]
) -> set[str]:
    """The union of ``call(chunk)`` over all chunks, a few calls at a time."""
    if len(chunks) <= 1:
        return set().union(*(call(chunk) for chunk in chunks))
    with ThreadPoolExecutor(max_workers=min(_PARALLEL_CALLS, len(chunks))) as pool:
        return set().union(*pool.map(call, chunks))
