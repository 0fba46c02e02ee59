"""An in-memory standard SQS queue with a redrive policy, on the simulated clock."""

from __future__ import annotations

import heapq
import random
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from cfinvalidator.ports import DeadLetter, Deferral
from cfinvalidator.service import SqsMessage
from emulator.simulation.settings import (
    MAX_VISIBILITY_TIMEOUT,
    RECORD_OVERHEAD_BYTES,
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

    # ------------------------------------------------------------------------- the SQS API
    def send(self, body: str, *, delay_seconds: float = 0.0) -> str:
        """SendMessage: a new message ID; visible now, or after ``delay_seconds``."""
        now = self._clock()
        message_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        # The body as a JSON string inside Lambda's event: quotes and backslashes are escaped.
        escaped = len(body) + body.count('"') + body.count("\\")
        message = _Message(message_id, body, escaped + RECORD_OVERHEAD_BYTES)
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
