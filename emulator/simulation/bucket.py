"""The simulated origin bucket's keys and the service's monthly spend, as the planner's ports
(``ObjectCountApi``, ``SpendApi``): what ListObjectsV2 and the BilledPaths metric would say."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cfinvalidator.knowledge import span
from emulator.simulation.settings import OCCUPYING_REFERENCE_PREFIX

if TYPE_CHECKING:  # the fake (and so moto) stays out of the handler benchmark's interpreter
    from emulator.local_aws.cloudfront import CreateInvalidationCall


class SimBucket:
    """The keys before the run (sorted once) plus those created and removed since."""

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._existing = sorted(set(existing))
        self._existing_set = frozenset(self._existing)
        self._added: set[str] = set()
        self._added_sorted: list[str] | None = []
        self._removed: set[str] = set()
        self.calls = 0  # ListObjectsV2 calls answered (1,000 keys a page)

    def created(self, key: str) -> None:
        self._removed.discard(key)
        if key not in self._existing_set and key not in self._added:
            self._added.add(key)
            self._added_sorted = None

    def removed(self, key: str) -> None:
        if key in self._added:
            self._added.discard(key)
            self._added_sorted = None
        elif key in self._existing_set:
            self._removed.add(key)

    def list_keys(self, prefix: str, stop_at: int) -> list[str]:
        """ListObjectsV2's keys (in key order), at most ``stop_at``; ``calls`` counts its
        pages."""
        if self._added_sorted is None:
            self._added_sorted = sorted(self._added)
        keys: list[str] = []
        for source in (self._existing, self._added_sorted):
            start, end = span(source, prefix)
            keys.extend(source[start : min(end, start + stop_at + len(self._removed))])
        keys = sorted(k for k in keys if k not in self._removed)[:stop_at]
        self.calls += max(1, -(-len(keys) // 1000))
        return keys


class SimSpend:
    """The service's billed paths since a moment, from the CloudFront fake's calls (the other
    tool's occupying invalidations are not the service's metric)."""

    def __init__(
        self, calls: Callable[[], Sequence[CreateInvalidationCall]], epoch: datetime
    ) -> None:
        self._calls = calls
        self._epoch = epoch  # the wall time of simulated second 0

    def billed_paths_since(self, start: datetime) -> int:
        since = (start - self._epoch).total_seconds()
        return sum(
            call.billed_paths
            for call in self._calls()
            if call.at >= since and not call.caller_reference.startswith(OCCUPYING_REFERENCE_PREFIX)
        )
