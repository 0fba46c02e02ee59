"""What a distribution already has in progress or recently invalidated.

Built from ListInvalidations and GetInvalidation (read once per distribution per invocation). It
answers the two questions the planner asks before creating anything:

- how many file paths and wildcard paths are still free (3,000 and 15 in progress, minus those of
  invalidations still ``InProgress``);
- is this changed key already covered: has an invalidation whose paths cover it been created
  *after* the object changed? Then viewers get the new version once it completes, whoever asked
  for it (this service on an earlier delivery, another tool, a person in the console), and a
  redelivered record costs nothing.

"Created after" compares CloudFront's CreateTime with S3's eventTime: both are AWS clocks. An
invalidation created at or before the change does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cfinvalidator.collapse import MAX_IN_PROGRESS_FILES, MAX_IN_PROGRESS_WILDCARDS, Budget, count
from cfinvalidator.paths import is_wildcard

IN_PROGRESS = "InProgress"


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
        # Anything but the exact "Completed" still holds quota, as far as the planner assumes.
        return self.status != "Completed"


@dataclass(frozen=True, slots=True)
class DistributionState:
    busy_files: int = 0
    busy_wildcards: int = 0
    _exact: dict[str, KnownInvalidation] = field(default_factory=dict)  # path -> newest
    _wildcards: tuple[tuple[str, KnownInvalidation], ...] = ()  # (prefix, invalidation)
    invalidation_ids: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, invalidations: Iterable[KnownInvalidation], *, unread_in_progress: int = 0
    ) -> DistributionState:
        """``unread_in_progress``: in-progress invalidations whose paths were not read; each is
        assumed to hold one file path (the least an invalidation can)."""
        busy_files, busy_wildcards = unread_in_progress, 0
        exact: dict[str, KnownInvalidation] = {}
        wildcards: list[tuple[str, KnownInvalidation]] = []
        for invalidation in sorted(invalidations, key=lambda i: i.create_time):
            if invalidation.in_progress:
                files, wilds = count(invalidation.paths)
                busy_files += files
                busy_wildcards += wilds
            for path in invalidation.paths:
                if is_wildcard(path):
                    wildcards.append((path[:-1], invalidation))
                else:
                    exact[path] = invalidation  # sorted by time: the newest wins
        ids = frozenset(i.invalidation_id for i in exact.values()) | frozenset(
            i.invalidation_id for _, i in wildcards
        )
        return cls(busy_files, busy_wildcards, exact, tuple(wildcards), ids)

    @property
    def budget(self) -> Budget:
        return Budget(
            files=max(0, MAX_IN_PROGRESS_FILES - self.busy_files),
            wildcards=max(0, MAX_IN_PROGRESS_WILDCARDS - self.busy_wildcards),
        )

    def covering(self, path: str, changed_at: datetime | None) -> KnownInvalidation | None:
        """An invalidation created after ``changed_at`` whose paths cover ``path``, if any.

        ``changed_at`` None (an event without a time) is never covered.
        """
        if changed_at is None:
            return None
        found = self._exact.get(path)
        if found is not None and found.create_time > changed_at:
            return found
        probe = path[:-1] if is_wildcard(path) else path
        for prefix, invalidation in reversed(self._wildcards):
            if invalidation.create_time > changed_at and probe.startswith(prefix):
                return invalidation
        return None
