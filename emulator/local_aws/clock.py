"""The one clock of the local AWS: monotonic seconds, a wall-clock reading, and ``sleep``.

Everything time-dependent here (the faithful CloudFront's statuses, quotas and rate limits, the
event-source poller's batching window, a Lambda context's remaining time, the simulation's event
loop) takes a :class:`Clock`. Two kinds exist:

- :class:`SystemClock`: real time, the default, for the demo. (moto's Step Functions executions
  wait in real time whatever clock the fakes read; tests give the fakes a ManualClock anyway and
  move it when the state machine has polled, so they pass at any machine speed.)
- :class:`ManualClock`: time moves only when told to (``advance``, ``set``, ``sleep``), for
  deterministic tests and the simulation. Actions scheduled with ``at`` run when the clock
  reaches them, so a test can say "at second 7 a message arrives" while the code under test
  sleeps.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

__all__ = ["EPOCH", "Clock", "ManualClock", "SystemClock"]

EPOCH: Final = datetime(2026, 11, 21, tzinfo=UTC)
"""A manual clock's second 0 on the wall clock, unless it is given another."""


class Clock(Protocol):
    """Monotonic seconds when called; ``wall()`` is the same instant as an aware UTC time."""

    def __call__(self) -> float:
        """Monotonic seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        ...

    def wall(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        ...


class SystemClock:
    """Real time: ``time.monotonic``, ``time.sleep`` and ``datetime.now(UTC)``."""

    def __call__(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wall(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; ``wall()`` is ``epoch`` plus its reading.

    Thread-safe, because moto runs Step Functions executions in background threads. ``advance``
    and ``sleep`` only move forward; ``set`` may also step back, which the simulation's event
    loop does after a handler slept (see emulator.simulation.engine). Scheduled actions run
    outside the lock, in time order, when ``advance``, ``sleep`` or ``set`` reaches them.
    """

    def __init__(self, start: float = 0.0, *, epoch: datetime = EPOCH) -> None:
        self._now = start
        self._epoch = epoch
        self._lock = threading.Lock()
        self._scheduled: list[tuple[float, int, Callable[[], object]]] = []
        self._sequence = 0

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> datetime:
        return self._epoch + timedelta(seconds=self())

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            msg = f"a monotonic clock cannot go backwards (advance by {seconds})"
            raise ValueError(msg)
        with self._lock:
            self._now += seconds
            now = self._now
        self._run_due(now)
        return now

    def sleep(self, seconds: float) -> None:
        """``advance`` by ``seconds``: code that sleeps on this clock moves it."""
        if seconds < 0:
            msg = f"cannot sleep {seconds} s"
            raise ValueError(msg)
        self.advance(seconds)

    def set(self, moment: float) -> None:
        """Move the clock to ``moment``, forward or back."""
        with self._lock:
            self._now = moment
        self._run_due(moment)

    def at(self, moment: float, action: Callable[[], object]) -> None:
        """Run ``action()`` once the clock reaches ``moment``."""
        with self._lock:
            self._sequence += 1
            heapq.heappush(self._scheduled, (moment, self._sequence, action))

    def _run_due(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._scheduled or self._scheduled[0][0] > now:
                    return
                _, _, action = heapq.heappop(self._scheduled)
            action()
