"""The completion tracker and the notification topic of the simulation, on its clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cfinvalidator.errors import NotificationError, TrackingError
from emulator.simulation.settings import TrackerStatus


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

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
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
