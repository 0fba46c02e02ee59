"""A deterministic discrete-event simulation of the whole pipeline, in simulated time.

S3 uploads -> SQS (standard queue with a redrive policy) -> the Lambda event source mapping
(batch size, batching window, maximum concurrency) -> a batch handler (by default this service's
``process_batch`` with its real ``Boto3InvalidationApi``) -> CloudFront (moto behind
:class:`~emulator.local_aws.cloudfront.FaithfulCloudFront`) -> the completion tracker ->
notifications.

Nothing waits in real time: the event loop jumps the simulated clock to the next instant at
which something can happen (an upload is delivered, an invisible message becomes visible again,
a batching window closes, an invocation ends, a scheduled action is due), so 100,000 uploads take
seconds plus the handler's own CPU time. Everything is deterministic given ``SimSettings.seed``:
message IDs, the service's jitter, CloudFront completion samples and moto's invalidation IDs
(moto's global ``mock_random`` is seeded when the simulation starts).

What is faithful to AWS (see /work/shared/reference/aws-facts.md):

- Each upload is one SQS message whose body is an S3 event notification with one record, as S3
  writes it: ``eventTime`` in milliseconds with ``Z``, the key form-encoded (space as ``+``,
  ``+`` as ``%2B``, ``/`` kept), a ``sequencer`` that increases with every change.
- The queue: a receive hides a message for the visibility timeout, increments its
  ApproximateReceiveCount and issues a new receipt handle; ChangeMessageVisibility works on
  in-flight messages with their latest receipt handle; a receive that would take a message past
  ``maxReceiveCount`` moves it to the dead-letter queue instead (the redrive policy).
- The event source mapping gathers visible messages from the moment the first is available and
  invokes when ``batch_size`` records (or about 6 MB of payload) are gathered or the batching
  window has elapsed (window 0: at once); at most ``max_concurrency`` invocations run at a time.
  After an invocation, records not reported in ``batchItemFailures`` are deleted; if the handler
  raises, runs past the function timeout or names IDs outside the batch, nothing is deleted.
- The tracker polls GetInvalidation at its start and then every ``poll_interval_seconds``; it
  notifies COMPLETED at the first poll at or after the invalidation completes, or TIMED_OUT at
  the first poll once ``completion_timeout_seconds`` have been waited. StartExecution with a name
  already used is idempotent (True) while that execution runs with the same input, and otherwise
  fails with ExecutionAlreadyExists (False), as on AWS.

Approximations (each documented where it is made):

- An invocation's handler runs atomically at its start instant: its AWS calls happen at the
  start plus whatever it slept (retry backoff). The invocation then lasts
  ``invocation_seconds`` plus that sleep; its records are deleted at its end. With concurrent
  invocations the clock therefore steps back to the event loop's time after a handler slept, so
  a concurrent invocation that starts during that sleep sees the effects of calls made "later".
- A handler that runs past the function timeout is not cut short: its calls all happen, but
  Lambda's view (timed out, nothing deleted) is applied.
- The invocation payload is estimated as each body, JSON-escaped, plus a fixed record overhead.
- Receives hand out the oldest-visible messages first, and one poller gathers for all
  invocation slots (a new window opens when an invocation takes the records gathered so far).

Using it: ``with Simulation(uploads, SimSettings(...), handler=...) as sim`` starts moto,
creates the distributions, installs the fake and builds the service's ``Config`` and ``Ports``;
prepare with ``sim.occupy(...)``, ``sim.at(t, action)``, ``sim.cloudfront_fake.inject(...)`` or
``.throttle_after(...)``, ``sim.tracker.fail_next``; then ``report = sim.run()``. ``simulate``
does all of that in one call. A handler is any :class:`BatchHandler`: the default,
:class:`ServiceHandler`, runs ``process_batch``; a benchmark strategy can call CloudFront itself
through ``context.cloudfront`` and start trackers through ``context.tracker``.

The report judges outcomes from CloudFront's side, whatever the handler claims: an upload is
covered when each of its viewer paths (``paths_for_key``) is named, on every distribution, by an
invalidation created at or after the upload (exactly, or by a wildcard's prefix; compared
decoded); a covered or dead-lettered upload is not lost; every other one is.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import math
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, Self
from urllib.parse import quote_plus

import boto3
from botocore.config import Config as BotoConfig
from moto import mock_aws
from moto.moto_api._internal import mock_random

from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.adapters.sqs import DeadLetter, Deferral
from cfinvalidator.config import Config
from cfinvalidator.errors import NotificationError, TrackingError
from cfinvalidator.observability import metrics
from cfinvalidator.paths import decode_path, is_wildcard, paths_for_key
from cfinvalidator.service import BatchOutcome, Ports, SqsMessage, process_batch, rules_from
from emulator.local_aws.cloudfront import (
    MAX_IN_PROGRESS_FILES,
    FaithfulCloudFront,
    create_distribution,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

__all__ = [
    "EPOCH",
    "BatchHandler",
    "Coverage",
    "DeadLetterRecord",
    "InvalidationRecord",
    "InvocationRecord",
    "Notification",
    "Report",
    "ServiceHandler",
    "SimClock",
    "SimContext",
    "SimNotifier",
    "SimQueue",
    "SimSettings",
    "SimTracker",
    "Simulation",
    "TrackerRun",
    "Upload",
    "UploadOutcome",
    "percentile",
    "s3_event_body",
    "simulate",
]

EPOCH: Final = datetime(2026, 11, 21, tzinfo=UTC)
"""Simulated second 0 on the wall clock (eventTime, CreateTime, the service's ``now``)."""
REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"
MAX_VISIBILITY_TIMEOUT: Final = 43_200  # SQS: 12 hours
MAX_INVOCATION_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
RECORD_OVERHEAD_BYTES: Final = 700
"""Estimated bytes of one record of Lambda's SQS event besides its body (messageId, a receipt
handle of a few hundred characters, attributes, md5OfBody, eventSourceARN...)."""
OCCUPYING_PREFIX: Final = "/sim-occupied/"
OCCUPYING_REFERENCE_PREFIX: Final = "sim-occupy-"
# The batcher builds its CloudFront client without botocore retries (the service retries).
_NO_RETRIES: Final = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1})
_SAME_INSTANT_LIMIT: Final = 1_000_000

ChangeKind = Literal["created", "removed"]
ClosedBy = Literal["batch size", "batching window", "payload limit"]
InvocationOutcome = Literal["success", "partial", "error", "timed out", "invalid response"]
TrackerStatus = Literal["COMPLETED", "TIMED_OUT", "FAILED"]


# ------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True, slots=True)
class Upload:
    """One object change in the bucket, ``at`` simulated seconds after the start."""

    at: float
    key: str
    kind: ChangeKind = "created"


@dataclass(frozen=True, slots=True)
class SimSettings:
    """Everything that shapes a run. Defaults are the stack's (template.yaml) and AWS's."""

    # The event source mapping (template: BatchSize, DebounceSeconds, MaxConcurrency).
    batch_size: int = 10_000
    batching_window_seconds: float = 30.0
    max_concurrency: int = 2
    report_batch_item_failures: bool = True
    max_payload_bytes: int = MAX_INVOCATION_PAYLOAD_BYTES
    # The function: simulated seconds per invocation (a number, or records -> seconds) on top
    # of any sleep the handler performs, and the timeout (template: 60).
    invocation_seconds: float | Callable[[int], float] = 1.0
    function_timeout_seconds: float = 60.0
    # The queue (template: VisibilityTimeout 660, redrive maxReceiveCount = MaxReceiveCount).
    visibility_timeout_seconds: float = 660.0
    max_receive_count: int | None = None  # None: the service's MAX_RECEIVE_COUNT
    delivery_seconds: float = 0.0  # from the S3 change to the message being on the queue
    # CloudFront: seconds to Completed, a number or a sampler drawing from a seeded RNG.
    completion_seconds: float | Callable[[random.Random], float] = 20.0
    distributions: int = 1
    # The tracker (template: PollIntervalSeconds, CompletionTimeoutSeconds).
    poll_interval_seconds: float = 10.0
    completion_timeout_seconds: float = 900.0
    # The service's environment on top of the simulation's (COLLAPSE_THRESHOLD, KEY_PREFIX...).
    env: Mapping[str, str] = field(default_factory=dict)
    bucket_name: str = "sim-origin-bucket"
    # The run.
    seed: int = 0
    max_simulated_seconds: float = 86_400.0
    max_invocations: int = 100_000

    def __post_init__(self) -> None:
        problems = [problem for check, problem in self._checks() if not check]
        if problems:
            raise ValueError("invalid simulation settings: " + "; ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        window, receives = self.batching_window_seconds, self.max_receive_count
        return [
            (1 <= self.batch_size <= 10_000, f"batch_size must be 1-10000: {self.batch_size}"),
            (0 <= window <= 300, f"batching_window_seconds must be 0-300: {window}"),
            (
                self.batch_size <= 10 or window >= 1,
                "AWS requires a batching window of at least 1 s for a batch size above 10",
            ),
            (self.max_concurrency >= 1, f"max_concurrency must be >= 1: {self.max_concurrency}"),
            (
                0 <= self.visibility_timeout_seconds <= MAX_VISIBILITY_TIMEOUT,
                f"visibility_timeout_seconds must be 0-43200: {self.visibility_timeout_seconds}",
            ),
            (receives is None or 1 <= receives <= 1000, f"max_receive_count 1-1000: {receives}"),
            (1 <= self.distributions <= 10, f"distributions must be 1-10: {self.distributions}"),
            (self.poll_interval_seconds > 0, "poll_interval_seconds must be positive"),
            (self.function_timeout_seconds > 0, "function_timeout_seconds must be positive"),
            (self.delivery_seconds >= 0, "delivery_seconds must not be negative"),
        ]


# ------------------------------------------------------------------------------------- clock
class SimClock:
    """Simulated seconds since the start; ``wall()`` is the same instant as an aware UTC time."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def set(self, moment: float) -> None:
        """Move the clock to ``moment`` (the event loop's time, or back to it after a handler)."""
        self._now = moment

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            msg = f"cannot sleep {seconds} s"
            raise ValueError(msg)
        self._now += seconds

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self._now)


def _timestamp(at: float) -> str:
    """S3's eventTime: milliseconds (truncated) and ``Z``."""
    moment = EPOCH + timedelta(seconds=at)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def s3_event_body(
    key: str,
    *,
    at: float,
    sequencer: str,
    kind: ChangeKind = "created",
    bucket: str = "sim-origin-bucket",
    region: str = REGION,
) -> str:
    """The SQS message body S3 sends for one change of the (decoded) ``key``: compact JSON,
    one record, the key form-encoded. Written from a template (this runs once per upload);
    ``quote_plus`` leaves nothing in the key that JSON would escape."""
    encoded_key = quote_plus(key, safe="/")
    if kind == "created":
        digest = hashlib.md5(f"{key}@{sequencer}".encode(), usedforsecurity=False).hexdigest()
        event_name = "ObjectCreated:Put"
        extra = f'"size":1024,"eTag":"{digest}",'
    else:
        event_name = "ObjectRemoved:Delete"
        extra = ""
    name = json.dumps(bucket)
    arn = json.dumps(f"arn:aws:s3:::{bucket}")
    return (
        '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3",'
        f'"awsRegion":{json.dumps(region)},"eventTime":"{_timestamp(at)}",'
        f'"eventName":"{event_name}",'
        '"userIdentity":{"principalId":"AWS:AIDASIMULATEDEXAMPLE"},'
        '"requestParameters":{"sourceIPAddress":"192.0.2.1"},'
        '"s3":{"s3SchemaVersion":"1.0","configurationId":"invalidate",'
        f'"bucket":{{"name":{name},"ownerIdentity":{{"principalId":"A3NL1KOZZKEXAMPLE"}},'
        f'"arn":{arn}}},'
        f'"object":{{"key":"{encoded_key}",{extra}"sequencer":{json.dumps(sequencer)}}}}}}}]}}'
    )


# ------------------------------------------------------------------------------------- queue
@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A message in the dead-letter queue: moved by the redrive policy, or sent by the service."""

    message_id: str
    at: float
    via: Literal["redrive", "service"]
    receive_count: int
    body: str
    error_code: str = ""
    reason: str = ""


@dataclass(slots=True, eq=False)
class _Message:
    message_id: str
    body: str
    sent_at: float
    payload_bytes: int
    state: Literal["delayed", "visible", "in flight", "deleted", "dead"] = "visible"
    receive_count: int = 0
    receipt_handle: str | None = None
    visible_at: float = 0.0
    generation: int = 0  # bumped whenever visible_at changes: older heap entries are stale


class SimQueue:
    """An in-memory standard SQS queue with a redrive policy; also the service's ``QueueApi``.

    Times come from ``clock``. Receives hand out visible messages oldest-visible first (a
    standard queue promises no order; this one is deterministic).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        visibility_timeout_seconds: float = 660.0,
        max_receive_count: int = 5,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.max_receive_count = max_receive_count
        self._rng = rng or random.Random(0)  # noqa: S311 - simulation, not security
        self._messages: dict[str, _Message] = {}
        self._by_handle: dict[str, _Message] = {}
        self._hidden: list[tuple[float, int, int, _Message]] = []  # (visible_at, seq, gen, msg)
        self._visible: deque[_Message] = deque()
        self._visible_count = 0
        self._visible_bytes = 0
        self._in_flight = 0
        self._delayed = 0
        self._sequence = 0
        self._handles = 0
        self.dead_letters: list[DeadLetterRecord] = []
        self.deferrals_requested = 0
        """Deferral items the service asked for (``defer``), whether or not they succeeded."""
        self.deletes = 0

    # ------------------------------------------------------------------------- the SQS API
    def send(self, body: str, *, delay_seconds: float = 0.0) -> str:
        """SendMessage: a new message ID; visible now, or after ``delay_seconds``."""
        now = self._clock()
        message_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        # The body as a JSON string inside Lambda's event: quotes and backslashes are escaped.
        escaped = len(body) + body.count('"') + body.count("\\")
        message = _Message(message_id, body, now, escaped + RECORD_OVERHEAD_BYTES)
        self._messages[message_id] = message
        if delay_seconds > 0:
            message.state = "delayed"
            self._delayed += 1
            self._hide(message, now + delay_seconds)
        else:
            message.visible_at = now
            self._show(message)
        return message_id

    def receive(self, max_messages: int = 10, *, max_bytes: int | None = None) -> list[SqsMessage]:
        """ReceiveMessage: up to ``max_messages`` visible messages (and ``max_bytes``).

        Each is hidden for the visibility timeout with a new receipt handle and its receive
        count incremented. One whose receive count already reached ``max_receive_count`` is
        moved to the dead-letter queue instead (the redrive policy).
        """
        self._release()
        now = self._clock()
        taken: list[SqsMessage] = []
        used = 0
        while self._visible and len(taken) < max_messages:
            message = self._visible[0]
            if message.state != "visible":
                self._visible.popleft()
                continue
            if message.receive_count >= self.max_receive_count:
                self._visible.popleft()
                self._unshow(message)
                self._redrive(message, now)
                continue
            if max_bytes is not None and taken and used + message.payload_bytes > max_bytes:
                break
            self._visible.popleft()
            self._unshow(message)
            used += message.payload_bytes
            taken.append(self._deliver(message, now))
        return taken

    def delete(self, receipt_handle: str) -> bool:
        """DeleteMessage with the latest receipt handle; False if it is stale or unknown."""
        message = self._by_handle.pop(receipt_handle, None)
        if message is None or message.receipt_handle != receipt_handle:
            return False
        if message.state == "visible":
            self._unshow(message)
        elif message.state == "in flight":
            self._in_flight -= 1
        else:
            return False
        message.state = "deleted"
        message.generation += 1
        self.deletes += 1
        return True

    def change_visibility(self, receipt_handle: str, seconds: float) -> bool:
        """ChangeMessageVisibility of an in-flight message: visible ``seconds`` from now."""
        self._release()
        message = self._by_handle.get(receipt_handle)
        if (
            message is None
            or message.receipt_handle != receipt_handle
            or message.state != "in flight"
            or not 0 <= seconds <= MAX_VISIBILITY_TIMEOUT
        ):
            return False
        self._hide(message, self._clock() + seconds)
        self._release()
        return True

    # ------------------------------------------------------------------ the service's port
    def defer(self, deferrals: Sequence[Deferral]) -> set[str]:
        self.deferrals_requested += len(deferrals)
        return {
            d.message_id
            for d in deferrals
            if not self.change_visibility(d.receipt_handle, d.seconds)
        }

    def dead_letter(self, letters: Sequence[DeadLetter]) -> set[str]:
        now = self._clock()
        for letter in letters:
            self.dead_letters.append(
                DeadLetterRecord(
                    letter.message_id,
                    now,
                    "service",
                    letter.receive_count,
                    letter.body,
                    letter.error_code,
                    letter.reason,
                )
            )
        return set()

    # -------------------------------------------------------------------------- inspection
    @property
    def visible_count(self) -> int:
        self._release()
        return self._visible_count

    @property
    def visible_bytes(self) -> int:
        self._release()
        return self._visible_bytes

    @property
    def in_flight_count(self) -> int:
        """Received, and neither deleted nor visible again."""
        self._release()
        return self._in_flight

    @property
    def empty(self) -> bool:
        """No message visible, in flight or delayed."""
        return self.visible_count == 0 and self._in_flight == 0 and self._delayed == 0

    def next_change_at(self) -> float | None:
        """When the next hidden message becomes visible, if any."""
        self._release()
        while self._hidden:
            visible_at, _, generation, message = self._hidden[0]
            if generation == message.generation and message.state in ("in flight", "delayed"):
                return visible_at
            heapq.heappop(self._hidden)
        return None

    def receive_count(self, message_id: str) -> int:
        return self._messages[message_id].receive_count

    def state(self, message_id: str) -> str:
        self._release()
        return self._messages[message_id].state

    @property
    def dead_lettered_ids(self) -> list[str]:
        return [record.message_id for record in self.dead_letters]

    # ---------------------------------------------------------------------------- internal
    def _deliver(self, message: _Message, now: float) -> SqsMessage:
        message.receive_count += 1
        self._handles += 1
        handle = f"rh-{self._handles:08d}-{message.message_id}"
        if message.receipt_handle is not None:
            self._by_handle.pop(message.receipt_handle, None)
        message.receipt_handle = handle
        self._by_handle[handle] = message
        message.state = "in flight"
        self._in_flight += 1
        self._hide(message, now + self.visibility_timeout_seconds)
        return SqsMessage(message.message_id, message.body, handle, message.receive_count)

    def _hide(self, message: _Message, visible_at: float) -> None:
        """(Re)schedule when a delayed or in-flight message becomes visible."""
        message.visible_at = visible_at
        message.generation += 1
        self._sequence += 1
        heapq.heappush(self._hidden, (visible_at, self._sequence, message.generation, message))

    def _show(self, message: _Message) -> None:
        message.state = "visible"
        self._visible.append(message)
        self._visible_count += 1
        self._visible_bytes += message.payload_bytes

    def _unshow(self, message: _Message) -> None:
        self._visible_count -= 1
        self._visible_bytes -= message.payload_bytes

    def _release(self) -> None:
        now = self._clock()
        hidden = self._hidden
        while hidden and hidden[0][0] <= now:
            _, _, generation, message = heapq.heappop(hidden)
            if generation != message.generation or message.state not in ("in flight", "delayed"):
                continue
            if message.state == "delayed":
                self._delayed -= 1
            else:
                self._in_flight -= 1
            self._show(message)

    def _redrive(self, message: _Message, now: float) -> None:
        message.state = "dead"
        message.generation += 1
        if message.receipt_handle is not None:
            self._by_handle.pop(message.receipt_handle, None)
        self.dead_letters.append(
            DeadLetterRecord(
                message.message_id,
                now,
                "redrive",
                message.receive_count,
                message.body,
                "MaxReceiveCountExceeded",
                f"received {message.receive_count} times (maxReceiveCount "
                f"{self.max_receive_count})",
            )
        )


# ------------------------------------------------------------------- tracker and notifications
@dataclass(frozen=True, slots=True)
class TrackerRun:
    """One tracker execution and the notification it publishes."""

    name: str
    distribution_id: str
    invalidation_id: str
    started_at: float
    notified_at: float
    status: TrackerStatus
    payload: Mapping[str, object] = field(default_factory=dict, compare=False)


class SimTracker:
    """The completion tracker (``TrackerApi``), computed rather than run.

    The state machine polls GetInvalidation at its start and every ``poll_interval_seconds``
    after; it publishes COMPLETED at the first poll at or after the invalidation's completion,
    TIMED_OUT at the first poll that finds ``timeout_seconds`` waited, or FAILED at once when
    the invalidation does not exist (GetInvalidation's NoSuchInvalidation is caught).
    ``fail_next`` makes the next starts raise TrackingError (StartExecution failing).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        completes_at: Callable[[str], float | None],
        *,
        poll_interval_seconds: float = 10.0,
        timeout_seconds: float = 900.0,
    ) -> None:
        self._clock = clock
        self._completes_at = completes_at
        self.poll_interval_seconds = poll_interval_seconds
        self.timeout_seconds = timeout_seconds
        self.runs: dict[str, TrackerRun] = {}
        self.fail_next = 0
        self.start_calls = 0

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        self.start_calls += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise TrackingError("ServiceUnavailable: simulated StartExecution failure")
        now = self._clock()
        earlier = self.runs.get(name)
        if earlier is not None:
            # AWS: same name and input while running is idempotent; else ExecutionAlreadyExists.
            return dict(earlier.payload) == dict(payload) and now < earlier.notified_at
        invalidation_id = str(payload.get("invalidationId", ""))
        completes_at = self._completes_at(invalidation_id)
        status: TrackerStatus = "FAILED"
        notified_at = now
        if completes_at is not None:
            notified_at, status = self.notification(now, completes_at)
        self.runs[name] = TrackerRun(
            name,
            str(payload.get("distributionId", "")),
            invalidation_id,
            now,
            notified_at,
            status,
            dict(payload),
        )
        return True

    def notification(self, started_at: float, completes_at: float) -> tuple[float, TrackerStatus]:
        """When and with which status a tracker started at ``started_at`` notifies."""
        poll = self.poll_interval_seconds
        polls_to_done = max(0, math.ceil((completes_at - started_at) / poll - 1e-9))
        polls_to_limit = max(0, math.ceil(self.timeout_seconds / poll - 1e-9))
        if polls_to_done <= polls_to_limit:
            return started_at + polls_to_done * poll, "COMPLETED"
        return started_at + polls_to_limit * poll, "TIMED_OUT"


@dataclass(frozen=True, slots=True)
class Notification:
    """A message on the notification topic: the service's (FAILED) or a tracker's."""

    at: float
    source: Literal["service", "tracker"]
    status: str
    distribution_id: str
    invalidation_id: str = ""
    message: Mapping[str, object] = field(default_factory=dict)


class SimNotifier:
    """The service's ``NotifierApi``: records what it publishes, with the simulated time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.published: list[Notification] = []
        self.fail_next = 0

    def publish(self, message: Mapping[str, object], attributes: Mapping[str, str]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise NotificationError("simulated SNS failure")
        self.published.append(
            Notification(
                self._clock(),
                "service",
                str(message.get("status", attributes.get("status", ""))),
                str(message.get("distributionId", "")),
                message=dict(message),
            )
        )


# ------------------------------------------------------------------------------ the handler
@dataclass(frozen=True, slots=True)
class SimContext:
    """What a batch handler gets besides its messages: the ports, the clients, the clock."""

    invocation: int
    started_at: float
    config: Config
    ports: Ports  # remaining_seconds already bound to this invocation
    cloudfront: CloudFrontClient  # the boto3 client (no botocore retries) the service uses
    cloudfront_fake: FaithfulCloudFront
    queue: SimQueue
    tracker: SimTracker
    notifier: SimNotifier
    clock: SimClock
    function_timeout_seconds: float

    def now(self) -> float:
        """Simulated seconds since the start."""
        return self.clock()

    def wall_clock(self) -> datetime:
        return self.clock.wall()

    def remaining_seconds(self) -> float:
        return self.function_timeout_seconds - (self.clock() - self.started_at)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


class BatchHandler(Protocol):
    """Serve one batch and return the message IDs to report in ``batchItemFailures``.

    Raising fails the whole batch (nothing is deleted), as an error in Lambda does.
    """

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        """Serve ``messages``; the returned IDs stay on the queue."""
        ...


class ServiceHandler:
    """The default handler: ``process_batch`` with the simulation's ports, as the batcher runs
    it (functions/batcher/app.py). Keeps every invocation's ``BatchOutcome``."""

    def __init__(self) -> None:
        self.outcomes: list[BatchOutcome] = []

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        try:
            outcome = process_batch(messages, context.config, context.ports)
        finally:
            # Lambda's log_metrics flushes after each invocation; nothing is flushed here.
            metrics.clear_metrics()
        self.outcomes.append(outcome)
        return set(outcome.failed)


# ---------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class InvocationRecord:
    number: int
    started_at: float
    ended_at: float
    closed_by: ClosedBy
    message_ids: tuple[str, ...]
    failures: int  # records left on the queue (reported, or all of them on an error)
    outcome: InvocationOutcome
    error: str | None = None

    @property
    def records(self) -> int:
        return len(self.message_ids)


@dataclass(frozen=True, slots=True)
class InvalidationRecord:
    """An invalidation CloudFront created, with its tracker's notification if one ran."""

    distribution_id: str
    invalidation_id: str
    caller_reference: str
    created_at: float
    completes_at: float
    paths: tuple[str, ...]
    notified_at: float | None = None
    notification_status: str | None = None

    @property
    def wildcards(self) -> int:
        return sum(1 for path in self.paths if is_wildcard(path))


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What became of one upload.

    ``requested_at``: when every path viewers may request for the key was covered, on every
    distribution, by an invalidation created at or after the upload (the latest of the earliest
    such invalidation per path); ``completed_at``: when all those invalidations had completed
    in CloudFront (viewers get the new version from then on, whether or not anyone was told);
    ``notified_at``: when all their trackers had notified COMPLETED (None if one did not).
    """

    upload: Upload
    message_id: str | None
    in_scope: bool  # False: KEY_PREFIX/ORIGIN_PATH give the key no viewer path
    requested_at: float | None
    notified_at: float | None
    dead_lettered: bool
    completed_at: float | None = None

    @property
    def lost(self) -> bool:
        return self.in_scope and self.requested_at is None and not self.dead_lettered

    @property
    def request_latency(self) -> float | None:
        return None if self.requested_at is None else self.requested_at - self.upload.at

    @property
    def completion_latency(self) -> float | None:
        return None if self.completed_at is None else self.completed_at - self.upload.at

    @property
    def notify_latency(self) -> float | None:
        return None if self.notified_at is None else self.notified_at - self.upload.at


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile, ``q`` from 0 to 100; None when there are no values."""
    if not 0 <= q <= 100:
        msg = f"percentile must be from 0 to 100, got {q}"
        raise ValueError(msg)
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of a run. Invalidations created by ``Simulation.occupy`` are reported in
    ``occupying`` only: calls, billed paths and errors count the handler's requests alone."""

    uploads: int
    invocations: tuple[InvocationRecord, ...]
    create_invalidation_calls: int
    invalidations: tuple[InvalidationRecord, ...]
    billed_paths: int
    wildcard_paths_billed: int
    quota_errors: int  # CreateInvalidation refused with TooManyInvalidationsInProgress
    throttled_calls: int  # CreateInvalidation refused with Throttling
    rejected_calls: Mapping[str, int]  # every refused CreateInvalidation, by error code
    deferrals: int  # Deferral items the handler asked the queue for
    dead_letters: tuple[DeadLetterRecord, ...]
    notifications: tuple[Notification, ...]  # the service's and the trackers', by time
    failed_notifications: int  # FAILED or TIMED_OUT
    keys_lost: int
    outcomes: tuple[UploadOutcome, ...]
    tracker_runs: tuple[TrackerRun, ...]
    occupying: tuple[InvalidationRecord, ...]
    finished_at: float  # the queue drained and every tracker notified
    truncated: bool  # stopped by max_simulated_seconds or max_invocations

    @property
    def invocation_count(self) -> int:
        return len(self.invocations)

    @property
    def created_invalidations(self) -> int:
        return len(self.invalidations)

    @property
    def dead_lettered(self) -> tuple[str, ...]:
        """Message IDs in the dead-letter queue (redrive and the service's own), in order."""
        return tuple(record.message_id for record in self.dead_letters)

    def lost_uploads(self) -> list[UploadOutcome]:
        return [outcome for outcome in self.outcomes if outcome.lost]

    def request_latencies(self) -> list[float]:
        return [o.request_latency for o in self.outcomes if o.request_latency is not None]

    def completion_latencies(self) -> list[float]:
        return [o.completion_latency for o in self.outcomes if o.completion_latency is not None]

    def notify_latencies(self) -> list[float]:
        return [o.notify_latency for o in self.outcomes if o.notify_latency is not None]

    def summary(self) -> dict[str, object]:
        """Headline numbers, e.g. for a benchmark table."""
        requested, notified = self.request_latencies(), self.notify_latencies()
        completed = self.completion_latencies()
        return {
            "uploads": self.uploads,
            "invocations": self.invocation_count,
            "create_invalidation_calls": self.create_invalidation_calls,
            "invalidations": self.created_invalidations,
            "billed_paths": self.billed_paths,
            "wildcard_paths_billed": self.wildcard_paths_billed,
            "quota_errors": self.quota_errors,
            "throttled_calls": self.throttled_calls,
            "deferrals": self.deferrals,
            "dead_lettered": len(self.dead_letters),
            "failed_notifications": self.failed_notifications,
            "keys_lost": self.keys_lost,
            "request_latency_p50": percentile(requested, 50),
            "request_latency_p99": percentile(requested, 99),
            "completion_latency_p50": percentile(completed, 50),
            "completion_latency_p99": percentile(completed, 99),
            "notify_latency_p50": percentile(notified, 50),
            "notify_latency_p99": percentile(notified, 99),
            "finished_at": self.finished_at,
            "truncated": self.truncated,
        }


class Coverage:
    """Which invalidations of one distribution cover a path, and the earliest since a time.

    Paths are compared decoded (``cfinvalidator.paths.covers``): an exact path covers an equal
    path; a wildcard covers every path (or narrower wildcard) starting with its prefix.
    Exact paths are indexed in a dict, wildcard prefixes by prefix and by length.
    """

    def __init__(self, invalidations: Sequence[InvalidationRecord]) -> None:
        exact: dict[str, list[InvalidationRecord]] = {}
        prefixes: dict[str, list[InvalidationRecord]] = {}
        for invalidation in sorted(invalidations, key=lambda i: i.created_at):
            for path in invalidation.paths:
                if is_wildcard(path):
                    prefixes.setdefault(_decoded(path[:-1]), []).append(invalidation)
                else:
                    exact.setdefault(_decoded(path), []).append(invalidation)
        self._exact = {p: ([i.created_at for i in found], found) for p, found in exact.items()}
        self._prefixes = {
            p: ([i.created_at for i in found], found) for p, found in prefixes.items()
        }
        self._lengths = sorted({len(prefix) for prefix in prefixes})

    def earliest(self, path: str, since: float) -> InvalidationRecord | None:
        """The first invalidation created at or after ``since`` that covers ``path``."""
        best: InvalidationRecord | None = None
        wildcard = is_wildcard(path)
        target = _decoded(path[:-1] if wildcard else path)
        if not wildcard:
            best = _first_since(self._exact.get(target), since)
        for length in self._lengths:
            if length > len(target):
                break
            found = _first_since(self._prefixes.get(target[:length]), since)
            if found is not None and (best is None or found.created_at < best.created_at):
                best = found
        return best


def _first_since(
    entry: tuple[list[float], list[InvalidationRecord]] | None, since: float
) -> InvalidationRecord | None:
    if entry is None:
        return None
    times, invalidations = entry
    index = bisect.bisect_left(times, since)
    return invalidations[index] if index < len(times) else None


def _decoded(path: str) -> str:
    try:
        return decode_path(path)
    except UnicodeDecodeError:
        return path


# ------------------------------------------------------------------------------ simulation
class Simulation:
    """The whole pipeline on a simulated clock. Use as a context manager (it runs inside
    ``moto.mock_aws()``), prepare (``occupy``, ``at``, ``cloudfront_fake.inject``...), then
    ``run()`` once::

        with Simulation(uploads, SimSettings(batching_window_seconds=30)) as sim:
            sim.occupy(files=2900, completes_in_seconds=120)
            report = sim.run()
    """

    def __init__(
        self,
        uploads: Iterable[Upload],
        settings: SimSettings | None = None,
        *,
        handler: BatchHandler | None = None,
    ) -> None:
        self.settings = settings or SimSettings()
        # Stable order by time: equal times keep the given order (and sequencers increase).
        self.uploads: tuple[Upload, ...] = tuple(sorted(uploads, key=lambda u: u.at))
        self.handler: BatchHandler = handler if handler is not None else ServiceHandler()
        self.clock = SimClock()
        self._mock: Any = None
        self._started = False
        self._report: Report | None = None
        self._scheduled: list[tuple[float, int, Callable[[Simulation], object]]] = []
        self._scheduled_count = 0
        self._occupying: set[tuple[str, str]] = set()
        self._message_ids: list[str | None] = [None] * len(self.uploads)
        self._invocations: list[InvocationRecord] = []
        # (ends at, number, receipt handles to delete when it ends)
        self._running: list[tuple[float, int, list[str]]] = []
        self._window_opened_at: float | None = None

    # ---------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, create the distributions, install the CloudFront fake, build the ports."""
        if self._started:
            msg = "the simulation is already started"
            raise RuntimeError(msg)
        self._mock = mock_aws()
        self._mock.start()
        self._started = True
        try:
            self._build()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        fake: FaithfulCloudFront | None = getattr(self, "cloudfront_fake", None)
        if fake is not None:
            fake.uninstall()
        self._mock.stop()

    def _build(self) -> None:
        settings = self.settings
        mock_random.seed(settings.seed)  # moto's distribution and invalidation IDs
        self.cloudfront: CloudFrontClient = boto3.client(
            "cloudfront", region_name=REGION, config=_NO_RETRIES
        )
        created = tuple(
            create_distribution(
                self.cloudfront, f"sim-distribution-{n}", comment="simulated distribution"
            )
            for n in range(settings.distributions)
        )
        completion_rng = random.Random(f"{settings.seed}:completion")  # noqa: S311
        sampler = settings.completion_seconds
        self.cloudfront_fake = FaithfulCloudFront(
            clock=self.clock,
            wall_clock=self.clock.wall,
            completion_seconds=(
                (lambda: float(sampler(completion_rng))) if callable(sampler) else sampler
            ),
        )
        self.cloudfront_fake.install()
        self.config = Config.from_env(self._environment(created))
        self.distribution_ids: tuple[str, ...] = self.config.distribution_ids
        self.queue = SimQueue(
            self.clock,
            visibility_timeout_seconds=settings.visibility_timeout_seconds,
            max_receive_count=settings.max_receive_count or self.config.max_receive_count,
            rng=random.Random(f"{settings.seed}:messages"),  # noqa: S311
        )
        self.tracker = SimTracker(
            self.clock,
            self._completes_at,
            poll_interval_seconds=settings.poll_interval_seconds,
            timeout_seconds=settings.completion_timeout_seconds,
        )
        self.notifier = SimNotifier(self.clock)
        self.ports = Ports(
            invalidations=Boto3InvalidationApi(self.cloudfront),
            tracker=self.tracker,
            queue=self.queue,
            notifier=self.notifier,
            sleep=self.clock.sleep,
            now=self.clock.wall,
            rng=random.Random(f"{settings.seed}:service"),  # noqa: S311
        )

    def _environment(self, distribution_ids: Sequence[str]) -> dict[str, str]:
        """The service's environment; ``settings.env`` wins (a DISTRIBUTION_IDS there replaces
        the created distributions: IDs moto does not know answer NoSuchDistribution)."""
        base = f"{REGION}:{ACCOUNT_ID}"
        env = {
            "DISTRIBUTION_IDS": ",".join(distribution_ids),
            "BUCKET_NAME": self.settings.bucket_name,
            "STATE_MACHINE_ARN": f"arn:aws:states:{base}:stateMachine:sim-tracker",
            "QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/sim-invalidation-queue",
            "DEAD_LETTER_QUEUE_URL": (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/sim-invalidation-dlq"
            ),
            "TOPIC_ARN": f"arn:aws:sns:{base}:sim-notifications",
        }
        env.update(self.settings.env)
        return env

    def _completes_at(self, invalidation_id: str) -> float | None:
        try:
            return self.cloudfront_fake.completes_at(invalidation_id)
        except KeyError:
            return None

    def _require_started(self) -> None:
        if not self._started:
            msg = "use the simulation as a context manager (or call start()) first"
            raise RuntimeError(msg)

    # ---------------------------------------------------------------------------- controls
    def at(self, moment: float, action: Callable[[Simulation], object]) -> None:
        """Run ``action(self)`` when the simulated clock reaches ``moment`` (during ``run``;
        actions still pending when the run ends are dropped)."""
        self._scheduled_count += 1
        heapq.heappush(self._scheduled, (moment, self._scheduled_count, action))

    def occupy(
        self,
        distribution: int = 0,
        *,
        files: int = 0,
        wildcards: int = 0,
        completes_in_seconds: float,
    ) -> tuple[str, ...]:
        """Put ``files`` file paths and ``wildcards`` wildcard paths in progress on a
        distribution (by index), completing ``completes_in_seconds`` from now.

        Created through the boto3 client with their own caller references, under
        ``/sim-occupied/``; reported in ``Report.occupying``, not in the billed figures.
        Raises botocore's ClientError if CloudFront refuses (e.g. more than 15 wildcards).
        """
        self._require_started()
        distribution_id = self.distribution_ids[distribution]
        n = len(self._occupying)
        paths = [f"{OCCUPYING_PREFIX}{n}/file-{i}" for i in range(files)]
        paths += [f"{OCCUPYING_PREFIX}{n}/dir-{i}/*" for i in range(wildcards)]
        fake = self.cloudfront_fake
        previous = fake.completion_seconds
        fake.completion_seconds = completes_in_seconds
        created: list[str] = []
        try:
            for chunk, start in enumerate(range(0, len(paths), MAX_IN_PROGRESS_FILES)):
                items = paths[start : start + MAX_IN_PROGRESS_FILES]
                reference = f"{OCCUPYING_REFERENCE_PREFIX}{n}-{chunk}"
                self._occupying.add((distribution_id, reference))
                response = self.cloudfront.create_invalidation(
                    DistributionId=distribution_id,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(items), "Items": items},
                        "CallerReference": reference,
                    },
                )
                created.append(response["Invalidation"]["Id"])
        finally:
            fake.completion_seconds = previous
        return tuple(created)

    # -------------------------------------------------------------------------------- run
    def run(self) -> Report:
        """Deliver every upload and run until the queue is drained (nothing visible, in flight
        or running) or a safety cap is reached; then report."""
        self._require_started()
        if self._report is not None:
            msg = "a simulation runs once"
            raise RuntimeError(msg)
        settings = self.settings
        now = self.clock()
        next_upload = 0
        same_instant = 0
        truncated = False
        while True:
            self.clock.set(now)
            next_upload = self._deliver_uploads(next_upload, now)
            self._run_scheduled(now)
            self._finish_invocations(now)
            self._poll(now)
            if next_upload == len(self.uploads) and not self._running and self.queue.empty:
                break
            following = self._next_instant(next_upload, now)
            if following is None:
                break  # pragma: no cover - unreachable: work remains but nothing is due
            if following > settings.max_simulated_seconds or (
                len(self._invocations) >= settings.max_invocations
            ):
                truncated = True
                break
            same_instant = same_instant + 1 if following <= now else 0
            if same_instant > _SAME_INSTANT_LIMIT:
                msg = f"the simulation makes no progress at t={now}"
                raise RuntimeError(msg)
            now = max(now, following)
        self.clock.set(now)
        self._report = self._build_report(now, truncated)
        return self._report

    def _deliver_uploads(self, index: int, now: float) -> int:
        delay = self.settings.delivery_seconds
        while index < len(self.uploads) and self.uploads[index].at + delay <= now:
            upload = self.uploads[index]
            millis = max(0, round(upload.at * 1_000_000) // 1000)  # as eventTime
            body = s3_event_body(
                upload.key,
                at=upload.at,
                sequencer=f"{millis:012X}{index:08X}",
                kind=upload.kind,
                bucket=self.settings.bucket_name,
            )
            self._message_ids[index] = self.queue.send(body)
            index += 1
        return index

    def _run_scheduled(self, now: float) -> None:
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, action = heapq.heappop(self._scheduled)
            action(self)
            self.clock.set(now)

    def _finish_invocations(self, now: float) -> None:
        while self._running and self._running[0][0] <= now:
            _, _, deletions = heapq.heappop(self._running)
            for handle in deletions:
                self.queue.delete(handle)

    def _next_instant(self, next_upload: int, now: float) -> float | None:
        candidates: list[float] = []
        if next_upload < len(self.uploads):
            candidates.append(self.uploads[next_upload].at + self.settings.delivery_seconds)
        if self._scheduled:
            candidates.append(self._scheduled[0][0])
        if self._running:
            candidates.append(self._running[0][0])
        visible_again = self.queue.next_change_at()
        if visible_again is not None:
            candidates.append(visible_again)
        if (
            self._window_opened_at is not None
            and len(self._running) < self.settings.max_concurrency
        ):
            candidates.append(self._window_opened_at + self.settings.batching_window_seconds)
        return min(candidates) if candidates else None

    # ------------------------------------------------------------------- the event source
    def _poll(self, now: float) -> None:
        """Lambda's poller: open a window at the first visible record, invoke when ready."""
        while True:
            if self.queue.visible_count == 0:
                self._window_opened_at = None
                return
            if self._window_opened_at is None:
                self._window_opened_at = now
            if len(self._running) >= self.settings.max_concurrency:
                return
            closed_by = self._closed_by(now)
            if closed_by is None:
                return
            self._window_opened_at = None
            self._invoke(now, closed_by)

    def _closed_by(self, now: float) -> ClosedBy | None:
        settings = self.settings
        if self.queue.visible_count >= settings.batch_size:
            return "batch size"
        if self.queue.visible_bytes >= settings.max_payload_bytes:
            return "payload limit"
        opened = self._window_opened_at
        if opened is not None and now >= opened + settings.batching_window_seconds:
            return "batching window"
        return None

    def _invoke(self, now: float, closed_by: ClosedBy) -> None:
        settings = self.settings
        messages = self.queue.receive(settings.batch_size, max_bytes=settings.max_payload_bytes)
        if not messages:
            return  # every visible record was moved to the DLQ by the redrive policy
        number = len(self._invocations) + 1
        context = self._context(number, now)
        error: str | None = None
        answer: Collection[str] = ()
        try:
            answer = self.handler(messages, context)
        except Exception as exc:  # noqa: BLE001 - Lambda reports any handler error the same way
            error = f"{type(exc).__name__}: {exc}"
        slept = self.clock() - now
        self.clock.set(now)
        base = settings.invocation_seconds
        duration = (base(len(messages)) if callable(base) else base) + slept
        outcome, failed = self._judge(messages, answer, error, duration)
        ends_at = now + min(duration, settings.function_timeout_seconds)
        record = InvocationRecord(
            number=number,
            started_at=now,
            ended_at=ends_at,
            closed_by=closed_by,
            message_ids=tuple(m.message_id for m in messages),
            failures=len(failed),
            outcome=outcome,
            error=error,
        )
        self._invocations.append(record)
        deletions = [m.receipt_handle for m in messages if m.message_id not in failed]
        heapq.heappush(self._running, (ends_at, number, deletions))

    def _context(self, number: int, now: float) -> SimContext:
        timeout = self.settings.function_timeout_seconds
        clock = self.clock

        def remaining() -> float:
            return timeout - (clock() - now)

        return SimContext(
            invocation=number,
            started_at=now,
            config=self.config,
            ports=self.ports.with_remaining_time(remaining),
            cloudfront=self.cloudfront,
            cloudfront_fake=self.cloudfront_fake,
            queue=self.queue,
            tracker=self.tracker,
            notifier=self.notifier,
            clock=clock,
            function_timeout_seconds=timeout,
        )

    def _judge(
        self,
        messages: Sequence[SqsMessage],
        answer: Collection[str],
        error: str | None,
        duration: float,
    ) -> tuple[InvocationOutcome, set[str]]:
        """Lambda's reading of an invocation: which records stay on the queue."""
        everything = {m.message_id for m in messages}
        if error is not None:
            return "error", everything
        if duration > self.settings.function_timeout_seconds:
            return "timed out", everything
        if not self.settings.report_batch_item_failures:
            return "success", set()
        failed = set(answer)
        if not failed <= everything:
            return "invalid response", everything
        return ("partial" if failed else "success"), failed

    # ---------------------------------------------------------------------------- report
    def _build_report(self, now: float, truncated: bool) -> Report:
        runs = {run.invalidation_id: run for run in reversed(self.tracker.runs.values())}
        calls = self.cloudfront_fake.calls
        own_calls = [
            c for c in calls if (c.distribution_id, c.caller_reference) not in self._occupying
        ]
        every_created: list[InvalidationRecord] = []
        occupying: list[InvalidationRecord] = []
        invalidations: list[InvalidationRecord] = []
        for call in calls:
            if call.outcome != "created" or call.invalidation_id is None:
                continue
            run = runs.get(call.invalidation_id)
            record = InvalidationRecord(
                distribution_id=call.distribution_id,
                invalidation_id=call.invalidation_id,
                caller_reference=call.caller_reference,
                created_at=call.at,
                completes_at=self.cloudfront_fake.completes_at(call.invalidation_id),
                paths=call.paths,
                notified_at=None if run is None else run.notified_at,
                notification_status=None if run is None else run.status,
            )
            every_created.append(record)
            mine = (call.distribution_id, call.caller_reference) not in self._occupying
            (invalidations if mine else occupying).append(record)
        rejected = Counter(c.error_code or "Unknown" for c in own_calls if c.outcome == "rejected")
        notifications = self._notifications()
        outcomes = self._outcomes(every_created, runs)
        last_notification = max((n.at for n in notifications), default=now)
        return Report(
            uploads=len(self.uploads),
            invocations=tuple(self._invocations),
            create_invalidation_calls=len(own_calls),
            invalidations=tuple(invalidations),
            billed_paths=sum(len(i.paths) for i in invalidations),
            wildcard_paths_billed=sum(i.wildcards for i in invalidations),
            quota_errors=rejected.get("TooManyInvalidationsInProgress", 0),
            throttled_calls=rejected.get("Throttling", 0),
            rejected_calls=dict(sorted(rejected.items())),
            deferrals=self.queue.deferrals_requested,
            dead_letters=tuple(self.queue.dead_letters),
            notifications=notifications,
            failed_notifications=sum(
                1 for n in notifications if n.status in ("FAILED", "TIMED_OUT")
            ),
            keys_lost=sum(1 for outcome in outcomes if outcome.lost),
            outcomes=outcomes,
            tracker_runs=tuple(self.tracker.runs.values()),
            occupying=tuple(occupying),
            finished_at=max(now, last_notification),
            truncated=truncated,
        )

    def _notifications(self) -> tuple[Notification, ...]:
        tracked = [
            Notification(
                run.notified_at, "tracker", run.status, run.distribution_id, run.invalidation_id
            )
            for run in self.tracker.runs.values()
        ]
        everything = [*self.notifier.published, *tracked]
        order = sorted(range(len(everything)), key=lambda i: (everything[i].at, i))
        return tuple(everything[i] for i in order)

    def _outcomes(
        self, created: Sequence[InvalidationRecord], runs: Mapping[str, TrackerRun]
    ) -> tuple[UploadOutcome, ...]:
        coverage = {
            d: Coverage([i for i in created if i.distribution_id == d])
            for d in self.distribution_ids
        }
        dead = set(self.queue.dead_lettered_ids)
        rules = rules_from(self.config)
        paths_of: dict[str, tuple[str, ...]] = {}
        outcomes: list[UploadOutcome] = []
        for index, upload in enumerate(self.uploads):
            paths = paths_of.get(upload.key)
            if paths is None:
                paths = paths_of[upload.key] = paths_for_key(upload.key, rules)
            message_id = self._message_ids[index]
            covered = _covered(upload.at, paths, coverage.values(), runs)
            outcomes.append(
                UploadOutcome(
                    upload=upload,
                    message_id=message_id,
                    in_scope=bool(paths),
                    requested_at=covered.requested_at if paths else None,
                    notified_at=covered.notified_at if paths else None,
                    dead_lettered=message_id in dead,
                    completed_at=covered.completed_at if paths else None,
                )
            )
        return tuple(outcomes)


@dataclass(frozen=True, slots=True)
class _Covered:
    requested_at: float | None = None
    completed_at: float | None = None
    notified_at: float | None = None


def _covered(
    since: float,
    paths: Sequence[str],
    distributions: Iterable[Coverage],
    runs: Mapping[str, TrackerRun],
) -> _Covered:
    """When one upload's paths were requested, completed and notified over every
    distribution (the latest over its paths of the earliest covering invalidation)."""
    requested = completed = notified = since
    notified_ok = True
    for coverage in distributions:
        for path in paths:
            invalidation = coverage.earliest(path, since)
            if invalidation is None:
                return _Covered()
            requested = max(requested, invalidation.created_at)
            completed = max(completed, invalidation.completes_at)
            run = runs.get(invalidation.invalidation_id)
            if run is None or run.status != "COMPLETED":
                notified_ok = False
            else:
                notified = max(notified, run.notified_at)
    return _Covered(requested, completed, notified if notified_ok else None)


def simulate(
    uploads: Iterable[Upload],
    settings: SimSettings | None = None,
    *,
    handler: BatchHandler | None = None,
    prepare: Callable[[Simulation], object] | None = None,
) -> Report:
    """Run one simulation; ``prepare(sim)`` runs before the first upload (occupy, inject...)."""
    with Simulation(uploads, settings, handler=handler) as simulation:
        if prepare is not None:
            prepare(simulation)
        return simulation.run()
