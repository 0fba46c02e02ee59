"""Serving a batch with what the batcher may know: the bucket's objects, the month's billed paths,
and the pacing of new wildcards."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cfinvalidator.errors import KnowledgeError
from cfinvalidator.planning import CALLER_REFERENCE_PREFIX, WILDCARD_SPREAD
from cfinvalidator.retry import Backoff
from cfinvalidator.service import BatchOutcome, Ports, SqsMessage, process_batch
from emulator.local_aws.memory import FakeInvalidations, FakeNotifier, FakeQueue, FakeTracker
from tests.unit.test_service import CONFIG, D1, D2, msg

GALLERY = [f"img/p{n:03d}.jpg" for n in range(400)]


@dataclass
class Listing:
    keys: list[str]
    error: KnowledgeError | None = None
    calls: int = 0

    def list_keys(self, prefix: str, stop_at: int) -> list[str]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return [k for k in self.keys if k.startswith(prefix)][:stop_at]


@dataclass
class Spent:
    billed: int
    starts: list[datetime] = field(default_factory=list)

    def billed_paths_since(self, start: datetime) -> int:
        self.starts.append(start)
        return self.billed


@dataclass
class World:
    listing: Listing | None = None
    spent: Spent | None = None
    cloudfront: FakeInvalidations = field(default_factory=FakeInvalidations)
    slept: list[float] = field(default_factory=list)
    distributions: tuple[str, ...] = (D1,)

    def run(self, messages: list[SqsMessage]) -> BatchOutcome:
        ports = Ports(
            invalidations=self.cloudfront,
            tracker=FakeTracker(),
            queue=FakeQueue(),
            notifier=FakeNotifier(),
            remaining_seconds=lambda: 50.0,
            sleep=self.slept.append,
            now=lambda: self.cloudfront.now,
            rng=random.Random(7),
            backoff=Backoff(),
            counts=self.listing,
            spend=self.spent,
        )
        return process_batch(messages, replace(CONFIG, distribution_ids=self.distributions), ports)

    def requested(self, distribution: str = D1) -> set[str]:
        return {p for d, paths, _ in self.cloudfront.calls if d == distribution for p in paths}


def photos(count: int) -> list[SqsMessage]:
    return [msg(f"m{n}", GALLERY[n], seq=f"{n:02d}") for n in range(count)]


def test_inside_the_budget_ten_photos_of_a_full_gallery_get_exact_paths() -> None:
    """Given a gallery of 400 photos and 0 of the month's 1,000 paths billed, when 10 change,
    then 10 exact paths are requested (free), not /img/* (390 needless misses)."""
    world = World(Listing(GALLERY), Spent(0))
    outcome = world.run(photos(10))
    assert world.requested() == {f"/{key}" for key in GALLERY[:10]}
    assert not outcome.failed


def test_beyond_the_budget_the_same_change_is_one_wildcard() -> None:
    """Given the month's budget spent, then /img/* (9 paths saved for 390 unchanged objects,
    within the default 100 a path)."""
    world = World(Listing(GALLERY), Spent(1000))
    world.run(photos(10))
    assert world.requested() == {"/img/*"}


def test_paths_billed_on_one_distribution_count_against_the_next() -> None:
    """Given 12 paths left this month and two distributions, then the first gets 10 exact
    paths, which leaves 2, and the second is priced beyond the budget: /img/*."""
    world = World(Listing(GALLERY), Spent(988), distributions=(D1, D2))
    world.run(photos(10))
    assert world.requested(D1) == {f"/{key}" for key in GALLERY[:10]}
    assert world.requested(D2) == {"/img/*"}


def test_an_unreadable_bucket_falls_back_to_the_threshold_and_fails_nothing() -> None:
    """Given s3:ListBucket denied, then the batch is served as without counts: beyond the
    budget, 10 changes in one directory reach CollapseThreshold (10) and become a wildcard."""
    world = World(Listing(GALLERY, KnowledgeError("AccessDenied", "denied")), Spent(1000))
    outcome = world.run(photos(10))
    assert world.requested() == {"/img/*"}
    assert not outcome.failed
    assert world.listing is not None
    assert world.listing.calls == 1


def test_the_month_is_read_from_its_first_day() -> None:
    world = World(Listing(GALLERY), Spent(0))
    world.run(photos(1))
    assert world.spent is not None
    assert world.spent.starts == [world.cloudfront.now.replace(day=1, hour=0, minute=0, second=0)]


def test_a_new_wildcard_soon_after_ours_waits_its_turn() -> None:
    """Given /import/* of ours created half a second ago and 14 wildcards free, when a batch
    needs /import/* again, then it waits until WILDCARD_SPREAD / 14 after the first, then
    creates it."""
    world = World(Listing([]), Spent(0))
    cloudfront = world.cloudfront
    cloudfront.create_invalidation(D1, ["/import/*"], CALLER_REFERENCE_PREFIX + "earlier")
    cloudfront.now += timedelta(seconds=0.5)
    keys = [f"import/b{n % 20:02d}/i{n}.json" for n in range(200)]
    after_it = "2026-11-21T10:00:05.200Z"  # changed after the first /import/*, so not covered
    world.run([msg(f"m{n}", key, seq=f"{n:04d}", at=after_it) for n, key in enumerate(keys)])
    spacing = WILDCARD_SPREAD.total_seconds() / 14
    assert len(world.slept) == 1
    assert abs(world.slept[0] - (spacing - 0.5)) < 0.01
    assert [paths for _, paths, _ in cloudfront.calls[1:]] == [("/import/*",)]


def test_another_tools_wildcard_does_not_pace_ours() -> None:
    world = World(Listing([]), Spent(0))
    world.cloudfront.create_invalidation(D1, ["/import/*"], "someone-else")
    world.cloudfront.now += timedelta(seconds=0.5)
    keys = [f"import/b{n % 20:02d}/i{n}.json" for n in range(200)]
    after_it = "2026-11-21T10:00:05.200Z"
    world.run([msg(f"m{n}", key, seq=f"{n:04d}", at=after_it) for n, key in enumerate(keys)])
    assert len(world.cloudfront.calls) == 2
    assert world.slept == []
