"""A manually advanced clock for deterministic tests and benchmarks of time-dependent fakes."""

from __future__ import annotations

import threading


class ManualClock:
    """A monotonic clock that only moves when told to; callable like `time.monotonic`.

    Thread-safe, because moto runs Step Functions executions in background threads.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (never backwards) and return the new time."""
        if seconds < 0:
            msg = f"a monotonic clock cannot go backwards (advance by {seconds})"
            raise ValueError(msg)
        with self._lock:
            self._now += seconds
            return self._now
