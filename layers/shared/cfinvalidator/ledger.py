"""What a distribution already has in progress or recently invalidated.

Built from ListInvalidations and GetInvalidation (read once per distribution per invocation). It
answers the two questions the planner asks before creating anything:

- how many file paths and wildcard paths are still free (3,000 and 15 in progress, minus those of
  invalidations still ``InProgress``);
- is this changed key already covered: has an invalidation whose paths cover it been created
  *after* the object changed? Then viewers get the new version once it completes, whoever asked
  for it (this service on an earlier delivery, another tool, a person in the console), and a
  redelivered record costs nothing.

"Created after" compares CloudFront's CreateTime with S3's eventTime, two AWS clocks: an
invalidation counts only if it was created at least COVERAGE_MARGIN after the change, so a small
skew between the clocks can never leave a key uncovered (the cost: a redelivery within that
second is requested again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cfinvalidator.collapse import Budget, count
from cfinvalidator.paths import is_wildcard
from cfinvalidator.quotas import MAX_IN_PROGRESS_FILES, MAX_IN_PROGRESS_WILDCARDS

COVERAGE_MARGIN = timedelta(seconds=1)


def is_in_progress(status: str) -> bool:
    """Anything but the exact "Completed" still holds quota, as far as the planner assumes."""
    return status != "Completed"


@dataclass(frozen=True, slots=True)
class KnownInvalidation:
    """One invalidation of the distribution, with its paths."""

    invalidation_id: str
    create_time: datetime
    status: str
    paths: tuple[str, ...]
    caller_reference: str = ""

    @property
    def in_progress(self) -> bool:
        return is_in_progress(self.status)


@dataclass(frozen=True, slots=True)
class DistributionState:
    busy_files: int = 0
    busy_wildcards: int = 0
    _exact: dict[str, KnownInvalidation] = field(default_factory=dict)  # path -> newest
    _wildcards: dict[str, KnownInvalidation] = field(default_factory=dict)  # prefix -> newest
    _prefix_lengths: tuple[int, ...] = ()  # distinct wildcard prefix lengths, for lookups
    # In-progress invalidations holding a wildcard, oldest first (the planner paces new ones).
    wildcards_in_progress: tuple[KnownInvalidation, ...] = ()

    @classmethod
    def of(
        cls, invalidations: Iterable[KnownInvalidation], *, unread_in_progress: int = 0
    ) -> DistributionState:
        """``unread_in_progress``: in-progress invalidations whose paths were not read; each is
        assumed to hold one file path (the least an invalidation can)."""
        busy_files, busy_wildcards = unread_in_progress, 0
        exact: dict[str, KnownInvalidation] = {}
        wildcards: dict[str, KnownInvalidation] = {}
        holding: list[KnownInvalidation] = []
        for invalidation in sorted(invalidations, key=lambda i: i.create_time):
            if invalidation.in_progress:
                files, wilds = count(invalidation.paths)
                busy_files += files
                busy_wildcards += wilds
                if wilds:
                    holding.append(invalidation)
            for path in invalidation.paths:
                if is_wildcard(path):
                    wildcards[path[:-1]] = invalidation  # sorted by time: the newest wins
                else:
                    exact[path] = invalidation
        lengths = tuple(sorted({len(prefix) for prefix in wildcards}))
        return cls(busy_files, busy_wildcards, exact, wildcards, lengths, tuple(holding))

    @property
    def covers_nothing(self) -> bool:
        """True when ``covering`` answers None for every path (no invalidation known)."""
        return not self._exact and not self._wildcards

    @property
    def budget(self) -> Budget:
        return Budget(
            files=max(0, MAX_IN_PROGRESS_FILES - self.busy_files),
            wildcards=max(0, MAX_IN_PROGRESS_WILDCARDS - self.busy_wildcards),
        )

    def covering(
        self, path: str, changed_at: datetime | None, margin: timedelta = COVERAGE_MARGIN
    ) -> KnownInvalidation | None:
        """An invalidation created at least ``margin`` after ``changed_at`` whose paths cover
        ``path``, if any.

        ``changed_at`` None (an event without a time) is never covered. A smaller ``margin`` is
        only for invalidations known to have been asked for after the change (cfinv's view of
        the service's own: they answer the change's event).
        """
        if changed_at is None:
            return None
        after = changed_at + margin
        found = self._exact.get(path)
        if found is not None and found.create_time >= after:
            return found
        probe = path[:-1] if is_wildcard(path) else path
        for length in self._prefix_lengths:
            if length > len(probe):
                break
            found = self._wildcards.get(probe[:length])
            if found is not None and found.create_time >= after:
                return found
        return None
