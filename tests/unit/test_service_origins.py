"""The service with origins discovered from each distribution's configuration."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace
from datetime import timedelta

from cfinvalidator.config import Config
from cfinvalidator.observability import metrics
from cfinvalidator.origins import OriginDirectory
from cfinvalidator.ports import Behaviour, DistributionLayout, Origin
from cfinvalidator.retry import ACCESS_GRACE_DELIVERIES
from cfinvalidator.service import BatchOutcome, Ports, SqsMessage, process_batch
from emulator.local_aws.memory import FakeInvalidations, FakeNotifier, FakeQueue, FakeTracker
from tests.factories import BUCKET, s3_body, s3_record

SITE, BLOG = "EDIST1AAAAAAA", "EDIST2BBBBBBB"
CONFIG = Config(
    distribution_ids=(SITE, BLOG),
    bucket_name=BUCKET,
    key_prefix="",
    origin_path=None,  # discover
    collapse_threshold=0,  # exact paths, so each test sees the mapping itself
    index_document="index.html",
    state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:tracker",
    queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/queue",
    dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    topic_arn="arn:aws:sns:us-east-1:123456789012:topic",
)
# SITE serves the bucket's site/ folder at its root. BLOG serves the bucket root through its
# global endpoint, and sends /blog/* to a second origin: the same bucket's regional endpoint
# with origin path /blog-src.
LAYOUTS = {
    SITE: DistributionLayout(
        SITE, (Origin("site", f"{BUCKET}.s3.amazonaws.com", "/site"),), "site"
    ),
    BLOG: DistributionLayout(
        BLOG,
        (
            Origin("root", f"{BUCKET}.s3.amazonaws.com"),
            Origin("blog", f"{BUCKET}.s3.us-east-1.amazonaws.com", "/blog-src"),
        ),
        "root",
        (Behaviour("/blog/*", "blog"),),
    ),
}


class World:
    def __init__(self, layouts: dict[str, DistributionLayout] | None = None) -> None:
        self.cloudfront = FakeInvalidations(layouts=dict(LAYOUTS if layouts is None else layouts))
        self.queue = FakeQueue()
        self.notifier = FakeNotifier()
        self.origins = OriginDirectory()  # one per execution environment, as in the handler

    def run(self, *messages: SqsMessage, config: Config = CONFIG) -> BatchOutcome:
        ports = Ports(
            invalidations=self.cloudfront,
            tracker=FakeTracker(),
            queue=self.queue,
            notifier=self.notifier,
            remaining_seconds=lambda: 50.0,
            sleep=lambda _: None,
            now=lambda: self.cloudfront.now,
            rng=random.Random(3),
            origins=self.origins,
        )
        try:
            return process_batch(messages, config, ports)
        finally:
            metrics.clear_metrics()

    def paths(self, distribution_id: str) -> set[str]:
        return {p for d, paths, _ in self.cloudfront.created if d == distribution_id for p in paths}


def msg(message_id: str, *keys: str) -> SqsMessage:
    records = [s3_record(k, sequencer=f"{message_id}{i:02d}") for i, k in enumerate(keys)]
    return SqsMessage(message_id, s3_body(*records), f"handle-{message_id}")


def test_two_distributions_with_different_origin_paths_and_a_blog_behaviour() -> None:
    """Given SITE (origin path /site) and BLOG (root origin, /blog/* on a second origin with
    origin path /blog-src), when a deploy changes keys in both folders, then each distribution
    gets exactly the paths its viewers request."""
    world = World()
    outcome = world.run(
        msg("m1", "site/index.html", "site/css/a b.css"),
        msg("m2", "blog-src/blog/post.html", "blog-src/blog/index.html"),
        msg("m3", "site/blog/old.html"),
    )
    assert outcome.failed == {}
    assert world.paths(SITE) == {"/index.html", "/", "/css/a%20b.css", "/blog/old.html"}
    assert world.paths(BLOG) == {
        # Through the root origin: the keys as they are, except what /blog/* sends elsewhere.
        "/site/index.html",
        "/site/",
        "/site",
        "/site/css/a%20b.css",
        "/blog-src/blog/post.html",
        "/blog-src/blog/index.html",
        "/blog-src/blog/",
        "/blog-src/blog",
        "/site/blog/old.html",
        # Through the blog origin.
        "/blog/post.html",
        "/blog/index.html",
        "/blog/",
    }
    assert world.cloudfront.layout_calls == 2


def test_configurations_are_read_once_then_refreshed() -> None:
    """Given the refresh interval, then later batches reuse the configuration until it passes,
    and a changed origin path is followed after the refresh."""
    world = World()
    world.run(msg("m1", "site/a.html"))
    world.cloudfront.now += timedelta(seconds=60)
    world.run(msg("m2", "site/b.html"))
    assert world.cloudfront.layout_calls == 2
    moved = replace(LAYOUTS[SITE], origins=(Origin("site", f"{BUCKET}.s3.amazonaws.com", "/www"),))
    world.cloudfront.layouts[SITE] = moved
    world.cloudfront.now += timedelta(seconds=CONFIG.origin_refresh_seconds)
    world.run(msg("m3", "www/c.html", "site/d.html"))
    assert world.cloudfront.layout_calls == 4
    assert "/c.html" in world.paths(SITE)
    assert "/d.html" not in world.paths(SITE)


def test_a_distribution_that_no_longer_reads_the_bucket_is_not_invalidated() -> None:
    """Given SITE now pointing at another bucket, then nothing is invalidated on it, the records
    are served on BLOG, and the mismatch is counted."""
    layouts = {
        **LAYOUTS,
        SITE: DistributionLayout(SITE, (Origin("site", "elsewhere.s3.amazonaws.com"),), "site"),
    }
    world = World(layouts)
    outcome = world.run(msg("m1", "site/a.html"))
    assert outcome.failed == {}
    assert outcome.not_serving == [SITE]
    assert world.paths(SITE) == set()
    assert world.paths(BLOG) == {"/site/a.html"}


def test_keys_no_distribution_serves_are_skipped() -> None:
    """Given a key outside every origin path on SITE, and routed away on BLOG, then it is skipped
    and nothing is billed for it."""
    world = World({SITE: LAYOUTS[SITE]})
    outcome = world.run(
        msg("m1", "drafts/x.html"), config=replace(CONFIG, distribution_ids=(SITE,))
    )
    assert outcome.failed == {}
    assert world.cloudfront.created == []


def test_throttled_configuration_read_is_retried() -> None:
    """Given GetDistributionConfig throttled once, then it is retried and the batch served."""
    world = World()
    world.cloudfront.inject["config"] = deque(["Throttling"])
    outcome = world.run(msg("m1", "site/a.html"))
    assert outcome.failed == {}
    assert world.paths(SITE) == {"/a.html"}
    assert outcome.throttles == 1


def test_unreadable_configuration_dead_letters_and_a_stale_one_is_kept() -> None:
    """Given AccessDenied on the first read, then the record is deferred during the grace and
    dead-lettered after it with a FAILED notification naming the distribution; given it on a
    refresh, then the configuration read before keeps serving."""
    world = World()
    world.cloudfront.fail_with[SITE] = "AccessDenied"
    graced = world.run(msg("m1", "site/a.html"))
    assert (set(graced.deferred), graced.dead_lettered) == ({"m1"}, {})
    last = replace(msg("m1", "site/a.html"), receive_count=ACCESS_GRACE_DELIVERIES + 1)
    outcome = world.run(last)
    assert set(outcome.dead_lettered) == {"m1"}
    assert world.notifier.messages[0][1]["distributionId"] == SITE
    assert world.paths(BLOG) == {"/site/a.html"}  # the other distribution was still served

    fresh = World()
    fresh.run(msg("m1", "site/a.html"))
    fresh.cloudfront.now += timedelta(seconds=CONFIG.origin_refresh_seconds + 1)
    fresh.cloudfront.inject["config"] = deque(["AccessDenied"] * 2)
    outcome = fresh.run(msg("m2", "site/b.html"))
    assert outcome.failed == {}
    assert "/b.html" in fresh.paths(SITE)


def test_origin_path_override_reads_no_configuration() -> None:
    """Given ORIGIN_PATH /site, then every distribution maps keys through it, unread."""
    world = World({})
    world.run(msg("m1", "site/a.html"), config=replace(CONFIG, origin_path="/site"))
    assert world.cloudfront.layout_calls == 0
    assert world.paths(SITE) == world.paths(BLOG) == {"/a.html"}
