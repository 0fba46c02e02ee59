"""Batch planning: grouping, chunking, caller references, execution names."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cfinvalidator.events import ParsedMessage, parse_message
from cfinvalidator.paths import PathRules, covers
from cfinvalidator.planning import (
    MAX_PATHS_PER_REQUEST,
    BatchPlan,
    caller_reference,
    execution_name,
    plan_batch,
    tracker_input,
)
from tests.factories import BUCKET, s3_body, s3_record

RULES = PathRules()


def message(message_id: str, *keys: str, bucket: str = BUCKET, seq: str = "01") -> ParsedMessage:
    records = [s3_record(k, bucket=bucket, sequencer=f"{seq}{i}") for i, k in enumerate(keys)]
    return parse_message(message_id, s3_body(*records))


def plan(
    *messages: ParsedMessage, ids: tuple[str, ...] = ("EDIST1AAAAAAA",), size: int = 3000
) -> BatchPlan:
    return plan_batch(
        messages, distribution_ids=ids, bucket_name=BUCKET, rules=RULES, max_paths_per_request=size
    )


def test_one_request_per_distribution_with_deduplicated_paths() -> None:
    """Given two messages touching overlapping keys and two distributions, then one request per
    distribution carries each path once and serves both messages."""
    result = plan(
        message("m1", "docs/index.html", "a.css"),
        message("m2", "a.css", seq="02"),
        ids=("EDIST1AAAAAAA", "EDIST2BBBBBBB"),
    )
    assert [r.distribution_id for r in result.requests] == ["EDIST1AAAAAAA", "EDIST2BBBBBBB"]
    for request in result.requests:
        assert request.paths == ("/a.css", "/docs", "/docs/", "/docs/index.html")
        assert request.message_ids == {"m1", "m2"}
        assert request.source_keys == ("a.css", "docs/index.html")
    assert result.requests[0].caller_reference != result.requests[1].caller_reference


def test_split_only_at_the_path_limit() -> None:
    """Given more paths than one request may carry, then requests are split at the limit."""
    keys = [f"f{i:04d}.txt" for i in range(7)]
    result = plan(*(message(f"m{i}", k) for i, k in enumerate(keys)), size=3)
    assert [len(r.paths) for r in result.requests] == [3, 3, 1]
    assert result.requests[2].message_ids == {"m6"}


def test_wildcards_travel_in_requests_of_their_own() -> None:
    """Given exact keys and 16 keys CloudFront can only cover with wildcards, then exact paths
    share one request and wildcards are split 15 + 1, each serving only its own messages."""
    tilde = [message(f"t{i:02d}", f"page{i:02d}.html~") for i in range(16)]
    result = plan(message("m1", "css/site.css"), *tilde)
    assert [len(r.paths) for r in result.requests] == [1, 15, 1]
    exact, first, second = result.requests
    assert exact.message_ids == {"m1"}
    assert all(p.endswith("*") for p in first.paths + second.paths)
    assert first.message_ids | second.message_ids == {f"t{i:02d}" for i in range(16)}


def test_samples_stay_within_the_message_budget() -> None:
    """Given fifty 1,024-byte non-ASCII keys, then the tracker input stays far below 256 KiB."""
    keys = [f"{i:02d}" + "é" * 511 for i in range(50)]
    request = plan(message("m1", *keys)).requests[0]
    payload = tracker_input(request, "INV1", "2026-11-21T10:00:00.000Z")
    assert len(json.dumps(payload)) < 80 * 1024
    assert payload["pathCount"] == 50
    assert 0 < len(payload["paths"]) < 50  # type: ignore[arg-type]


def test_foreign_bucket_messages_are_rejected_and_out_of_scope_keys_reported() -> None:
    """Given an event from another bucket and a key outside the prefix, then the first is
    rejected with a reason and the second skipped."""
    rules = PathRules(key_prefix="site/")
    result = plan_batch(
        [message("m1", "site/a.html", bucket="other"), message("m2", "tmp/x", "site/b.html")],
        distribution_ids=("EDIST1AAAAAAA",),
        bucket_name=BUCKET,
        rules=rules,
    )
    assert "other" in result.rejected["m1"]
    assert result.out_of_scope_keys == ("tmp/x",)
    assert result.requests[0].paths == ("/site/b.html",)


def test_test_events_and_empty_batches_plan_nothing() -> None:
    """Given only a test event, then there is nothing to request."""
    test_event = ParsedMessage("m1", (), is_test_event=True)
    assert plan(test_event).requests == ()


def test_caller_reference_is_order_independent_and_event_specific() -> None:
    """Given the same events in any order, then the reference is the same; a new event differs."""
    a = caller_reference("D", ["e1", "e2"], ["/a", "/b"])
    assert a == caller_reference("D", ["e2", "e1", "e1"], ["/b", "/a"])
    assert a != caller_reference("D", ["e1", "e3"], ["/a", "/b"])
    assert a != caller_reference("D", ["e1", "e2"], ["/a"])
    assert a != caller_reference("E", ["e1", "e2"], ["/a", "/b"])


def test_execution_names_are_deterministic_and_legal() -> None:
    """Given a distribution and invalidation ID, then the name is stable and uses legal chars."""
    assert execution_name("E2EXAMPLE12345", "I2J0I21PCUYOIK") == "E2EXAMPLE12345-I2J0I21PCUYOIK"
    assert execution_name("E:1", "x" * 100) == ("E_1-" + "x" * 100)[:80]


def test_tracker_input_samples_lists_but_counts_everything() -> None:
    """Given a request with many paths, then the input keeps 50 of each and exact counts."""
    keys = [f"k{i:03d}" for i in range(120)]
    request = plan(message("m1", *keys)).requests[0]
    payload = tracker_input(request, "INV1", "2026-11-21T10:00:00Z")
    assert payload["pathCount"] == 120
    assert payload["sourceKeyCount"] == 120
    assert len(payload["paths"]) == 50  # type: ignore[arg-type]
    assert payload["invalidationId"] == "INV1"


batches = st.lists(
    st.lists(st.text(alphabet="ab/ ~*é", min_size=1, max_size=8), min_size=1, max_size=4),
    min_size=1,
    max_size=30,
)


@given(batches, st.integers(min_value=1, max_value=10))
def test_every_key_is_covered_by_a_request_serving_its_message(
    batch: list[list[str]], size: int
) -> None:
    """Given any batch, then every key is covered by a request that lists its message."""
    messages = [message(f"m{i}", *keys) for i, keys in enumerate(batch)]
    result = plan(*messages, size=size)
    for msg in messages:
        for event in msg.events:
            assert any(
                msg.message_id in r.message_ids and any(covers(p, "/" + event.key) for p in r.paths)
                for r in result.requests
            )
    assert all(len(r.paths) <= size for r in result.requests)
    assert len(result.requests) >= 1
    assert max(len(r.paths) for r in result.requests) <= MAX_PATHS_PER_REQUEST
