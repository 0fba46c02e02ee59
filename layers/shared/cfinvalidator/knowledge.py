"""What the planner may know beyond the batch, read through ports and cached per environment.

- **The bucket**: how many objects a wildcard on a directory would invalidate. Counted from
  ListObjectsV2 listings of the key prefix each of the distribution's origins maps the
  directory to (or of a shallower one, which answers for all its subdirectories), at most
  :data:`COUNT_STOP_AT` keys a listing (more than that is "too many": such a directory is never
  collapsed for cost), at most :data:`LIST_CALLS_PER_BATCH` ListObjectsV2 calls an invocation
  (beyond them counts are unknown, and the threshold rule decides), each listing kept
  :data:`COUNT_TTL`.
- **The month**: billed paths spent since the first of the month (UTC), from the service's own
  BilledPaths metric, re-read every :data:`SPEND_TTL`; paths billed by this environment since
  the last reading are added, so a burst within those minutes does not overspend.

Neither is ever needed: a read that fails is logged by the caller and done without (the
planner falls back to the threshold rule), so knowledge can never delay or fail a record.
Nothing here calls AWS itself: the ports do, and the clock is passed in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cfinvalidator.collapse import MANY, Knowledge
from cfinvalidator.errors import KnowledgeError
from cfinvalidator.origins import KeyMapping
from cfinvalidator.paths import decode_path
from cfinvalidator.ports import ObjectCountApi, SpendApi

COUNT_STOP_AT = 10_000  # ten ListObjectsV2 pages at most per prefix
LIST_CALLS_PER_BATCH = 100  # about 2-3 s of calls in the worst case
LISTING_RESERVE_SECONDS = 30.0  # no new listing with less of the invocation left
KEPT_KEYS = 200_000  # keys of listings kept across invocations (some 20 MB at most)
_PAGE = 1000  # keys a ListObjectsV2 page holds
COUNT_TTL = timedelta(minutes=10)
DENIED_PAUSE = timedelta(minutes=10)  # after AccessDenied, ask again only this much later
SPEND_TTL = timedelta(minutes=5)

OnError = Callable[[str, KnowledgeError], None]
"""Told what could not be read (``"object count"``, ``"billed paths"``) and why."""


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s calendar month (CloudFront bills by calendar month; the
    caller passes UTC)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def key_prefixes(directory: str, origin_dirs: Sequence[str]) -> tuple[str, ...] | None:
    """The S3 key prefixes a wildcard on the viewer ``directory`` (``/a/b/``, encoded) reaches
    through origins whose paths are ``origin_dirs`` (``""`` or ``site/``); None if the
    directory does not decode."""
    try:
        relative = decode_path(directory[1:])
    except UnicodeDecodeError:
        return None
    return tuple(dict.fromkeys(origin + relative for origin in origin_dirs))


# ------------------------------------------------------------------------------ the bucket
@dataclass(slots=True)
class _Listing:
    prefix: str
    keys: list[str] | None  # sorted; None: more than COUNT_STOP_AT keys (too many to count)
    read_at: datetime


def _ancestors(prefix: str, floor: str) -> list[str]:
    """``floor``, each directory between it and ``prefix``, and ``prefix``, shallowest first."""
    if not prefix.startswith(floor):
        floor = ""
    found = [floor]
    position = len(floor)
    while (cut := prefix.find("/", position)) >= 0:
        found.append(prefix[: cut + 1])
        position = cut + 1
    if found[-1] != prefix:
        found.append(prefix)
    return list(dict.fromkeys(found))


def span(keys: Sequence[str], prefix: str) -> tuple[int, int]:
    """Where the sorted ``keys`` that start with ``prefix`` begin and end."""
    start = bisect.bisect_left(keys, prefix)
    # Every key starting with ``prefix`` sorts before ``prefix`` + the highest code point.
    end = bisect.bisect_left(keys, prefix + "\U0010ffff", lo=start) if prefix else len(keys)
    return start, end


def _how_many(keys: list[str], prefix: str) -> int:
    start, end = span(keys, prefix)
    return end - start


def _holds(keys: list[str], key: str) -> bool:
    index = bisect.bisect_left(keys, key)
    return index < len(keys) and keys[index] == key


@dataclass
class ObjectCounts:
    """Listings of key prefixes, kept for the life of the execution environment.

    A count is answered from the shallowest listing that holds the whole prefix: one listing
    of ``blog/`` (4,000 keys, four calls) answers every directory under it, where counting each
    of a deploy's thousand post directories would take a thousand calls. A prefix holding more
    than :data:`COUNT_STOP_AT` keys is remembered as too many, and its subdirectories are
    listed instead.
    """

    _listings: dict[str, _Listing] = field(default_factory=dict)
    _denied_at: datetime | None = None
    _kept_keys: int = 0

    def for_batch(
        self,
        api: ObjectCountApi,
        now: datetime,
        on_error: OnError,
        remaining_seconds: Callable[[], float] = lambda: float("inf"),
        changed_keys: Iterable[str] = (),
    ) -> Callable[[str, str], int | None]:
        """A lookup for one invocation, ``(key prefix, floor) -> unchanged objects``: the
        listing's keys under the prefix, less the batch's ``changed_keys`` it holds (a key
        deleted, or uploaded after the listing was read, is in one and not the other).
        Listings start at ``floor`` (the shallowest prefix the batcher may list) and go down to
        the prefix; new listings take at most :data:`LIST_CALLS_PER_BATCH` calls in all, and
        none once less than :data:`LISTING_RESERVE_SECONDS` of the invocation is left; None
        when unknown."""
        return _BatchLookup(self, api, now, on_error, remaining_seconds, changed_keys)

    def cached(self, prefix: str, now: datetime) -> _Listing | None:
        listing = self._listings.get(prefix)
        return listing if listing is not None and now - listing.read_at < COUNT_TTL else None

    def denied(self, now: datetime) -> bool:
        return self._denied_at is not None and now - self._denied_at < DENIED_PAUSE

    def deny(self, now: datetime) -> None:
        """AccessDenied: no listing is tried again for :data:`DENIED_PAUSE`."""
        self._denied_at = now

    def keep(self, prefix: str, listing: _Listing) -> None:
        """Keep ``listing``; the oldest listings go once :data:`KEPT_KEYS` keys are kept."""
        old = self._listings.pop(prefix, None)
        if old is not None and old.keys is not None:
            self._kept_keys -= len(old.keys)
        self._listings[prefix] = listing
        self._kept_keys += len(listing.keys or ())
        while self._kept_keys > KEPT_KEYS and len(self._listings) > 1:
            oldest = next(iter(self._listings))
            dropped = self._listings.pop(oldest)
            self._kept_keys -= len(dropped.keys or ())


class _BatchLookup:
    """``ObjectCounts.for_batch``: one invocation's lookups and the calls they have left."""

    def __init__(
        self,
        counts: ObjectCounts,
        api: ObjectCountApi,
        now: datetime,
        on_error: OnError,
        remaining_seconds: Callable[[], float],
        changed_keys: Iterable[str],
    ) -> None:
        self._counts, self._api, self._now, self._on_error = counts, api, now, on_error
        self._remaining = remaining_seconds
        self._left = LIST_CALLS_PER_BATCH
        self._changed = sorted(set(changed_keys))
        self._present: dict[str, list[str]] = {}  # listing prefix -> changed keys it holds
        # Directory -> the complete listing that answered for a prefix directly under it: a
        # deploy's thousand sibling directories walk their ancestors once, not a thousand times.
        self._answering: dict[str, _Listing] = {}

    def __call__(self, prefix: str, floor: str) -> int | None:
        parent = prefix[: prefix.rfind("/", 0, len(prefix) - 1) + 1]
        known = self._answering.get(parent)
        if known is not None:
            return self._unchanged(known, prefix)
        for ancestor in _ancestors(prefix, floor):
            listing = self._listed(ancestor)
            if listing is None:
                return None
            if listing.keys is not None:
                if len(ancestor) <= len(parent):
                    self._answering[parent] = listing
                return self._unchanged(listing, prefix)
        return MANY  # even the prefix itself holds too many

    def _unchanged(self, listing: _Listing, prefix: str) -> int:
        keys = listing.keys or []
        present = self._present.get(listing.prefix)
        if present is None:
            start, end = span(self._changed, listing.prefix)
            present = [key for key in self._changed[start:end] if _holds(keys, key)]
            self._present[listing.prefix] = present
        return _how_many(keys, prefix) - _how_many(present, prefix)

    def _listed(self, prefix: str) -> _Listing | None:
        counts, now = self._counts, self._now
        cached = counts.cached(prefix, now)
        if cached is not None:
            return cached
        if self._left <= 0 or counts.denied(now):
            return None
        if self._remaining() < LISTING_RESERVE_SECONDS:
            self._left = 0  # the records need the time more than the counts
            return None
        stop_at = min(COUNT_STOP_AT, self._left * _PAGE)  # the calls left bound the pages
        try:
            keys = self._api.list_keys(prefix, stop_at)
        except KnowledgeError as error:
            if error.code in {"AccessDenied", "AllAccessDisabled"}:
                counts.deny(now)
            else:
                self._left = 0  # throttled or unreachable: no more calls this invocation
            self._on_error("object count", error)
            return None
        self._left -= max(1, -(-len(keys) // _PAGE))  # pages read
        if len(keys) >= stop_at and stop_at < COUNT_STOP_AT:
            return None  # cut short by the calls left: not known, not kept
        listing = _Listing(prefix, sorted(keys) if len(keys) < COUNT_STOP_AT else None, now)
        counts.keep(prefix, listing)
        return listing


def objects_under(
    lookup: Callable[[str, str], int | None], origin_dirs: Sequence[str], scope: str
) -> Callable[[str], int | None]:
    """``collapse.ObjectsUnder`` for one distribution: the objects under a viewer directory,
    summed over the key prefixes its origins map it to (listed no higher than ``scope``, the
    viewer directory no wildcard reaches above); :data:`collapse.MANY` when any prefix holds
    more than could be counted, None when any count is unknown."""
    floors = key_prefixes(scope, origin_dirs) or tuple(origin_dirs)
    answered: dict[str, int | None] = {}  # the planner weighs a directory up to twice

    def count(directory: str) -> int | None:
        if directory in answered:
            return answered[directory]
        answered[directory] = found = _count(directory)
        return found

    def _count(directory: str) -> int | None:
        prefixes = key_prefixes(directory, origin_dirs)
        if prefixes is None:
            return None
        total = 0
        for prefix, floor in zip(prefixes, floors, strict=False):
            objects = lookup(prefix, floor)
            if objects is None:
                return None
            if objects >= MANY:
                return MANY
            total += objects
        return total

    return count


def knowledge_for(
    lookup: Callable[[str, str], int | None] | None, mapping: KeyMapping, paths_left: int | None
) -> Knowledge:
    """What the planner knows on one distribution: the bucket's unchanged objects through its
    origins (when counted), the month's paths left, and the prefixes other origins answer."""
    return Knowledge(
        objects_under=objects_under(lookup, mapping.origin_dirs, mapping.scope) if lookup else None,
        paths_left=paths_left,
        foreign=mapping.foreign_prefixes,
    )


# ------------------------------------------------------------------------------- the month
@dataclass
class MonthlySpend:
    """Billed paths this month: the metric's sum when last read, plus what was billed here
    since. UNCONFIRMED: that the metric is readable within minutes of the log line; paths
    another invocation billed in the meantime are not seen until then."""

    _month: datetime | None = None
    _billed: int = 0
    _tried_at: datetime | None = None  # the last reading tried, whether it worked or not

    def paths_left(
        self, api: SpendApi, budget: int, now: datetime, on_error: OnError
    ) -> int | None:
        """Paths left in ``budget`` this month; None when nothing is known of this month (the
        planner then treats every path as paid for). A reading is tried at most once every
        SPEND_TTL, failed or not, so an unreachable CloudWatch costs one call, not one per
        batch. A new reading never lowers the figure within a month: paths billed here may not
        be in the metric yet."""
        start = month_start(now)
        due = self._tried_at is None or now - self._tried_at >= SPEND_TTL
        if self._month != start or due:
            if self._month != start and not due and self._tried_at is not None:
                return None  # this month's reading failed moments ago
            self._tried_at = now
            try:
                billed = api.billed_paths_since(start)
            except KnowledgeError as error:
                on_error("billed paths", error)
                if self._month != start:
                    return None  # nothing known about this month
            else:
                same_month = self._month == start
                self._billed = max(billed, self._billed) if same_month else billed
                self._month = start
        return max(0, budget - self._billed)

    def billed(self, paths: int) -> None:
        """Paths this environment was billed for just now."""
        self._billed += paths
