"""What the planner may know, cached per environment: the bucket's listings, the month's spend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cfinvalidator.collapse import MANY
from cfinvalidator.errors import KnowledgeError
from cfinvalidator.knowledge import (
    COUNT_STOP_AT,
    COUNT_TTL,
    LIST_CALLS_PER_BATCH,
    SPEND_TTL,
    MonthlySpend,
    ObjectCounts,
    key_prefixes,
    month_start,
    objects_under,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Bucket:
    """ListObjectsV2 over a set of keys, counting calls (1,000 keys a page)."""

    def __init__(self, keys: set[str], error: KnowledgeError | None = None) -> None:
        self.keys = sorted(keys)
        self.error = error
        self.listed: list[str] = []
        self.calls = 0

    def list_keys(self, prefix: str, stop_at: int) -> list[str]:
        self.listed.append(prefix)
        if self.error is not None:
            raise self.error
        found = [k for k in self.keys if k.startswith(prefix)][:stop_at]
        self.calls += max(1, -(-len(found) // 1000))
        return found


class Errors:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, what: str, error: KnowledgeError) -> None:
        self.seen.append((what, error.code))


SITE = {f"blog/p{n}/index.html" for n in range(300)} | {"img/a.png", "img/b.png", "index.html"}


def test_one_listing_from_the_floor_answers_every_directory_under_it() -> None:
    """Given a bucket of 303 keys, when three directories are counted, then one listing (of the
    floor, the bucket root) answers all of them."""
    bucket = Bucket(SITE)
    lookup = ObjectCounts().for_batch(bucket, NOW, Errors())
    assert lookup("blog/p7/", "") == 1
    assert lookup("img/", "") == 2
    assert lookup("blog/", "") == 300
    assert bucket.listed == [""]


def test_a_prefix_with_too_many_keys_is_remembered_and_its_subdirectories_listed() -> None:
    """Given a root holding more than COUNT_STOP_AT keys, then it counts as MANY, and a
    subdirectory is listed on its own (the root is not listed again)."""
    keys = {f"media/{n:06d}.mp4" for n in range(COUNT_STOP_AT)} | {"docs/a.html", "docs/b.html"}
    bucket = Bucket(keys)
    counts = ObjectCounts()
    lookup = counts.for_batch(bucket, NOW, Errors())
    assert lookup("", "") == MANY
    assert lookup("docs/", "") == 2
    assert bucket.listed == ["", "docs/"]
    later = counts.for_batch(bucket, NOW + timedelta(minutes=1), Errors())
    assert later("docs/x/", "") == 0
    assert bucket.listed == ["", "docs/"]  # both answered from the kept listings


def test_listings_expire_after_their_ttl() -> None:
    bucket = Bucket(SITE)
    counts = ObjectCounts()
    counts.for_batch(bucket, NOW, Errors())("img/", "")
    counts.for_batch(bucket, NOW + COUNT_TTL, Errors())("img/", "")
    assert bucket.listed == ["", ""]


def test_an_invocation_makes_at_most_its_share_of_calls() -> None:
    """Given prefixes that each take a call, then no more than LIST_CALLS_PER_BATCH calls are
    made in one invocation; the counts beyond are unknown (None), not guessed."""
    bucket = Bucket(SITE)
    lookup = ObjectCounts().for_batch(bucket, NOW, Errors())
    answers = [lookup(f"blog/p{n}/", f"blog/p{n}/") for n in range(LIST_CALLS_PER_BATCH + 5)]
    assert bucket.calls == LIST_CALLS_PER_BATCH
    assert answers[:LIST_CALLS_PER_BATCH] == [1] * LIST_CALLS_PER_BATCH
    assert answers[LIST_CALLS_PER_BATCH:] == [None] * 5


def test_access_denied_pauses_listing_and_is_reported_once() -> None:
    """Given s3:ListBucket denied, then the count is unknown, the error is reported, and no
    listing is tried again in the next invocations for a while."""
    bucket = Bucket(SITE, KnowledgeError("AccessDenied", "denied"))
    counts, errors = ObjectCounts(), Errors()
    assert counts.for_batch(bucket, NOW, errors)("img/", "") is None
    assert counts.for_batch(bucket, NOW + timedelta(minutes=1), errors)("img/", "") is None
    assert bucket.listed == [""]
    assert errors.seen == [("object count", "AccessDenied")]


def test_throttling_stops_listing_for_the_rest_of_the_invocation_only() -> None:
    bucket = Bucket(SITE, KnowledgeError("SlowDown", "slow down"))
    counts = ObjectCounts()
    lookup = counts.for_batch(bucket, NOW, Errors())
    assert lookup("img/", "") is None
    assert lookup("blog/", "") is None
    assert bucket.listed == [""]
    counts.for_batch(bucket, NOW, Errors())("img/", "")
    assert bucket.listed == ["", ""]


def test_objects_under_sums_the_origins_and_lists_no_higher_than_the_scope() -> None:
    """Given two origins (the root and ``site/``) and the scope ``/blog/``, then a directory is
    counted under both key prefixes, each listed from its own ``blog/``."""
    bucket = Bucket({"blog/a.html", "site/blog/b.html", "site/blog/c.html", "other.html"})
    lookup = ObjectCounts().for_batch(bucket, NOW, Errors())
    count = objects_under(lookup, ("", "site/"), "/blog/")
    assert count("/blog/") == 3
    assert bucket.listed == ["blog/", "site/blog/"]


def test_a_directory_is_decoded_to_its_key_prefix() -> None:
    assert key_prefixes("/x%20y/%C3%A9/", ("", "site/")) == ("x y/é/", "site/x y/é/")
    assert key_prefixes("/%FF/", ("",)) is None  # not UTF-8: no key has that prefix


class Metric:
    def __init__(self, billed: int) -> None:
        self.billed = billed
        self.reads: list[datetime] = []
        self.error: KnowledgeError | None = None

    def billed_paths_since(self, start: datetime) -> int:
        self.reads.append(start)
        if self.error is not None:
            raise self.error
        return self.billed


def test_paths_left_reads_the_metric_from_the_first_of_the_month_and_caches_it() -> None:
    metric, spend = Metric(400), MonthlySpend()
    assert spend.paths_left(metric, 1000, NOW, Errors()) == 600
    spend.billed(50)  # billed here since the reading
    assert spend.paths_left(metric, 1000, NOW + timedelta(minutes=1), Errors()) == 550
    assert metric.reads == [datetime(2026, 12, 1, tzinfo=UTC)]
    metric.billed = 470
    assert spend.paths_left(metric, 1000, NOW + SPEND_TTL, Errors()) == 530
    assert len(metric.reads) == 2


def test_a_new_month_reads_again_and_never_goes_below_zero() -> None:
    metric, spend = Metric(1500), MonthlySpend()
    assert spend.paths_left(metric, 1000, NOW, Errors()) == 0
    metric.billed = 3
    assert spend.paths_left(metric, 1000, datetime(2027, 1, 1, 0, 1, tzinfo=UTC), Errors()) == 997
    assert metric.reads[-1] == datetime(2027, 1, 1, tzinfo=UTC)


def test_an_unreadable_metric_is_tried_once_per_ttl_and_the_last_reading_kept() -> None:
    """Given CloudWatch refusing, then the month is unknown and not asked again within
    SPEND_TTL (an unreachable endpoint costs one call, not one per batch); once it answers,
    its figure holds, and a later failure keeps it."""
    metric, spend, errors = Metric(100), MonthlySpend(), Errors()
    metric.error = KnowledgeError("AccessDenied", "no")
    assert spend.paths_left(metric, 1000, NOW, errors) is None
    metric.error = None
    assert spend.paths_left(metric, 1000, NOW + timedelta(minutes=1), errors) is None
    assert len(metric.reads) == 1
    assert spend.paths_left(metric, 1000, NOW + SPEND_TTL, errors) == 900
    metric.error = KnowledgeError("Throttling", "slow")
    assert spend.paths_left(metric, 1000, NOW + 2 * SPEND_TTL, errors) == 900
    assert spend.paths_left(metric, 1000, NOW + 2 * SPEND_TTL, errors) == 900
    assert len(metric.reads) == 3
    assert errors.seen == [("billed paths", "AccessDenied"), ("billed paths", "Throttling")]


def test_a_reading_behind_what_was_billed_here_does_not_lower_the_spend() -> None:
    """Given 40 paths billed here since a reading of 400, when the metric still says 400 (its
    lag), then 440 stay spent."""
    metric, spend = Metric(400), MonthlySpend()
    spend.paths_left(metric, 1000, NOW, Errors())
    spend.billed(40)
    assert spend.paths_left(metric, 1000, NOW + SPEND_TTL, Errors()) == 560


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (datetime(2026, 12, 3, 12, 5, 7, 9, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_month_start(now: datetime, start: datetime) -> None:
    assert month_start(now) == start


def test_changed_keys_are_subtracted_only_where_the_listing_holds_them() -> None:
    """Given a listing of img/ (a.png, b.png), when a batch changed a.png twice, deleted
    gone.png (no longer listed) and uploaded new.png after the listing was read, then one
    unchanged object is left under img/: b.png. Subtracting every change would say none."""
    bucket = Bucket({"img/a.png", "img/b.png"})
    counts = ObjectCounts()
    counts.for_batch(bucket, NOW, Errors())("img/", "img/")  # the listing, read earlier
    changed = ["img/a.png", "img/a.png", "img/gone.png", "img/new.png"]
    lookup = counts.for_batch(bucket, NOW + timedelta(minutes=1), Errors(), changed_keys=changed)
    assert lookup("img/", "img/") == 1
    assert lookup("img/a", "img/") == 0
