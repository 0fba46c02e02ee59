"""SQS dead-letter queue redrive: StartMessageMoveTask, ListMessageMoveTasks and
CancelMessageMoveTask, which moto 5.2 lacks (a call fails with NotImplementedError).

:class:`MessageMoveTasks` adds the three actions to moto's ``SQSResponse`` *class*, which moto
dispatches a JSON-protocol request to by name (``X-Amz-Target: AmazonSQS.StartMessageMoveTask``
-> ``start_message_move_task``). Every request into moto's SQS goes through that class, so a
boto3 client in-process (``mock_aws()``) and one talking to moto's ThreadedMotoServer in the same
process (emulator.local_aws.endpoint) see the same tasks. Install it inside an active
``mock_aws()``; leaving the context removes the actions again.

AWS behaviour relied on: the SQS API Reference (StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask, ListMessageMoveTasksResultEntry; botocore's SQS model has the same text)
and the Developer Guide's "Learn how to configure a dead-letter queue redrive in Amazon SQS".
Error codes and messages are not in the reference: those quoted are AWS's answers as recorded in
LocalStack's AWS-validated snapshots (tests/aws/services/sqs/test_sqs_move_task.snapshot.json).

- ``SourceArn`` must be the dead-letter queue of another SQS queue, else ``InvalidParameterValue``
  (400) "Source queue must be configured as a Dead Letter Queue.". A ``DestinationArn`` naming no
  queue: ``ResourceNotFoundException`` (404) "The resource that you specified for the
  DestinationArn parameter doesn't exist."; the same for a SourceArn naming none (UNCONFIRMED
  for StartMessageMoveTask and ListMessageMoveTasks; recorded for CancelMessageMoveTask).
- Without ``DestinationArn`` each message goes back to its own original source queue, else all
  go there. The destination must be of the DLQ's type, FIFO or standard (UNCONFIRMED: else
  ``InvalidParameterValue``).
- One active task per source queue: another start fails with ``InvalidParameterValue`` "There is
  already a task running. Only one active task is allowed for a source queue arn at a given
  time.". ``MaxNumberOfMessagesPerSecond`` is at most 500 (UNCONFIRMED: below 1 or above 500
  fails with ``InvalidParameterValue``); it is only echoed, nothing is rate-limited.
- Messages move oldest first, each as a new message (new MessageId and enqueue time, so retention
  restarts; receive count 0) with its body and message attributes, and leave the DLQ.
- ListMessageMoveTasks: the source queue's most recent tasks, newest first, ``MaxResults`` of them
  (default 1, at most 10; UNCONFIRMED: outside 1..10, ``InvalidParameterValue``; for a queue that
  is no DLQ, an empty list). Each has Status (RUNNING, COMPLETED, CANCELLING, CANCELLED or
  FAILED), SourceArn, StartedTimestamp,
  ApproximateNumberOfMessagesMoved and ApproximateNumberOfMessagesToMove (counted at the start);
  DestinationArn and MaxNumberOfMessagesPerSecond only if the start gave them; TaskHandle only
  while RUNNING; FailureReason only when FAILED (a deleted destination:
  ``AWS.SimpleQueueService.NonExistentQueue``).
- CancelMessageMoveTask only cancels a RUNNING task, keeps what was moved, and answers
  ApproximateNumberOfMessagesMoved. An undecodable handle: ``InvalidParameterValue`` "Value for
  parameter TaskHandle is invalid."; an unknown task: ``ResourceNotFoundException`` (404) "Task
  does not exist." (UNCONFIRMED: also for a task no longer RUNNING).

Simplifications and assumptions:

- AWS moves messages asynchronously at a chosen or optimised rate. Here, by default, the whole
  move happens inside StartMessageMoveTask: the task is COMPLETED when the call returns. With
  ``run_immediately=False`` a task stays RUNNING, nothing moved, until the test calls
  :meth:`MessageMoveTasks.run_pending`, which moves everything at once. So a cancel takes effect
  at once: CANCELLED, never CANCELLING.
- Only messages visible when the move runs are moved (UNCONFIRMED: AWS documents nothing about
  in-flight or delayed DLQ messages; they stay in the DLQ, their receipt handles still valid).
  ApproximateNumberOfMessagesToMove is the DLQ's visible count at the start.
- moto keeps no record of a dead letter's source queue, so while installed the emulator notes
  which queue's redrive policy moved each message into its DLQ. A message without a note (sent
  straight to the DLQ, or dead-lettered before installation) goes to the queue whose
  RedrivePolicy names the DLQ if there is exactly one; with several the task FAILS with an
  emulator-only FailureReason (AWS's handling is UNCONFIRMED). A source queue deleted since:
  FAILED, ``AWS.SimpleQueueService.NonExistentQueue``.
- A moved message goes through moto's SendMessage logic: the destination's DelaySeconds applies
  and its event source mappings fire, as for any new message (UNCONFIRMED). AWSTraceHeader is
  kept. Into a FIFO queue it keeps its MessageGroupId and its old MessageId becomes its
  deduplication ID (UNCONFIRMED; what SQS documents for the move into a FIFO DLQ).
- TaskHandle is opaque on AWS; the emulator's is base64 JSON of the task ID and source ARN.
  StartedTimestamp is epoch milliseconds by the injected clock's ``wall()`` (UNCONFIRMED unit).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Final, Literal, Self

from moto.core.responses import ActionResult
from moto.sqs.exceptions import SQSException
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends
from moto.sqs.responses import SQSResponse

from emulator.local_aws.clock import Clock, SystemClock

__all__ = [
    "MAX_MESSAGES_PER_SECOND",
    "MAX_RESULTS",
    "MessageMoveTasks",
    "TaskStatus",
    "message_move_tasks",
]

TaskStatus = Literal["RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"]

MAX_MESSAGES_PER_SECOND: Final = 500
MAX_RESULTS: Final = 10
NON_EXISTENT_QUEUE: Final = "AWS.SimpleQueueService.NonExistentQueue"
_ACTIVE: Final = frozenset({"RUNNING", "CANCELLING"})


class MoveTaskError(SQSException):
    """An SQS error answer with its HTTP status: moto's serializer only knows the model's, and
    the model gives ResourceNotFoundException none (AWS answers it with 404)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.status = status


def _not_found(parameter: str) -> MoveTaskError:
    message = f"The resource that you specified for the {parameter} parameter doesn't exist."
    return MoveTaskError("ResourceNotFoundException", message, 404)


def _invalid(message: str) -> MoveTaskError:
    return MoveTaskError("InvalidParameterValue", message)


@dataclass(slots=True)
class _Task:
    task_id: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    started_ms: int
    to_move: int
    moved: int = 0
    status: TaskStatus = "RUNNING"
    failure_reason: str | None = None

    @property
    def handle(self) -> str:
        document = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn})
        return base64.urlsafe_b64encode(document.encode()).decode()

    def entry(self) -> dict[str, Any]:
        """The task as a ListMessageMoveTasksResultEntry."""
        entry: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.destination_arn is not None:
            entry["DestinationArn"] = self.destination_arn
        if self.max_per_second is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.max_per_second
        if self.status == "RUNNING":
            entry["TaskHandle"] = self.handle
        if self.status == "FAILED":
            entry["FailureReason"] = self.failure_reason
        return entry


def _decode_handle(handle: object) -> tuple[str, str]:
    """(task ID, source ARN) from a TaskHandle, or InvalidParameterValue."""
    try:
        document = json.loads(base64.urlsafe_b64decode(str(handle).encode()))
        return str(document["taskId"]), str(document["sourceArn"])
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise _invalid("Value for parameter TaskHandle is invalid.") from None


def _queue(arn: object) -> Queue | None:
    """moto's queue with this ARN (arn:<partition>:sqs:<region>:<account>:<name>), or None."""
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        return None
    region, account, name = parts[3:]
    try:
        queue = sqs_backends[account][region].queues.get(name)
    except KeyError:  # not a region moto knows
        return None
    return queue if queue is not None and queue.queue_arn == arn else None


def _dead_letter_sources(dlq: Queue) -> list[Queue]:
    """The queues whose RedrivePolicy names ``dlq`` (moto only links queues of one backend)."""
    backend = sqs_backends[dlq.account_id][dlq.region]
    return [queue for queue in backend.queues.values() if queue.dead_letter_queue is dlq]


def _send_copy(destination: Queue, message: Message) -> None:
    """Send ``message`` to ``destination`` as a new message, as SendMessage would."""
    fifo = bool(destination.fifo_queue)
    sqs_backends[destination.account_id][destination.region].send_message(
        destination.name,
        message.body,
        message_attributes=copy.deepcopy(message.message_attributes),
        group_id=message.group_id if fifo else None,
        deduplication_id=message.id if fifo else None,
        system_attributes=copy.deepcopy(message.system_attributes) or None,
    )


def _remove(queue: Queue, message: Message) -> None:
    with queue._messages_lock:
        queue._messages = [m for m in queue._messages if m is not message]
    queue.pending_messages.discard(message)


class MessageMoveTasks:
    """The three move-task actions, patched into moto's SQS (see the module docstring).

    Use as a context manager inside an active ``mock_aws()``. ``clock`` (real time if not given)
    stamps StartedTimestamp; ``run_immediately=False`` keeps tasks RUNNING until
    :meth:`run_pending`.
    """

    _installed: ClassVar[MessageMoveTasks | None] = None

    def __init__(self, *, clock: Clock | None = None, run_immediately: bool = True) -> None:
        self._clock: Clock = clock or SystemClock()
        self._run_immediately = run_immediately
        self._lock = threading.RLock()
        self._tasks: dict[str, list[_Task]] = {}  # by source ARN, oldest first
        self._origins: dict[str, str] = {}  # DLQ message ID -> ARN of the queue it came from
        self._saved: list[tuple[type[Any], str, Any]] = []  # (class, attribute, original)

    # ----------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def install(self) -> None:
        """Add the actions to moto's SQSResponse and start noting where dead letters come from."""
        if MessageMoveTasks._installed is not None:
            msg = "MessageMoveTasks is already installed"
            raise RuntimeError(msg)
        patches: dict[tuple[type[Any], str], Callable[..., Any]] = {
            (SQSResponse, "start_message_move_task"): self._action(self._start),
            (SQSResponse, "list_message_move_tasks"): self._action(self._list),
            (SQSResponse, "cancel_message_move_task"): self._action(self._cancel),
            (SQSBackend, "receive_message"): self._noting_origins(SQSBackend.receive_message),
        }
        self._saved = [(owner, name, owner.__dict__.get(name)) for owner, name in patches]
        for (owner, name), patch in patches.items():
            setattr(owner, name, patch)
        MessageMoveTasks._installed = self

    def uninstall(self) -> None:
        """Put moto's SQS back as it was (a no-op if not installed)."""
        if MessageMoveTasks._installed is not self:
            return
        for owner, name, original in self._saved:
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._saved = []
        MessageMoveTasks._installed = None

    # ------------------------------------------------------------------------ test controls
    def run_pending(self) -> int:
        """Move the messages of every RUNNING task now; return how many tasks ran."""
        with self._lock:
            running = [t for tasks in self._tasks.values() for t in tasks if t.status == "RUNNING"]
            for task in running:
                self._run(task)
        return len(running)

    # ------------------------------------------------------------------------- the actions
    def _action(self, handler: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
        """An SQSResponse method answering with ``handler(response)`` or its MoveTaskError."""

        def action(response: Any) -> Any:
            try:
                with self._lock:
                    result = handler(response)
            except MoveTaskError as error:
                _, headers, body = response.serialized(ActionResult(error))
                headers["status"] = error.status
                return body, headers
            return ActionResult(result)

        return action

    def _start(self, response: Any) -> dict[str, Any]:
        source = _queue(response._get_param("SourceArn"))
        if source is None:
            raise _not_found("SourceArn")
        if not _dead_letter_sources(source):
            raise _invalid("Source queue must be configured as a Dead Letter Queue.")
        destination_arn = response._get_param("DestinationArn")
        if destination_arn is not None:
            destination = _queue(destination_arn)
            if destination is None:
                raise _not_found("DestinationArn")
            if bool(destination.fifo_queue) != bool(source.fifo_queue):
                raise _invalid("The destination queue must be of the same type as the source.")
        rate = response._get_param("MaxNumberOfMessagesPerSecond")
        if rate is not None and not 1 <= rate <= MAX_MESSAGES_PER_SECOND:
            raise _invalid(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                f"Reason: must be between 1 and {MAX_MESSAGES_PER_SECOND}."
            )
        tasks = self._tasks.setdefault(source.queue_arn, [])
        if any(task.status in _ACTIVE for task in tasks):
            raise _invalid(
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time."
            )
        task = _Task(
            task_id=str(uuid.uuid4()),
            source_arn=source.queue_arn,
            destination_arn=destination_arn,
            max_per_second=rate,
            started_ms=int(self._clock.wall().timestamp() * 1000),
            to_move=len(source.messages),
        )
        tasks.append(task)
        if self._run_immediately:
            self._run(task)
        return {"TaskHandle": task.handle}

    def _list(self, response: Any) -> dict[str, Any]:
        source = _queue(response._get_param("SourceArn"))
        if source is None:
            raise _not_found("SourceArn")
        max_results = response._get_param("MaxResults")
        max_results = 1 if max_results is None else max_results
        if not 1 <= max_results <= MAX_RESULTS:
            raise _invalid(
                f"Value {max_results} for parameter MaxResults is invalid. "
                f"Reason: must be between 1 and {MAX_RESULTS}."
            )
        newest_first = reversed(self._tasks.get(source.queue_arn, []))
        return {"Results": [task.entry() for task in newest_first][:max_results]}

    def _cancel(self, response: Any) -> dict[str, Any]:
        task_id, source_arn = _decode_handle(response._get_param("TaskHandle"))
        source = _queue(source_arn)
        if source is None:
            raise _not_found("SourceArn")
        tasks = self._tasks.get(source.queue_arn, [])
        task = next((t for t in tasks if t.task_id == task_id and t.status == "RUNNING"), None)
        if task is None:
            raise MoveTaskError("ResourceNotFoundException", "Task does not exist.", 404)
        task.status = "CANCELLED"
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    # ------------------------------------------------------------------------------ moving
    def _run(self, task: _Task) -> None:
        """Move every visible message of the task's DLQ, oldest first, then mark the task."""
        source = _queue(task.source_arn)
        destination = _queue(task.destination_arn) if task.destination_arn else None
        if source is None or (task.destination_arn and destination is None):
            self._fail(task, NON_EXISTENT_QUEUE)
            return
        for message in list(source.messages):  # moto's visible, undelayed messages, in order
            target, reason = (destination, "") if destination else self._origin(message, source)
            if target is None:
                self._fail(task, reason)
                return
            try:
                _send_copy(target, message)
            except SQSException as error:
                self._fail(task, error.code)
                return
            _remove(source, message)
            self._origins.pop(message.id, None)
            task.moved += 1
        task.status = "COMPLETED"

    def _origin(self, message: Message, dlq: Queue) -> tuple[Queue | None, str]:
        """The queue a dead letter goes back to by default, or (None, why not)."""
        origin_arn = self._origins.get(message.id)
        if origin_arn is not None:
            origin = _queue(origin_arn)
            return (origin, "") if origin is not None else (None, NON_EXISTENT_QUEUE)
        sources = _dead_letter_sources(dlq)
        if len(sources) == 1:
            return sources[0], ""
        return None, (
            f"emulator: message {message.id} was not moved to the DLQ by a redrive policy the "
            f"emulator saw, and {len(sources)} queues use the DLQ; give a DestinationArn"
        )

    @staticmethod
    def _fail(task: _Task, reason: str) -> None:
        task.status = "FAILED"
        task.failure_reason = reason

    def _noting_origins(self, receive: Callable[..., Any]) -> Callable[..., Any]:
        """moto's SQSBackend.receive_message, noting the queue of each message it dead-letters."""
        origins, lock = self._origins, self._lock

        def receive_message(backend: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
            queue = backend.queues.get(queue_name)
            dlq = None if queue is None else queue.dead_letter_queue
            if queue is None or dlq is None:
                return receive(backend, queue_name, *args, **kwargs)
            before = {id(m): m for m in queue._messages}
            received = receive(backend, queue_name, *args, **kwargs)
            with lock:
                for message in list(dlq._messages):
                    if before.get(id(message)) is message:
                        origins[message.id] = queue.queue_arn
            return received

        return receive_message


def message_move_tasks(
    *, clock: Clock | None = None, run_immediately: bool = True
) -> MessageMoveTasks:
    """A :class:`MessageMoveTasks` to enter inside an active ``mock_aws()``."""
    return MessageMoveTasks(clock=clock, run_immediately=run_immediately)
