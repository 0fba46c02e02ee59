"""Everything the batcher sends out, built here: docs/architecture.md documents each shape.

- the tracker's execution input (``tracker_input``);
- the FAILED notification and its message attributes (``failed_notification``,
  ``failed_notification_attributes``);
- the message attributes of a record the batcher dead-letters (``dead_letter_attributes``; the
  body is the record's original body, unchanged).

Pure: the adapters only encode these for their API. Lists are sampled (``sample``); the counts
next to them are exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from cfinvalidator.ports import DeadLetter

SAMPLE_SIZE = 50
# Execution input and SNS messages are capped at 256 KiB: the samples stay well below it.
SAMPLE_BUDGET_BYTES = 32 * 1024
FAILURE_REASON_LENGTH = 1024  # characters of a dead letter's failureReason attribute


def sample(items: Sequence[str]) -> list[str]:
    """At most SAMPLE_SIZE items and SAMPLE_BUDGET_BYTES of JSON, from the start."""
    sample: list[str] = []
    used = 0
    for item in items[:SAMPLE_SIZE]:
        used += len(json.dumps(item)) + 2
        if used > SAMPLE_BUDGET_BYTES:
            break
        sample.append(item)
    return sample


def timestamp(moment: datetime) -> str:
    """CloudFront's millisecond UTC form: 2026-11-21T10:00:00.000Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tracker_input(
    distribution_id: str,
    invalidation_id: str,
    caller_reference: str,
    paths: Sequence[str],
    source_keys: Sequence[str],
    requested_at: str,
) -> dict[str, object]:
    """The tracker state machine's execution input."""
    return {
        "distributionId": distribution_id,
        "invalidationId": invalidation_id,
        "callerReference": caller_reference,
        "pathCount": len(paths),
        "paths": sample(paths),
        "sourceKeyCount": len(source_keys),
        "sourceKeys": sample(source_keys),
        "requestedAt": requested_at,
    }


def failed_notification(
    *,
    distribution_id: str,
    error: str,
    cause: str,
    message_ids: Sequence[str],
    source_keys: Sequence[str],
    dead_lettered: bool,
    failed_at: str,
) -> dict[str, object]:
    """The batcher's FAILED notification for one (distribution, error) group of dead-lettered
    records: ``message_ids`` in batch order, ``source_keys`` sorted, ``distribution_id`` ""
    when the failure is not tied to a distribution."""
    return {
        "status": "FAILED",
        "stage": "request",
        "distributionId": distribution_id,
        "error": error,
        "cause": cause,
        "recordCount": len(message_ids),
        "messageIds": sample(message_ids),
        "sourceKeyCount": len(source_keys),
        "sourceKeys": sample(source_keys),
        "deadLettered": dead_lettered,
        "failedAt": failed_at,
    }


def failed_notification_attributes(distribution_id: str) -> dict[str, str]:
    """The FAILED notification's message attributes (String), for subscription filters."""
    return {"status": "FAILED", "distributionId": distribution_id or "-"}


def dead_letter_attributes(letter: DeadLetter) -> dict[str, str | int]:
    """A dead-lettered record's message attributes: a str is a String attribute, an int a
    Number."""
    return {
        "errorCode": letter.error_code or "Unknown",
        "failureReason": letter.reason[:FAILURE_REASON_LENGTH] or "-",
        "sourceMessageId": letter.message_id,
        "receiveCount": letter.receive_count,
    }
