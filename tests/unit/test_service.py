"""Serving a batch end to end against in-memory adapters."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from cfinvalidator.adapters.cloudfront import CreatedInvalidation
from cfinvalidator.config import Config
from cfinvalidator.service import SqsMessage, process_batch
from tests.factories import BUCKET, s3_body, s3_record
from tests.fakes import FakeInvalidations, FakeTracker

CONFIG = Config(
    distribution_ids=("EDIST1AAAAAAA", "EDIST2BBBBBBB"),
    bucket_name=BUCKET,
    key_prefix="",
    origin_path="",
    index_document="index.html",
    state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:tracker",
)
TEST_EVENT = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})


def batch() -> list[SqsMessage]:
    return [
        SqsMessage("m1", s3_body(s3_record("index.html", sequencer="01"))),
        SqsMessage("m2", TEST_EVENT),
        SqsMessage("m3", "{not json"),
        SqsMessage("m4", s3_body(s3_record("docs/red flower.jpg", sequencer="02"))),
    ]


def test_batch_is_served_and_only_malformed_records_fail() -> None:
    """Given a batch with a test event and a malformed record, when served, then one
    invalidation per distribution is created and tracked and only the malformed record fails."""
    invalidations, tracker = FakeInvalidations(), FakeTracker()
    outcome = process_batch(batch(), CONFIG, invalidations, tracker)
    assert outcome.batch_item_failures(["m1", "m2", "m3", "m4"]) == [{"itemIdentifier": "m3"}]
    assert outcome.test_events == 1
    assert [d for d, _, _ in invalidations.created] == ["EDIST1AAAAAAA", "EDIST2BBBBBBB"]
    assert invalidations.created[0][1] == ("/", "/docs/red%20flower.jpg", "/index.html")
    assert sorted(tracker.executions) == [
        "EDIST1AAAAAAA-I0000000000000",
        "EDIST2BBBBBBB-I0000000000001",
    ]
    payload = tracker.executions["EDIST1AAAAAAA-I0000000000000"]
    assert payload["sourceKeys"] == ["docs/red flower.jpg", "index.html"]
    assert payload["requestedAt"] == "2026-11-21T00:00:00.000Z"


def test_failure_on_one_distribution_fails_exactly_its_records() -> None:
    """Given CloudFront refusing one distribution, then the records it serves are failures and
    the other distribution's invalidation still exists."""
    invalidations = FakeInvalidations(fail_with={"EDIST2BBBBBBB": "AccessDenied"})
    outcome = process_batch(batch(), CONFIG, invalidations, FakeTracker())
    assert sorted(outcome.failed) == ["m1", "m3", "m4"]
    assert "AccessDenied" in outcome.failed["m1"]
    assert len(invalidations.created) == 1


def test_redelivered_batch_reuses_invalidations_and_trackers() -> None:
    """Given the same batch delivered twice, then the second delivery bills nothing new and
    starts no second tracker, and succeeds."""
    invalidations, tracker = FakeInvalidations(), FakeTracker()
    process_batch(batch(), CONFIG, invalidations, tracker)
    again = process_batch(batch(), CONFIG, invalidations, tracker)
    assert invalidations.calls == 4
    assert invalidations.billed_paths == 6
    assert len(tracker.executions) == 2
    assert [c.tracker_started for c in again.created] == [False, False]
    assert sorted(again.failed) == ["m3"]


def test_tracker_failure_fails_records_and_retry_reuses_the_invalidation() -> None:
    """Given Step Functions failing, then the records fail; on redelivery the same invalidation
    is returned and its tracker starts."""
    invalidations, tracker = FakeInvalidations(), FakeTracker(fail=True)
    outcome = process_batch(batch(), CONFIG, invalidations, tracker)
    assert sorted(outcome.failed) == ["m1", "m3", "m4"]
    tracker.fail = False
    retry = process_batch(batch(), CONFIG, invalidations, tracker)
    assert sorted(retry.failed) == ["m3"]
    assert len(invalidations.created) == 2
    assert len(tracker.executions) == 2


def test_a_later_reupload_gets_a_new_invalidation() -> None:
    """Given the same key uploaded again later (new sequencer), then a new invalidation is made."""
    invalidations = FakeInvalidations()
    for sequencer in ("01", "02"):
        body = s3_body(s3_record("index.html", sequencer=sequencer))
        process_batch([SqsMessage("m", body)], CONFIG, invalidations, FakeTracker())
    assert len(invalidations.created) == 4


def test_unexpected_errors_propagate_instead_of_acknowledging() -> None:
    """Given a bug-class error in an adapter, then it propagates so the whole batch is retried."""

    class Broken(FakeInvalidations):
        def create_invalidation(
            self, distribution_id: str, paths: Sequence[str], caller_reference: str
        ) -> CreatedInvalidation:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        process_batch(batch(), CONFIG, Broken(), FakeTracker())
