"""A faithful CloudFront invalidation API layered over moto's CloudFront backend.

moto 5.2's CloudFront differs from AWS in ways this project depends on (see
docs/aws-behaviour.md#where-moto-differs): an invalidation is `COMPLETED` at once (AWS:
`InProgress`, then `Completed`), CallerReference is not deduplicated, and there are no
in-progress quotas, throttling or 5xx. `FaithfulCloudFront` patches the three invalidation
operations on the moto *backend instance* (not on a boto3 client), so every caller sees the same
behaviour: boto3 clients in tests and Lambda handlers, and the boto3 client moto's Step
Functions interpreter builds in-process for `arn:aws:states:::aws-sdk:cloudfront:getInvalidation`.

Install it inside an active `mock_aws()`: moto resets its backends when a mock starts and stops,
which drops the patch with the backend.

Behaviour (AWS, unless marked UNCONFIRMED, in which case the assumption is stated):
- `Status` is `InProgress` until `completion_seconds` after creation by the injected clock, then
  `Completed`, in CreateInvalidation, GetInvalidation and ListInvalidations alike.
- `CreateTime`: with `wall_clock` given, every invalidation the fake creates is stamped with its
  reading, a timezone-aware datetime (converted to UTC; a naive one is refused with `ValueError`)
  or epoch seconds. CreateInvalidation, GetInvalidation and ListInvalidations all return that
  instant, which boto3 parses as an aware UTC datetime. Without `wall_clock`, moto's real-time
  stamp is kept. Either way it is stored as moto stores it: a naive datetime in UTC.
- ListInvalidations returns the distribution's invalidations newest first (by `CreateTime`;
  equal times in reverse order of creation), `MaxItems` (default 100) per page. While more
  remain, `IsTruncated` is true and `NextMarker` is the Id of the page's last invalidation;
  passing it back as `Marker` returns the next page. Invalidations created before the fake was
  installed are listed too, as `Completed`. UNCONFIRMED: a `Marker` that is not the Id of one of
  the distribution's invalidations, or a `MaxItems` below 1, fails with `InvalidArgument` (400).
- Per distribution at most 3,000 file paths and, separately, 15 wildcard paths (ending in `*`)
  may be in progress; exceeding either fails with `TooManyInvalidationsInProgress` (400).
  UNCONFIRMED: a single request with more than 15 wildcards gets the same error.
- A single request with more than 3,000 paths fails with `BatchTooLarge` (413).
- A path must start with `/` and be at most 4,000 characters, and a batch needs one path,
  else `InvalidArgument` (400).
- Same CallerReference and same paths returns the earlier invalidation: no new invalidation, no
  quota use, nothing billed. UNCONFIRMED: the comparison is order-sensitive (the stricter reading
  of "the content of the InvalidationBatch is different"). Same reference with other paths fails
  with `InvalidationBatchAlreadyExists` (documented; status 409 assumed, UNCONFIRMED) or, with
  `conflict_error_code="InvalidArgument"`, as AWS is reported to answer in practice.
- Injected and rate-limited errors are proper CloudFront XML error responses, so boto3 raises a
  `ClientError` with the right `Code` and HTTP status, and Step Functions sees the same error
  (the error responses live in emulator.local_aws.cloudfront_errors).

One piece, though over 400 lines: the three patched operations share one lock and one record of
invalidations, and statuses, quotas, rate limits and listing must all be read from that record
at the same clock reading; split apart, each part would need the others' internals.

The numbers here (3,000, 15, 4,000, 100) are AWS's, kept apart from cfinvalidator.quotas on
purpose: a double must not agree with the code under test by construction
(tests/emulator/test_memory_contract.py checks that they agree).
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Literal, Self

from moto.cloudfront.exceptions import NoSuchDistribution
from moto.cloudfront.models import CloudFrontBackend, Invalidation, cloudfront_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from emulator.local_aws.clock import Clock, SystemClock
from emulator.local_aws.cloudfront_errors import CloudFrontError

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "MAX_IN_PROGRESS_FILES",
    "MAX_IN_PROGRESS_WILDCARDS",
    "MAX_PATH_LENGTH",
    "CreateInvalidationCall",
    "FaithfulCloudFront",
    "Operation",
    "Outcome",
    "is_wildcard",
]

Operation = Literal["CreateInvalidation", "GetInvalidation", "ListInvalidations"]
Outcome = Literal["created", "duplicate", "rejected"]

MAX_IN_PROGRESS_FILES: Final = 3000
MAX_IN_PROGRESS_WILDCARDS: Final = 15
MAX_PATH_LENGTH: Final = 4000
DEFAULT_MAX_ITEMS: Final = 100
IN_PROGRESS: Final = "InProgress"
COMPLETED: Final = "Completed"


@dataclass(frozen=True, slots=True)
class CreateInvalidationCall:
    """One CreateInvalidation request as the fake saw it."""

    at: float
    distribution_id: str
    paths: tuple[str, ...]
    caller_reference: str
    outcome: Outcome
    invalidation_id: str | None = None
    error_code: str | None = None

    @property
    def billed_paths(self) -> int:
        """Paths this call added to the bill: all of a new invalidation's, none otherwise."""
        return len(self.paths) if self.outcome == "created" else 0


def is_wildcard(path: str) -> bool:
    """`*` is a wildcard only as the last character of a path."""
    return path.endswith("*")


@dataclass(slots=True)
class _Tracked:
    invalidation: Invalidation
    distribution_id: str
    paths: tuple[str, ...]
    created_at: float
    completes_at: float
    files: int
    wildcards: int


@dataclass(slots=True)
class _Load:
    """One distribution's in-progress paths, kept incrementally: a heap of the invalidations
    not yet seen completed and their totals, valid for clock readings at or after ``as_of``
    (a clock that steps back makes the load rebuilt from every invalidation)."""

    live: list[tuple[float, int, int, int]]  # (completes_at, sequence, files, wildcards)
    files: int = 0
    wildcards: int = 0
    as_of: float = float("-inf")


@dataclass(slots=True)
class _Injection:
    error_code: str
    status: int | None
    message: str | None
    remaining: int


@dataclass(slots=True)
class _RateLimit:
    calls: int
    within_seconds: float
    accepted_at: deque[float]


class FaithfulCloudFront:
    """CloudFront invalidation behaviour as AWS documents it, patched into moto's backend.

    Use as a context manager inside an active `mock_aws()`; everything is deterministic given
    `clock` (and `completion_seconds`, if it is a sampler) and `wall_clock`.

    `clock` (the local AWS's one clock, emulator.local_aws.clock; real time if not given) drives
    statuses, quotas and rate limits; `wall_clock`, if given, stamps `CreateTime` with an aware
    datetime or epoch seconds, e.g. `wall_clock=clock.wall` to keep both on one manual clock.
    """

    _PATCHED: Final = ("create_invalidation", "get_invalidation", "list_invalidations")

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        completion_seconds: float | Callable[[], float] = 20.0,
        max_in_progress_files: int = MAX_IN_PROGRESS_FILES,
        max_in_progress_wildcards: int = MAX_IN_PROGRESS_WILDCARDS,
        max_paths_per_request: int = MAX_IN_PROGRESS_FILES,
        conflict_error_code: Literal[
            "InvalidationBatchAlreadyExists", "InvalidArgument"
        ] = "InvalidationBatchAlreadyExists",
        account_id: str = DEFAULT_ACCOUNT_ID,
        wall_clock: Callable[[], datetime | float] | None = None,
    ) -> None:
        self._clock: Callable[[], float] = clock or SystemClock()
        self._wall_clock = wall_clock
        self._completion_seconds = completion_seconds
        self._max_files = max_in_progress_files
        self._max_wildcards = max_in_progress_wildcards
        self._max_paths_per_request = max_paths_per_request
        self._conflict_error_code = conflict_error_code
        self._account_id = account_id
        self._lock = threading.RLock()
        self._tracked: dict[str, _Tracked] = {}
        self._loads: dict[str, _Load] = {}
        # Invalidations whose moto status still says InProgress: (completes_at, sequence, id).
        self._pending: list[tuple[float, int, str]] = []
        self._statuses_as_of = float("-inf")
        self._by_reference: dict[tuple[str, str], _Tracked] = {}
        self._injections: dict[Operation, deque[_Injection]] = {
            "CreateInvalidation": deque(),
            "GetInvalidation": deque(),
            "ListInvalidations": deque(),
        }
        self._rate_limits: dict[Operation, _RateLimit] = {}
        self._backend: CloudFrontBackend | None = None
        self._original: dict[str, Callable[..., Any]] = {}
        self.calls: list[CreateInvalidationCall] = []
        """Every CreateInvalidation request, in order, with its outcome."""

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
        """Patch the invalidation operations of the account's (global) CloudFront backend."""
        if self._backend is not None:
            msg = "FaithfulCloudFront is already installed"
            raise RuntimeError(msg)
        backend: CloudFrontBackend = cloudfront_backends[self._account_id]["global"]
        self._original = {name: getattr(backend, name) for name in self._PATCHED}
        backend.create_invalidation = self._create_invalidation  # type: ignore[method-assign]
        backend.get_invalidation = self._get_invalidation  # type: ignore[method-assign]
        backend.list_invalidations = self._list_invalidations  # type: ignore[method-assign,assignment]
        self._backend = backend
        with self._lock:
            self._rewrite_statuses(backend, self._clock())
            self._statuses_as_of = self._clock()

    def uninstall(self) -> None:
        """Restore moto's own methods (a no-op if moto already reset the backend)."""
        backend, self._backend = self._backend, None
        if backend is None:
            return
        for name in self._PATCHED:
            backend.__dict__.pop(name, None)

    # ------------------------------------------------------------------------ test controls
    def inject(
        self,
        operation: Operation,
        error_code: str,
        times: int = 1,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        """Fail the next `times` calls of `operation` with `error_code`.

        `status` and `message` default to AWS's for the code (see `DEFAULT_ERRORS`), e.g.
        `Throttling` -> 400 "Rate exceeded", `ServiceUnavailable` -> 503. Injections queue up
        in order. A boto3 client retries Throttling and 5xx itself unless configured not to.
        """
        if operation not in self._injections:
            msg = f"unknown operation {operation!r}"
            raise ValueError(msg)
        if times < 1:
            msg = f"times must be at least 1, got {times}"
            raise ValueError(msg)
        with self._lock:
            self._injections[operation].append(_Injection(error_code, status, message, times))

    def throttle_after(
        self,
        calls: int,
        within_seconds: float,
        operation: Operation = "CreateInvalidation",
    ) -> None:
        """Answer `Throttling: Rate exceeded` once `calls` calls were accepted within the window.

        The window slides on the injected clock; throttled calls do not count toward it.
        """
        if calls < 1 or within_seconds <= 0:
            msg = f"need calls >= 1 and within_seconds > 0, got {calls}, {within_seconds}"
            raise ValueError(msg)
        with self._lock:
            self._rate_limits[operation] = _RateLimit(calls, within_seconds, deque())

    def in_progress(self, distribution_id: str) -> tuple[int, int]:
        """(file paths, wildcard paths) of the distribution's invalidations still in progress."""
        with self._lock:
            now = self._clock()
            load = self._loads.get(distribution_id)
            if load is None:
                return 0, 0
            if now < load.as_of:
                load = self._loads[distribution_id] = self._rebuilt_load(distribution_id, now)
            live = load.live
            while live and live[0][0] <= now:
                _, _, files, wildcards = heapq.heappop(live)
                load.files -= files
                load.wildcards -= wildcards
            load.as_of = now
            return load.files, load.wildcards

    def status(self, invalidation_id: str) -> str:
        """`InProgress` or `Completed` for an invalidation created through the fake."""
        with self._lock:
            tracked = self._tracked[invalidation_id]
            return COMPLETED if self._clock() >= tracked.completes_at else IN_PROGRESS

    def completes_at(self, invalidation_id: str) -> float:
        """The clock reading at which an invalidation created through the fake turns `Completed`.

        Raises KeyError for an invalidation the fake did not create.
        """
        with self._lock:
            return self._tracked[invalidation_id].completes_at

    @property
    def completion_seconds(self) -> float | Callable[[], float]:
        """Seconds from creation to `Completed`, or a sampler called once per new invalidation."""
        return self._completion_seconds

    @completion_seconds.setter
    def completion_seconds(self, value: float | Callable[[], float]) -> None:
        """Applies to invalidations created from now on."""
        with self._lock:
            self._completion_seconds = value

    @property
    def billed_paths(self) -> int:
        """Paths of every new invalidation (duplicates and rejected requests are free)."""
        with self._lock:
            return sum(call.billed_paths for call in self.calls)

    def billed_paths_for(self, distribution_id: str) -> int:
        """`billed_paths`, for one distribution."""
        with self._lock:
            return sum(c.billed_paths for c in self.calls if c.distribution_id == distribution_id)

    @property
    def invalidation_count(self) -> int:
        """How many new invalidations were created (what a CloudFront console would list)."""
        with self._lock:
            return len(self._tracked)

    def create_directly(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> str:
        """CreateInvalidation without the round trip through botocore and moto's response
        layer: the same checks, quotas, call record and errors (`CloudFrontError`, or moto's
        `NoSuchDistribution`). Returns the invalidation's ID. For callers that make hundreds of
        thousands of requests, such as the benchmark's one-invalidation-per-object strategy.
        """
        return self._create_invalidation(distribution_id, list(paths), caller_reference).id

    # --------------------------------------------------------------------- patched backend
    def _create_invalidation(
        self, dist_id: str, paths: Sequence[str] | None, caller_ref: str
    ) -> Invalidation:
        batch = tuple(paths or ())
        with self._lock:
            now = self._clock()
            try:
                self._gate("CreateInvalidation", now)
                self._require_distribution(dist_id)
                tracked = self._create_or_replay(dist_id, batch, caller_ref, now)
            except (CloudFrontError, NoSuchDistribution) as error:
                code = error.error_code if isinstance(error, CloudFrontError) else error.code
                self._record(now, dist_id, batch, caller_ref, "rejected", error_code=code)
                raise
            return tracked.invalidation

    def _create_or_replay(
        self, dist_id: str, batch: tuple[str, ...], caller_ref: str, now: float
    ) -> _Tracked:
        self._validate(batch)
        earlier = self._by_reference.get((dist_id, caller_ref))
        if earlier is not None:
            if earlier.paths != batch:
                raise CloudFrontError(self._conflict_error_code)
            self._refresh_statuses()
            self._record(now, dist_id, batch, caller_ref, "duplicate", earlier.invalidation.id)
            return earlier
        if len(batch) > self._max_paths_per_request:
            raise CloudFrontError("BatchTooLarge")
        wildcards = sum(1 for path in batch if is_wildcard(path))
        files = len(batch) - wildcards
        busy_files, busy_wildcards = self.in_progress(dist_id)
        if busy_files + files > self._max_files or busy_wildcards + wildcards > self._max_wildcards:
            raise CloudFrontError("TooManyInvalidationsInProgress")
        created_at = self._wall_time()
        invalidation = self._original["create_invalidation"](dist_id, list(batch), caller_ref)
        if created_at is not None:
            # moto's convention (and its serialiser's reading of it): a naive datetime in UTC.
            invalidation.create_time = created_at.replace(tzinfo=None)
        tracked = _Tracked(
            invalidation=invalidation,
            distribution_id=dist_id,
            paths=batch,
            created_at=now,
            completes_at=now + self._sample_completion_seconds(),
            files=files,
            wildcards=wildcards,
        )
        self._tracked[invalidation.id] = tracked
        self._by_reference[(dist_id, caller_ref)] = tracked
        sequence = len(self._tracked)
        load = self._loads.setdefault(dist_id, _Load([]))
        heapq.heappush(load.live, (tracked.completes_at, sequence, files, wildcards))
        load.files += files
        load.wildcards += wildcards
        heapq.heappush(self._pending, (tracked.completes_at, sequence, invalidation.id))
        invalidation.status = IN_PROGRESS
        self._refresh_statuses()
        self._record(now, dist_id, batch, caller_ref, "created", invalidation.id)
        return tracked

    def _get_invalidation(self, dist_id: str, id: str) -> Invalidation:
        with self._lock:
            self._gate("GetInvalidation", self._clock())
            self._refresh_statuses()
            tracked = self._tracked.get(id)
            if tracked is not None and tracked.distribution_id == dist_id:
                return tracked.invalidation  # moto's own lookup scans every invalidation
            invalidation: Invalidation = self._original["get_invalidation"](dist_id, id)
            return invalidation

    def _list_invalidations(
        self, dist_id: str, marker: str | None = None, max_items: int | None = None
    ) -> tuple[list[Invalidation], str | None]:
        """One page, newest first, as moto's response layer expects: (items, next marker)."""
        with self._lock:
            self._gate("ListInvalidations", self._clock())
            self._require_distribution(dist_id)
            limit = DEFAULT_MAX_ITEMS if max_items is None else max_items
            if limit < 1:
                raise CloudFrontError("InvalidArgument", "MaxItems must be at least 1.")
            self._refresh_statuses()
            newest_first = self._newest_first(dist_id)
            start = 0
            if marker:
                ids = [invalidation.id for invalidation in newest_first]
                if marker not in ids:
                    raise CloudFrontError("InvalidArgument", "The marker is not valid.")
                start = ids.index(marker) + 1
            page = newest_first[start : start + limit]
            truncated = start + limit < len(newest_first)
            return page, page[-1].id if truncated else None

    # ---------------------------------------------------------------------------- helpers
    def _gate(self, operation: Operation, now: float) -> None:
        """Raise an injected error or a rate-limit error for this call, if one is due."""
        queue = self._injections[operation]
        if queue:
            injection = queue[0]
            injection.remaining -= 1
            if injection.remaining == 0:
                queue.popleft()
            raise CloudFrontError(injection.error_code, injection.message, injection.status)
        limit = self._rate_limits.get(operation)
        if limit is None:
            return
        while limit.accepted_at and now - limit.accepted_at[0] >= limit.within_seconds:
            limit.accepted_at.popleft()
        if len(limit.accepted_at) >= limit.calls:
            raise CloudFrontError("Throttling")
        limit.accepted_at.append(now)

    def _require_distribution(self, dist_id: str) -> None:
        backend = self._backend
        if backend is None or dist_id not in backend.distributions:
            raise NoSuchDistribution

    def _validate(self, batch: tuple[str, ...]) -> None:
        if not batch:
            raise CloudFrontError("InvalidArgument", "An invalidation needs at least one path.")
        for path in batch:
            if not path.startswith("/") or len(path) > MAX_PATH_LENGTH:
                raise CloudFrontError("InvalidArgument")

    def _newest_first(self, dist_id: str) -> list[Invalidation]:
        """The distribution's invalidations by CreateTime, newest first; ties: latest created."""
        backend = self._backend
        invalidations = [] if backend is None else backend.invalidations.get(dist_id) or []
        ordered = sorted(
            enumerate(invalidations),
            key=lambda pair: (_as_utc(pair[1].create_time), pair[0]),
            reverse=True,
        )
        return [invalidation for _, invalidation in ordered]

    def _wall_time(self) -> datetime | None:
        """The wall clock's reading as an aware UTC datetime, or None to keep moto's stamp."""
        if self._wall_clock is None:
            return None
        reading = self._wall_clock()
        if not isinstance(reading, datetime):
            return datetime.fromtimestamp(reading, UTC)
        if reading.utcoffset() is None:
            msg = f"wall_clock must return timezone-aware datetimes, got {reading!r}"
            raise ValueError(msg)
        return reading.astimezone(UTC)

    def _sample_completion_seconds(self) -> float:
        seconds = self._completion_seconds
        return float(seconds()) if callable(seconds) else float(seconds)

    def _refresh_statuses(self) -> None:
        """Write the clock-derived status into every invalidation moto will serialise.

        Invalidations created before the fake was installed count as long completed. Only
        invalidations still marked InProgress are visited, unless the clock stepped back.
        """
        backend = self._backend
        if backend is None:
            return
        now = self._clock()
        if now < self._statuses_as_of:
            self._rewrite_statuses(backend, now)
        pending = self._pending
        while pending and pending[0][0] <= now:
            _, _, invalidation_id = heapq.heappop(pending)
            self._tracked[invalidation_id].invalidation.status = COMPLETED
        self._statuses_as_of = now

    def _rewrite_statuses(self, backend: CloudFrontBackend, now: float) -> None:
        """Every invalidation's status from scratch (at install, or when the clock goes back)."""
        pending: list[tuple[float, int, str]] = []
        for invalidations in backend.invalidations.values():
            for invalidation in invalidations:
                tracked = self._tracked.get(invalidation.id)
                done = tracked is None or now >= tracked.completes_at
                invalidation.status = COMPLETED if done else IN_PROGRESS
                if tracked is not None and not done:
                    pending.append((tracked.completes_at, len(pending), invalidation.id))
        heapq.heapify(pending)
        self._pending = pending

    def _rebuilt_load(self, distribution_id: str, now: float) -> _Load:
        load = _Load([], as_of=now)
        for sequence, tracked in enumerate(self._tracked.values()):
            if tracked.distribution_id == distribution_id and now < tracked.completes_at:
                load.live.append((tracked.completes_at, sequence, tracked.files, tracked.wildcards))
                load.files += tracked.files
                load.wildcards += tracked.wildcards
        heapq.heapify(load.live)
        return load

    def _record(
        self,
        now: float,
        dist_id: str,
        batch: tuple[str, ...],
        caller_ref: str,
        outcome: Outcome,
        invalidation_id: str | None = None,
        error_code: str | None = None,
    ) -> None:
        self.calls.append(
            CreateInvalidationCall(
                at=now,
                distribution_id=dist_id,
                paths=batch,
                caller_reference=caller_ref,
                outcome=outcome,
                invalidation_id=invalidation_id,
                error_code=error_code,
            )
        )


def _as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is read as UTC, as moto and botocore read it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
