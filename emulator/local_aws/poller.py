"""The Lambda SQS event source mapping, run locally against moto's SQS.

:class:`SqsEventSourcePoller` does what Lambda's poller does for a standard queue:

- receives (up to 10 messages per ReceiveMessage, repeatedly) until ``BatchSize`` records are
  gathered, or ``MaximumBatchingWindowInSeconds`` has passed since the first record arrived, or
  the 6 MB invocation payload would be exceeded; with no window it invokes after the first
  non-empty receive;
- invokes the handler synchronously with Lambda's SQS event shape and a context object;
- deletes the records the function reports as processed: with ``ReportBatchItemFailures``, every
  record not listed in ``batchItemFailures``; without it, all of them when the handler returns;
- deletes nothing when the handler raises, runs past the function timeout, or returns a malformed
  ``batchItemFailures`` (AWS then treats the whole batch as failed).

Records left behind reappear when their visibility timeout expires, as on AWS (Lambda never
changes it; a handler may, as the batcher does to defer a record), and the queue's redrive policy
moves them to the DLQ after ``maxReceiveCount`` receives. ``release_failures=True`` instead makes
them visible at once (ChangeMessageVisibility 0), which also cancels any delay the handler set:
not AWS behaviour, only a shortcut for tests that do not want to wait (to test deferrals, keep
it off and deploy with a short ``DeferDelaySeconds``).

Time is scaled by ``time_scale`` (the batching window only: handler time and the function
timeout are real) and read from an injectable :class:`Clock`, so tests run on a fake clock.

The bodies moto's S3 sends are corrected into AWS's shape by
:class:`~emulator.local_aws.s3_events.FaithfulS3Events`, passed as ``body_correction``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from emulator.local_aws.clock import Clock, SystemClock

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from emulator.local_aws.deployed import DeployedFunction, EventSourceMapping
    from emulator.local_aws.lambda_context import LambdaContextLike

__all__ = [
    "MAX_INVOCATION_PAYLOAD_BYTES",
    "BatchRecord",
    "PollerSettings",
    "SqsEventSourcePoller",
]

MAX_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's synchronous invocation payload cap."""
_MAX_RECEIVE = 10
_MAX_DELETE = 10
_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)

ClosedBy = Literal["batch size", "batching window", "payload limit"]
Outcome = Literal["success", "partial", "error", "timed out", "invalid response"]


@dataclass(frozen=True)
class PollerSettings:
    """The event source mapping's settings, as deployed."""

    batch_size: int
    maximum_batching_window_seconds: float
    report_batch_item_failures: bool
    function_timeout_seconds: float
    time_scale: float = 1.0
    """Real seconds per emulated second for the batching window (0.1: a 30 s window takes 3 s)."""

    @classmethod
    def from_deployment(
        cls, mapping: EventSourceMapping, function: DeployedFunction, *, time_scale: float = 1.0
    ) -> PollerSettings:
        return cls(
            batch_size=mapping.batch_size,
            maximum_batching_window_seconds=mapping.maximum_batching_window_seconds,
            report_batch_item_failures=mapping.report_batch_item_failures,
            function_timeout_seconds=function.timeout_seconds,
            time_scale=time_scale,
        )

    @property
    def window_real_seconds(self) -> float:
        return self.maximum_batching_window_seconds * self.time_scale


@dataclass(frozen=True)
class BatchRecord:
    """What happened to one batch, for timelines and assertions. Times are clock readings."""

    number: int
    first_record_at: float
    invoked_at: float
    finished_at: float
    closed_by: ClosedBy
    event: dict[str, Any]
    outcome: Outcome
    response: Any
    error: str | None
    deleted: tuple[str, ...]
    left_for_redelivery: tuple[str, ...]

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(record["messageId"] for record in self.event["Records"])

    @property
    def size(self) -> int:
        return len(self.event["Records"])

    @property
    def gathered_seconds(self) -> float:
        """Real seconds from the first record to the invocation."""
        return self.invoked_at - self.first_record_at


@dataclass
class _Gathered:
    messages: list[MessageTypeDef] = field(default_factory=list)
    payload_bytes: int = 0
    first_at: float | None = None


class SqsEventSourcePoller:
    """Lambda's SQS poller for one queue and one handler (see the module docstring)."""

    def __init__(
        self,
        sqs: SQSClient,
        *,
        queue_url: str,
        queue_arn: str,
        handler: Callable[[dict[str, Any], Any], Any],
        context_factory: Callable[[], LambdaContextLike],
        settings: PollerSettings,
        clock: Clock | None = None,
        body_correction: Callable[[str, str], str] | None = None,
        release_failures: bool = False,
        idle_poll_seconds: float = 0.05,
        max_payload_bytes: int = MAX_INVOCATION_PAYLOAD_BYTES,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._region = queue_arn.split(":")[3]
        self._handler = handler
        self._context_factory = context_factory
        self.settings = settings
        self._clock: Clock = clock or SystemClock()
        self._correct = body_correction
        self._release_failures = release_failures
        self._idle_poll_seconds = idle_poll_seconds
        self._max_payload_bytes = max_payload_bytes
        self.batches: list[BatchRecord] = []

    # ------------------------------------------------------------------------------ polling
    def poll_batch(self, *, wait_for_first_seconds: float = 0.0) -> BatchRecord | None:
        """Gather one batch and invoke the handler with it.

        Returns None, invoking nothing, when no record arrives within ``wait_for_first_seconds``
        (real seconds on the clock; the queue is always polled at least once).
        """
        started = self._clock()
        gathered = _Gathered()
        while True:
            received = self._receive(self.settings.batch_size - len(gathered.messages))
            closed_by = self._add(gathered, received)
            if closed_by is None and gathered.first_at is not None:
                closed_by = self._window_closed(gathered.first_at)
            if closed_by is not None:
                return self._invoke(gathered, closed_by)
            if gathered.first_at is None and self._clock() - started >= (wait_for_first_seconds):
                return None
            if not received:
                self._clock.sleep(self._idle_poll_seconds)

    def poll_until(
        self,
        done: Callable[[Sequence[BatchRecord]], bool],
        *,
        timeout_seconds: float,
    ) -> list[BatchRecord]:
        """Poll batch after batch until ``done(batches so far)`` or the (real) timeout passes."""
        deadline = self._clock() + timeout_seconds
        batches: list[BatchRecord] = []
        while not done(batches):
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TimeoutError(f"event source: not done after {timeout_seconds} s")
            batch = self.poll_batch(wait_for_first_seconds=remaining)
            if batch is not None:
                batches.append(batch)
        return batches

    def _receive(self, room: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(_MAX_RECEIVE, room)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,  # waiting is done on the injectable clock instead
        )
        return list(response.get("Messages", []))

    def _add(self, gathered: _Gathered, received: list[MessageTypeDef]) -> ClosedBy | None:
        for index, message in enumerate(received):
            size = len(message["Body"].encode())  # the payload, approximated by the bodies
            if gathered.messages and gathered.payload_bytes + size > self._max_payload_bytes:
                # Lambda keeps the overflow for the next batch; here it becomes visible again.
                self._make_visible(received[index:])
                return "payload limit"
            if gathered.first_at is None:
                gathered.first_at = self._clock()
            gathered.messages.append(message)
            gathered.payload_bytes += size
        if len(gathered.messages) >= self.settings.batch_size:
            return "batch size"
        return None

    def _window_closed(self, first_at: float) -> ClosedBy | None:
        window = self.settings.window_real_seconds
        if window <= 0 or self._clock() - first_at >= window:
            return "batching window"
        return None

    # ---------------------------------------------------------------------------- invoking
    def _invoke(self, gathered: _Gathered, closed_by: ClosedBy) -> BatchRecord:
        event = {"Records": [self._record(message) for message in gathered.messages]}
        handles = {m["MessageId"]: m["ReceiptHandle"] for m in gathered.messages}
        invoked_at = self._clock()
        response: Any = None
        error: str | None = None
        try:
            response = self._handler(event, self._context_factory())
        except Exception as exc:  # noqa: BLE001 - Lambda reports any handler error the same way
            error = f"{type(exc).__name__}: {exc}"
        finished_at = self._clock()
        outcome, failed = self._judge(list(handles), response, error, finished_at - invoked_at)
        deleted = [message_id for message_id in handles if message_id not in failed]
        self._delete([handles[m] for m in deleted])
        left = [message_id for message_id in handles if message_id in failed]
        if self._release_failures:
            self._make_visible_handles([handles[m] for m in left])
        record = BatchRecord(
            number=len(self.batches) + 1,
            first_record_at=gathered.first_at if gathered.first_at is not None else invoked_at,
            invoked_at=invoked_at,
            finished_at=finished_at,
            closed_by=closed_by,
            event=event,
            outcome=outcome,
            response=response,
            error=error,
            deleted=tuple(deleted),
            left_for_redelivery=tuple(left),
        )
        self.batches.append(record)
        return record

    def _judge(
        self, message_ids: list[str], response: Any, error: str | None, elapsed: float
    ) -> tuple[Outcome, set[str]]:
        """The batch outcome and the message IDs that must stay on the queue."""
        everything = set(message_ids)
        if error is not None:
            return "error", everything
        if elapsed > self.settings.function_timeout_seconds:
            return "timed out", everything
        if not self.settings.report_batch_item_failures:
            return "success", set()
        failures = _reported_failures(response, everything)
        if failures is None:
            return "invalid response", everything
        return ("partial" if failures else "success"), failures

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        body = message["Body"]
        if self._correct is not None:
            body = self._correct(message["MessageId"], body)
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": {
                name: value
                for name, value in message.get("Attributes", {}).items()
                if name in _SYSTEM_ATTRIBUTES
            },
            "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    # ---------------------------------------------------------------------------- the queue
    def _delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), _MAX_DELETE):
            chunk = receipt_handles[start : start + _MAX_DELETE]
            result = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
            if result.get("Failed"):
                raise RuntimeError(f"DeleteMessageBatch failed: {result['Failed']}")

    def _make_visible(self, messages: Sequence[MessageTypeDef]) -> None:
        self._make_visible_handles([m["ReceiptHandle"] for m in messages])

    def _make_visible_handles(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), _MAX_DELETE):
            chunk = receipt_handles[start : start + _MAX_DELETE]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(chunk)
                ],
            )


def _reported_failures(response: Any, batch: set[str]) -> set[str] | None:
    """The itemIdentifiers a ReportBatchItemFailures response names; None if malformed.

    AWS: a null/absent/empty list means full success; an entry without a valid itemIdentifier
    (missing, empty, or not a message of the batch) fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return None
    reported = response.get("batchItemFailures")
    if reported is None:
        return set()
    if not isinstance(reported, list):
        return None
    failures: set[str] = set()
    for item in reported:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in batch:
            return None
        failures.add(identifier)
    return failures


def _lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the camelCase shape of Lambda's SQS event."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        binary = value.get("BinaryValue")
        entry: dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [
                base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])
            ],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if binary is not None:
            entry["binaryValue"] = base64.b64encode(binary).decode()
        converted[name] = entry
    return converted
