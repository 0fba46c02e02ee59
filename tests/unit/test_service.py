"""Serving a batch end to end against in-memory adapters."""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest

from cfinvalidator.config import Config
from cfinvalidator.errors import CloudFrontError
from cfinvalidator.ports import CreatedInvalidation
from cfinvalidator.retry import ACCESS_GRACE_DELIVERIES, Backoff
from cfinvalidator.service import BatchOutcome, Ports, SqsMessage, process_batch
from emulator.local_aws.memory import FakeInvalidations, FakeNotifier, FakeQueue, FakeTracker
from tests.factories import BUCKET, s3_body, s3_record, service_config

D1, D2 = "EDIST1AAAAAAA", "EDIST2BBBBBBB"
CONFIG = service_config(D1, D2)
TEST_EVENT = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})


@dataclass
class World:
    """The adapters, and a way to run batches against them."""

    cloudfront: FakeInvalidations = field(default_factory=FakeInvalidations)
    tracker: FakeTracker = field(default_factory=FakeTracker)
    queue: FakeQueue = field(default_factory=FakeQueue)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    slept: list[float] = field(default_factory=list)
    config: Config = CONFIG

    def run(self, messages: Sequence[SqsMessage]) -> BatchOutcome:
        ports = Ports(
            invalidations=self.cloudfront,
            tracker=self.tracker,
            queue=self.queue,
            notifier=self.notifier,
            remaining_seconds=lambda: 50.0,
            sleep=self.slept.append,
            now=lambda: self.cloudfront.now,
            rng=random.Random(7),
            backoff=Backoff(),
        )
        return process_batch(messages, self.config, ports)


def msg(
    message_id: str, *keys: str, receive_count: int = 1, seq: str = "01", at: str = ""
) -> SqsMessage:
    records = [
        s3_record(k, sequencer=f"{seq}{i:02d}", **({"event_time": at} if at else {}))
        for i, k in enumerate(keys)
    ]
    return SqsMessage(message_id, s3_body(*records), f"handle-{message_id}", receive_count)


def batch() -> list[SqsMessage]:
    return [
        msg("m1", "index.html"),
        SqsMessage("m2", TEST_EVENT),
        SqsMessage("m3", "{not json"),
        msg("m4", "docs/red flower.jpg", seq="02"),
    ]


def test_batch_is_served_and_malformed_records_go_to_the_dlq_at_once() -> None:
    """Given a batch with a test event and a malformed record, when served, then one
    invalidation per distribution is created and tracked, the malformed record is copied to the
    DLQ with a FAILED notification, and no record is reported for redelivery."""
    world = World()
    outcome = world.run(batch())
    assert outcome.batch_item_failures(["m1", "m2", "m3", "m4"]) == []
    assert outcome.test_events == 1
    assert [d for d, _, _ in world.cloudfront.created] == [D1, D2]
    assert world.cloudfront.created[0][1] == ("/", "/docs/red%20flower.jpg", "/index.html")
    assert sorted(world.tracker.executions) == [f"{D1}-I0000000000000", f"{D2}-I0000000000001"]
    payload = world.tracker.executions[f"{D1}-I0000000000000"]
    assert payload["sourceKeys"] == ["docs/red flower.jpg", "index.html"]
    assert payload["requestedAt"] == "2026-11-21T10:00:05.000Z"
    assert [(d.message_id, d.error_code) for d in world.queue.dead_letters] == [
        ("m3", "MalformedEvent")
    ]
    assert world.queue.dead_letters[0].body == "{not json"
    [(notice, attributes)] = world.notifier.messages
    assert (notice["status"], notice["error"], notice["messageIds"]) == (
        "FAILED",
        "MalformedEvent",
        ["m3"],
    )
    assert attributes == {"status": "FAILED", "distributionId": "-"}


def test_non_retryable_error_dead_letters_the_records_and_names_their_keys() -> None:
    """Given CloudFront answering NoSuchDistribution for one distribution, then the records it
    serves are dead-lettered at once with a FAILED notification naming the distribution and
    keys, and the other distribution's invalidation still exists."""
    world = World()
    world.cloudfront.fail_with[D2] = "NoSuchDistribution"
    outcome = world.run([msg("m1", "a.css"), msg("m2", "b/c.js", seq="02")])
    assert outcome.failed == {}
    assert sorted(outcome.dead_lettered) == ["m1", "m2"]
    assert [d for d, _, _ in world.cloudfront.created] == [D1]
    [(notice, attributes)] = world.notifier.messages
    assert notice["error"] == "NoSuchDistribution"
    assert notice["sourceKeys"] == ["a.css", "b/c.js"]
    assert notice["deadLettered"] is True
    assert attributes == {"status": "FAILED", "distributionId": D2}


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException"])
def test_access_denied_is_deferred_on_the_first_deliveries_then_dead_lettered(code: str) -> None:
    """Given CloudFront denying a distribution (a new role's permission still propagating),
    when a record is delivered 1 to ACCESS_GRACE_DELIVERIES times, then it is deferred with no
    FAILED notification and nothing in the DLQ; on the next delivery it is dead-lettered with a
    FAILED notification naming the error."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    world.cloudfront.fail_with[D1] = code
    for delivery in range(1, ACCESS_GRACE_DELIVERIES + 1):
        outcome = world.run([msg("m1", "a.css", receive_count=delivery)])
        assert list(outcome.deferred) == ["m1"], delivery
        assert outcome.failed["m1"].startswith(f"deferred: {code}: ")
        assert "can take minutes to apply" in outcome.failed["m1"]
        assert outcome.dead_lettered == {}
    assert world.queue.dead_letters == []
    assert world.notifier.messages == []
    last = world.run([msg("m1", "a.css", receive_count=ACCESS_GRACE_DELIVERIES + 1)])
    assert list(last.dead_lettered) == ["m1"]
    assert last.failed == {}
    assert [(d.message_id, d.error_code) for d in world.queue.dead_letters] == [("m1", code)]
    [(notice, _)] = world.notifier.messages
    assert (notice["status"], notice["error"]) == ("FAILED", code)


def test_access_denied_grace_ends_at_max_receive_count() -> None:
    """Given MaxReceiveCount 2 (below the grace), then AccessDenied on delivery 2 dead-letters:
    the grace never keeps a record past the queue's own limit."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,), max_receive_count=2))
    world.cloudfront.fail_with[D1] = "AccessDenied"
    assert list(world.run([msg("m1", "a.css")]).deferred) == ["m1"]
    assert list(world.run([msg("m1", "a.css", receive_count=2)]).dead_lettered) == ["m1"]


def test_each_dead_lettered_record_logs_one_error_line(
    service_log: Callable[[], list[dict[str, Any]]],
) -> None:
    """Given a batch with a malformed body, a key holding a lone surrogate, and a good record,
    then the two bad records are dead-lettered as MalformedEvent, the good one is served, and
    each dead-lettered record logs one ERROR line naming it and its cause."""
    surrogate = s3_body(s3_record("placeholder")).replace("placeholder", "a\\ud800b")
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    outcome = world.run(
        [SqsMessage("bad", "{not json"), SqsMessage("lone", surrogate), msg("ok", "a.css")]
    )
    assert sorted(outcome.dead_lettered) == ["bad", "lone"]
    assert outcome.failed == {}
    assert world.cloudfront.created[0][1] == ("/a.css",)
    lines = [line for line in service_log() if line["message"] == "record dead-lettered"]
    assert [(line["level"], line["message_id"], line["error"]) for line in lines] == [
        ("ERROR", "bad", "MalformedEvent"),
        ("ERROR", "lone", "MalformedEvent"),
    ]
    assert "not valid Unicode text" in lines[1]["cause"]


def test_redelivery_in_any_composition_bills_nothing_twice() -> None:
    """Given a batch served, when one of its records comes back (receive count 2) together with
    a new record, then only the new record's paths are requested and no tracker starts twice."""
    world = World()
    world.run([msg("m1", "a.css"), msg("m2", "b.css", seq="02")])
    billed = world.cloudfront.billed_paths
    world.cloudfront.now += timedelta(seconds=3)
    again = world.run([msg("m2", "b.css", seq="02", receive_count=2), msg("m3", "c.css", seq="03")])
    assert again.failed == {}
    assert world.cloudfront.billed_paths == billed + 2  # /c.css on each distribution
    assert [c.request.paths for c in again.created] == [("/c.css",), ("/c.css",)]
    assert len(world.tracker.executions) == 4


def test_partial_success_across_distributions_is_not_billed_again() -> None:
    """Given a record whose first distribution succeeded and whose second kept answering 5xx
    past the retries, when it is redelivered, then only the second distribution is invalidated."""
    world = World()
    world.cloudfront.fail_with[D2] = "ServiceUnavailable"
    first = world.run([msg("m1", "a.css")])
    assert list(first.deferred) == ["m1"]
    assert [d for d, _, _ in world.cloudfront.created] == [D1]
    del world.cloudfront.fail_with[D2]
    world.cloudfront.now += timedelta(seconds=40)
    second = world.run([msg("m1", "a.css", receive_count=2)])
    assert second.failed == {}
    assert [d for d, _, _ in world.cloudfront.created] == [D1, D2]
    assert world.cloudfront.billed_paths == 2


def test_tracker_failure_defers_and_the_redelivery_starts_it_without_a_new_invalidation() -> None:
    """Given Step Functions failing, then the records are deferred; on redelivery no new
    invalidation is created and the tracker starts for the existing one."""
    world = World(tracker=FakeTracker(fail=True))
    outcome = world.run([msg("m1", "a.css")])
    assert list(outcome.deferred) == ["m1"]
    world.tracker.fail = False
    world.cloudfront.now += timedelta(seconds=30)
    retry = world.run([msg("m1", "a.css", receive_count=2)])
    assert retry.failed == {}
    assert retry.created == []
    assert len(world.cloudfront.created) == 2
    assert sorted(world.tracker.executions) == [f"{D1}-I0000000000000", f"{D2}-I0000000000001"]


def test_a_later_reupload_gets_a_new_invalidation() -> None:
    """Given the same key changed again after the first invalidation, then a new one is made."""
    world = World()
    world.run([msg("m1", "index.html")])
    world.cloudfront.now += timedelta(minutes=5)
    world.run([msg("m2", "index.html", seq="09", at="2026-11-21T10:03:00.000Z")])
    assert len(world.cloudfront.created) == 4


def test_full_quota_defers_with_growing_delay_then_dead_letters_at_the_limit() -> None:
    """Given a distribution whose wildcard quota is full, when a record needing a wildcard
    arrives on deliveries 1..limit, then it is deferred with a growing delay and, on the last
    allowed delivery, dead-lettered with a FAILED notification."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,), max_receive_count=4))
    for n in range(15):
        world.cloudfront.create_invalidation(D1, (f"/busy{n}/*",), f"other-{n}")
    delays = []
    for receive_count in (1, 2, 3):
        outcome = world.run([msg("m1", "a~b.css", receive_count=receive_count)])
        assert outcome.batch_item_failures(["m1"]) == [{"itemIdentifier": "m1"}]
        delays.append(outcome.deferred["m1"])
    assert delays[0] < delays[2]
    assert [d.message_id for d in world.queue.deferrals] == ["m1"] * 3
    last = world.run([msg("m1", "a~b.css", receive_count=4)])
    assert last.failed == {}
    assert list(last.dead_lettered) == ["m1"]
    [(notice, _)] = world.notifier.messages
    assert notice["error"] == "QuotaFull"
    assert notice["sourceKeys"] == ["a~b.css"]


def test_throttling_is_retried_with_backoff_and_then_succeeds() -> None:
    """Given two throttled CreateInvalidation calls, then the third succeeds after two sleeps."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    world.cloudfront.inject["create"] = deque(["Throttling", "Throttling"])
    outcome = world.run([msg("m1", "a.css")])
    assert outcome.failed == {}
    assert len(outcome.created) == 1
    assert len(world.slept) == 2
    assert outcome.throttles == 2


def test_throttling_storm_outlasting_the_retries_defers_instead_of_failing() -> None:
    """Given CloudFront throttling every attempt, then the record is deferred, not lost."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    world.cloudfront.inject["create"] = deque(["Throttling"] * 50)
    outcome = world.run([msg("m1", "a.css")])
    assert list(outcome.deferred) == ["m1"]
    assert outcome.dead_lettered == {}
    assert len(world.slept) == Backoff().max_attempts - 1


def test_too_many_invalidations_in_progress_from_a_race_defers() -> None:
    """Given CloudFront answering TooManyInvalidationsInProgress although the listing showed
    room (another consumer got there first), then the records are deferred."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    world.cloudfront.inject["create"] = deque(["TooManyInvalidationsInProgress"])
    outcome = world.run([msg("m1", "a.css")])
    assert list(outcome.deferred) == ["m1"]
    assert world.slept == []


def test_unreadable_listing_defers_the_records() -> None:
    """Given ListInvalidations failing with 5xx on every attempt, then nothing is created and
    the records are deferred."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    world.cloudfront.inject["list"] = deque(["ServiceUnavailable"] * 50)
    outcome = world.run([msg("m1", "a.css")])
    assert list(outcome.deferred) == ["m1"]
    assert world.cloudfront.calls == []


def test_dead_letter_copy_failure_leaves_the_record_for_redelivery() -> None:
    """Given the DLQ refusing the copy, then the record is reported as failed (never lost)."""
    world = World(queue=FakeQueue(refuse=True))
    outcome = world.run([SqsMessage("m3", "{not json", "h", 1)])
    assert outcome.batch_item_failures(["m3"]) == [{"itemIdentifier": "m3"}]
    assert outcome.dead_lettered == {}


def test_notification_failure_never_breaks_the_batch() -> None:
    """Given SNS failing, then the dead-lettered record is still handled."""
    world = World(notifier=FakeNotifier(fail=True))
    outcome = world.run([SqsMessage("m3", "{not json", "h", 1)])
    assert list(outcome.dead_lettered) == ["m3"]
    assert outcome.failed == {}


def test_unexpected_errors_propagate_instead_of_acknowledging() -> None:
    """Given a bug-class error in an adapter, then it propagates so the whole batch is retried."""

    class Broken(FakeInvalidations):
        def create_invalidation(
            self, distribution_id: str, paths: Sequence[str], caller_reference: str
        ) -> CreatedInvalidation:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        World(cloudfront=Broken()).run(batch())


def test_reading_a_crowded_distribution_is_bounded_and_conservative() -> None:
    """Given another tool with 150 one-path invalidations in progress, when a record is served,
    then at most 100 are read in detail (the unread ones count as one file path each, see the
    ledger test) and the record's invalidation is created."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,)))
    for n in range(150):
        world.cloudfront.create_invalidation(D1, (f"/other/{n}.html",), f"other-{n}")
    outcome = world.run([msg("m1", "a.css")])
    assert world.cloudfront.detail_calls == 100
    assert world.cloudfront.list_calls == 2
    [plan] = outcome.plans
    assert plan.request is not None
    assert plan.request.paths == ("/a.css",)
    assert outcome.failed == {}


def test_a_throttled_later_page_is_retried_on_its_own() -> None:
    """Given 150 invalidations in progress (two pages) and the second ListInvalidations page
    throttled once, when a record is served, then only that page is read again (three page
    reads, one sleep) and the record's invalidation is created."""

    class SecondPageThrottledOnce(FakeInvalidations):
        def _gate(self, operation: str, distribution_id: str) -> None:
            if operation == "list" and self.list_calls == 2:
                raise CloudFrontError("Throttling", "Rate exceeded", 400)
            super()._gate(operation, distribution_id)

    world = World(
        cloudfront=SecondPageThrottledOnce(), config=replace(CONFIG, distribution_ids=(D1,))
    )
    for n in range(150):
        world.cloudfront.create_invalidation(D1, (f"/other/{n}.html",), f"other-{n}")
    outcome = world.run([msg("m1", "a.css")])
    assert world.cloudfront.list_calls == 3
    assert len(world.slept) == 1
    assert outcome.failed == {}
    [plan] = outcome.plans
    assert plan.request is not None


def test_with_a_low_receive_limit_the_last_delivery_may_use_file_paths() -> None:
    """Given MaxReceiveCount 2 and the wildcard quota full, when 20 files of one directory come
    on their second (last) delivery, then they are served with file paths, not dead-lettered."""
    world = World(config=replace(CONFIG, distribution_ids=(D1,), max_receive_count=2))
    for n in range(15):
        world.cloudfront.create_invalidation(D1, (f"/busy{n}/*",), f"other-{n}")
    records = [msg(f"m{i:02d}", f"img/{i:02d}.jpg", seq=f"{i:02d}") for i in range(20)]
    first = world.run(records)
    assert sorted(first.deferred) == [r.message_id for r in records]
    again = world.run([replace(r, receive_count=2) for r in records])
    assert again.failed == {}
    assert again.dead_lettered == {}
    [created] = again.created
    assert len(created.request.paths) == 20
