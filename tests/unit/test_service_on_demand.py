"""On-demand requests (``cfinv invalidate``) served by the batcher like any other change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cfinvalidator.on_demand import REQUEST_TYPE, request_body
from cfinvalidator.service import SqsMessage
from tests.unit.test_service import D1, D2, World, msg

REQUESTED_AT = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def request(message_id: str, *paths: str, request_id: str = "r1", **sqs: object) -> SqsMessage:
    body = request_body(paths, request_id, REQUESTED_AT)
    return SqsMessage(message_id, body, f"handle-{message_id}", **sqs)  # type: ignore[arg-type]


def test_a_request_is_invalidated_as_asked_on_every_distribution() -> None:
    """Given a request for /index.html and /css/* beside an upload,
    When the batch is served,
    Then each distribution gets one invalidation holding the requested paths as they are and
    the upload's, and the tracker input names the paths as its sources."""
    world = World()

    outcome = world.run([request("m1", "/index.html", "/css/*"), msg("m2", "about.html")])

    assert outcome.failed == {}
    assert outcome.dead_lettered == {}
    assert [(d, paths) for d, paths, _ in world.cloudfront.created] == [
        (D1, ("/about.html", "/css/*", "/index.html")),
        (D2, ("/about.html", "/css/*", "/index.html")),
    ]
    payload = world.tracker.executions[f"{D1}-I0000000000000"]
    assert payload["sourceKeys"] == ["/css/*", "/index.html", "about.html"]


def test_a_redelivered_request_is_not_billed_twice() -> None:
    """Given a request already served,
    When the same message is delivered again,
    Then CloudFront is asked with the same CallerReference (it returns the first invalidation),
    or not at all: nothing new is billed."""
    world = World()
    world.run([request("m1", "/index.html")])
    world.cloudfront.now += timedelta(seconds=5)

    world.run([request("m1", "/index.html", receive_count=2)])

    assert world.cloudfront.billed_paths == 2  # /index.html on each distribution, once


def test_a_request_that_slipped_past_cfinv_is_dead_lettered_naming_the_path() -> None:
    """Given a request body with a path CloudFront would refuse (sent by hand, not by cfinv),
    When the batch is served,
    Then that one record is dead-lettered as malformed, with a FAILED notification whose cause
    names the path, and the rest of the batch is served."""
    world = World()
    body = json.dumps(
        {
            "type": REQUEST_TYPE,
            "version": 1,
            "requestId": "r9",
            "requestedAt": "2026-11-21T10:00:00.000Z",
            "paths": ["/ok.html", "no-slash.html"],
        }
    )

    outcome = world.run([SqsMessage("bad", body, "h"), msg("m2", "a.css")])

    assert list(outcome.dead_lettered) == ["bad"]
    [(notice, _)] = world.notifier.messages
    assert notice["error"] == "MalformedEvent"
    assert "'no-slash.html' must start with /" in str(notice["cause"])
    assert [paths for _, paths, _ in world.cloudfront.created] == [("/a.css",), ("/a.css",)]


def test_a_request_counts_from_when_it_reached_the_queue_not_from_the_senders_clock() -> None:
    """Given a sender whose clock runs an hour behind (requestedAt an hour early) and an
    invalidation of /* created half an hour before the request reached the queue,
    When the request is served,
    Then the earlier /* does not count as covering it (SentTimestamp decides): it is requested."""
    world = World()
    sent = world.cloudfront.now
    world.cloudfront.create_invalidation(D1, ["/*"], "someone-else")
    world.cloudfront.now = sent + timedelta(minutes=30)
    late_sender = request("m1", "/index.html", sent_at=world.cloudfront.now)
    body = json.loads(late_sender.body)
    body["requestedAt"] = (world.cloudfront.now - timedelta(hours=1)).isoformat()
    message = SqsMessage("m1", json.dumps(body), "h", sent_at=world.cloudfront.now)

    world.run([message])

    assert [d for d, paths, _ in world.cloudfront.created if paths == ("/index.html",)] == [D1, D2]
