"""The pipeline simulation: an SQS queue and event source that behave like AWS's, the real
service against the faithful CloudFront fake, and a report that tells served keys from lost ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError

from cfinvalidator.events import parse_message
from cfinvalidator.ports import DeadLetter, Deferral
from cfinvalidator.service import SqsMessage
from emulator.local_aws.clock import EPOCH, ManualClock
from emulator.simulation.engine import Simulation, simulate
from emulator.simulation.handler import ServiceHandler, SimContext
from emulator.simulation.queue import SimQueue
from emulator.simulation.report import Report, percentile
from emulator.simulation.services import SimTracker
from emulator.simulation.settings import SimSettings, Upload
from emulator.simulation.uploads import s3_event_body


# ------------------------------------------------------------------------------------ helpers
def make_queue(
    visibility_timeout: float = 30.0, max_receive_count: int = 3
) -> tuple[SimQueue, ManualClock]:
    clock = ManualClock()
    queue = SimQueue(
        clock, visibility_timeout_seconds=visibility_timeout, max_receive_count=max_receive_count
    )
    return queue, clock


@dataclass
class Delivery:
    at: float
    message_ids: tuple[str, ...]
    receive_counts: tuple[int, ...]


@dataclass
class RecordingHandler:
    """Creates nothing; remembers each batch and reports the failures ``fail`` picks."""

    fail: Callable[[SqsMessage, SimContext], bool] | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        self.deliveries.append(
            Delivery(
                context.now(),
                tuple(m.message_id for m in messages),
                tuple(m.receive_count for m in messages),
            )
        )
        fail = self.fail
        return set() if fail is None else {m.message_id for m in messages if fail(m, context)}


@dataclass
class PathsHandler:
    """A naive strategy: one CreateInvalidation of fixed paths per batch, straight through the
    boto3 client, and a tracker for it; reports every record as failed if CloudFront refuses."""

    paths: tuple[str, ...]
    refused: list[str] = field(default_factory=list)

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        distribution_id = context.config.distribution_ids[0]
        try:
            response = context.cloudfront.create_invalidation(
                DistributionId=distribution_id,
                InvalidationBatch={
                    "Paths": {"Quantity": len(self.paths), "Items": list(self.paths)},
                    "CallerReference": f"naive-{context.invocation}",
                },
            )
        except ClientError as error:
            self.refused.append(error.response["Error"]["Code"])
            return {m.message_id for m in messages}
        invalidation_id = response["Invalidation"]["Id"]
        context.tracker.start(
            f"{distribution_id}-{invalidation_id}",
            {"distributionId": distribution_id, "invalidationId": invalidation_id},
        )
        return set()


def uploads_every(seconds: float, count: int, key: str = "img/photo {}.jpg") -> list[Upload]:
    return [Upload(at=i * seconds, key=key.format(i)) for i in range(count)]


# -------------------------------------------------------------------------------- the queue
def test_receive_hides_message_for_visibility_timeout_and_counts_receives() -> None:
    """Given a sent message
    When it is received and the visibility timeout passes without a delete
    Then it is invisible meanwhile, comes back after exactly the timeout with receive count 2
    and a new receipt handle."""
    queue, clock = make_queue(visibility_timeout=30.0)
    message_id = queue.send("body")

    first = queue.receive(10)
    clock.set(29.9)
    hidden = queue.receive(10)
    clock.set(30.0)
    second = queue.receive(10)

    assert [m.message_id for m in first] == [message_id]
    assert first[0].receive_count == 1
    assert hidden == []
    assert [m.receive_count for m in second] == [2]
    assert second[0].receipt_handle != first[0].receipt_handle


def test_delete_needs_the_latest_receipt_handle() -> None:
    """Given a message received twice
    When it is deleted with the first receipt handle, then with the second
    Then the stale handle deletes nothing and the latest one deletes it for good."""
    queue, clock = make_queue(visibility_timeout=10.0)
    queue.send("body")
    old = queue.receive(1)[0].receipt_handle
    clock.set(10.0)
    new = queue.receive(1)[0].receipt_handle

    assert queue.delete(old) is False
    assert queue.delete(new) is True
    clock.set(100.0)
    assert queue.receive(10) == []
    assert queue.empty


def test_change_message_visibility_applies_from_the_call_to_in_flight_messages_only() -> None:
    """Given a received message
    When its visibility is changed to 5 s at t=2, and a visible message's is changed
    Then it returns at t=7 (not at the 30 s timeout), and the visible one cannot be changed."""
    queue, clock = make_queue(visibility_timeout=30.0)
    queue.send("a")
    received = queue.receive(1)[0]
    clock.set(2.0)

    assert queue.change_visibility(received.receipt_handle, 5) is True
    clock.set(6.9)
    assert queue.receive(1) == []
    clock.set(7.0)
    again = queue.receive(1)
    assert [m.message_id for m in again] == [received.message_id]
    clock.set(37.0)  # visible again, not in flight: ChangeMessageVisibility is refused
    assert queue.visible_count == 1
    assert queue.change_visibility(again[0].receipt_handle, 5) is False


def test_redrive_moves_a_message_to_the_dlq_on_the_receive_past_max_receive_count() -> None:
    """Given maxReceiveCount 3
    When a message is received and never deleted
    Then it is delivered 3 times, and the 4th receive moves it to the DLQ instead."""
    queue, clock = make_queue(visibility_timeout=10.0, max_receive_count=3)
    message_id = queue.send("body")
    counts: list[int] = []
    for moment in (0.0, 10.0, 20.0, 30.0):
        clock.set(moment)
        counts.extend(m.receive_count for m in queue.receive(10))

    assert counts == [1, 2, 3]
    assert [(d.message_id, d.via, d.receive_count, d.at) for d in queue.dead_letters] == [
        (message_id, "redrive", 3, 30.0)
    ]
    assert queue.empty


def test_service_ports_defer_and_dead_letter() -> None:
    """Given two received messages
    When the service defers one for 60 s and dead-letters the other
    Then the first returns at t=60 and is counted as a deferral; the second is in the DLQ."""
    queue, clock = make_queue(visibility_timeout=660.0)
    first, second = queue.send("a"), queue.send("b")
    received = {m.message_id: m for m in queue.receive(10)}

    not_changed = queue.defer([Deferral(first, received[first].receipt_handle, 60)])
    not_copied = queue.dead_letter([DeadLetter(second, "b", "AccessDenied", "nope", 1)])
    stale = queue.defer([Deferral(first, "rh-unknown", 60)])

    assert (not_changed, not_copied, stale) == (set(), set(), {first})
    assert queue.deferrals_requested == 2
    assert [(d.message_id, d.via, d.error_code) for d in queue.dead_letters] == [
        (second, "service", "AccessDenied")
    ]
    clock.set(60.0)
    assert [m.message_id for m in queue.receive(10)] == [first]


def test_receive_respects_the_byte_budget_but_always_returns_one_message() -> None:
    """Given three messages
    When received with a byte budget smaller than one message
    Then exactly one is returned and the others stay visible."""
    queue, _ = make_queue()
    for body in ("a", "b", "c"):
        queue.send(body)

    taken = queue.receive(10, max_bytes=1)

    assert len(taken) == 1
    assert queue.visible_count == 2


# ------------------------------------------------------------------------------ S3 bodies
def test_s3_event_body_is_what_s3_sends_and_the_service_parses_it_back() -> None:
    """Given a key with a space, a plus, a slash and non-ASCII
    When its S3 event body is built at t=1.2345
    Then the key is form-encoded with '/' kept, eventTime has milliseconds and Z, and the
    service's parser recovers the key, the time and the sequencer."""
    key = "dir/red flower+1/é.jpg"
    body = s3_event_body(key, at=1.2345, sequencer="00000000049A00000003")
    record = json.loads(body)["Records"][0]

    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"] == "2026-11-21T00:00:01.234Z"
    assert record["s3"]["object"]["key"] == "dir/red+flower%2B1/%C3%A9.jpg"
    event = parse_message("m-1", body).events[0]
    assert event.key == key
    assert event.sequencer == "00000000049A00000003"
    assert event.event_time is not None
    assert (event.event_time - EPOCH).total_seconds() == pytest.approx(1.234)


def test_removed_upload_is_an_object_removed_event() -> None:
    """Given a removal
    When its body is built
    Then it is ObjectRemoved:Delete without size or eTag, and parses as a removal."""
    body = s3_event_body("a.txt", at=0.0, sequencer="01", kind="removed")
    record = json.loads(body)["Records"][0]

    assert record["eventName"] == "ObjectRemoved:Delete"
    assert set(record["s3"]["object"]) == {"key", "sequencer"}
    assert parse_message("m", body).events[0].kind == "removed"


# ------------------------------------------------------------------------------- tracker
@pytest.mark.parametrize(
    ("completes_at", "notified_at"),
    [(50.0, 50.0), (50.5, 60.0), (10.0, 30.0), (30.0, 30.0), (31.0, 40.0)],
)
def test_tracker_notifies_at_the_first_poll_at_or_after_completion(
    completes_at: float, notified_at: float
) -> None:
    """Given a tracker started at t=30 polling every 10 s
    When the invalidation completes at ``completes_at``
    Then COMPLETED is published at the first poll (30, 40, 50...) at or after it."""
    clock = ManualClock(30.0)
    tracker = SimTracker(clock, lambda _: completes_at, poll_interval_seconds=10.0)

    assert tracker.start("E1-I1", {"distributionId": "E1", "invalidationId": "I1"}) is True
    run = tracker.runs["E1-I1"]
    assert (run.notified_at, run.status) == (notified_at, "COMPLETED")


def test_tracker_times_out_and_reports_unknown_invalidations_as_failed() -> None:
    """Given a 900 s completion timeout
    When one invalidation completes after 2,000 s and another does not exist
    Then the first is TIMED_OUT at the 900 s poll and the second FAILED at once."""
    tracker = SimTracker(
        ManualClock(0.0),
        lambda i: 2000.0 if i == "I1" else None,
        poll_interval_seconds=10.0,
        timeout_seconds=900.0,
    )
    tracker.start("a", {"invalidationId": "I1"})
    tracker.start("b", {"invalidationId": "missing"})

    assert (tracker.runs["a"].notified_at, tracker.runs["a"].status) == (900.0, "TIMED_OUT")
    assert (tracker.runs["b"].notified_at, tracker.runs["b"].status) == (0.0, "FAILED")


def test_tracker_execution_names_are_unique_as_in_step_functions() -> None:
    """Given a running execution
    When the same name is started with the same input, with another input, and after it ended
    Then only the first is idempotent (True); the others are ExecutionAlreadyExists (False)."""
    clock = ManualClock(0.0)
    tracker = SimTracker(clock, lambda _: 15.0, poll_interval_seconds=10.0)
    payload = {"invalidationId": "I1"}
    tracker.start("n", payload)

    assert tracker.start("n", dict(payload)) is True
    assert tracker.start("n", {"invalidationId": "I1", "extra": 1}) is False
    clock.set(20.0)  # notified at 20: the execution has ended
    assert tracker.start("n", dict(payload)) is False
    assert len(tracker.runs) == 1


# ------------------------------------------------------------------------- event source
def test_batching_window_gathers_uploads_from_the_first_visible_record() -> None:
    """Given a 10 s window
    When uploads arrive at 0, 2 and 4 s, then at 15 s
    Then one invocation at 10 s carries the first three and another at 25 s the last."""
    handler = RecordingHandler()
    uploads = [Upload(at, f"k{at}") for at in (0.0, 2.0, 4.0, 15.0)]

    report = simulate(uploads, SimSettings(batching_window_seconds=10.0), handler=handler)

    assert [(d.at, len(d.message_ids)) for d in handler.deliveries] == [(10.0, 3), (25.0, 1)]
    assert [i.closed_by for i in report.invocations] == ["batching window"] * 2


def test_batch_size_invokes_before_the_window_closes() -> None:
    """Given batch size 10, a 5 s window and concurrency 2
    When 25 uploads arrive at once
    Then two full batches are invoked at once and the remaining 5 when the window closes."""
    handler = RecordingHandler()
    settings = SimSettings(batch_size=10, batching_window_seconds=5.0, max_concurrency=2)

    report = simulate(uploads_every(0.0, 25), settings, handler=handler)

    assert [(d.at, len(d.message_ids)) for d in handler.deliveries] == [
        (0.0, 10),
        (0.0, 10),
        (5.0, 5),
    ]
    assert [i.closed_by for i in report.invocations] == [
        "batch size",
        "batch size",
        "batching window",
    ]


def test_window_zero_invokes_at_once_with_what_is_visible() -> None:
    """Given no batching window (batch size 10)
    When three uploads arrive at 0 s and one at 3 s
    Then the first three are invoked at 0 s together and the last at 3 s."""
    handler = RecordingHandler()
    uploads = [Upload(0.0, "a"), Upload(0.0, "b"), Upload(0.0, "c"), Upload(3.0, "d")]

    simulate(uploads, SimSettings(batch_size=10, batching_window_seconds=0.0), handler=handler)

    assert [(d.at, len(d.message_ids)) for d in handler.deliveries] == [(0.0, 3), (3.0, 1)]


def test_payload_limit_closes_a_batch_early() -> None:
    """Given a 3,000-byte payload limit (about two S3 event records)
    When five uploads arrive at once
    Then batches of two are invoked at once and the last record after the window."""
    settings = SimSettings(batch_size=10, batching_window_seconds=5.0, max_payload_bytes=3000)

    report = simulate(uploads_every(0.0, 5), settings, handler=RecordingHandler())

    assert [(i.started_at, i.records, i.closed_by) for i in report.invocations] == [
        (0.0, 2, "payload limit"),
        (0.0, 2, "payload limit"),
        (5.0, 1, "batching window"),
    ]


@pytest.mark.parametrize(("concurrency", "starts"), [(1, [0.0, 5.0, 10.0]), (2, [0.0, 0.0, 5.0])])
def test_max_concurrency_limits_invocations_in_flight(
    concurrency: int, starts: list[float]
) -> None:
    """Given 5 s invocations and three full batches waiting
    When the concurrency is 1 or 2
    Then a batch starts only when an invocation slot is free."""
    settings = SimSettings(
        batch_size=10,
        batching_window_seconds=1.0,
        max_concurrency=concurrency,
        invocation_seconds=5.0,
    )

    report = simulate(uploads_every(0.0, 30), settings, handler=RecordingHandler())

    assert [i.started_at for i in report.invocations] == starts
    assert all(i.ended_at == i.started_at + 5.0 for i in report.invocations)


def test_reported_failures_return_after_the_visibility_timeout_and_the_rest_are_deleted() -> None:
    """Given a handler that reports one record as failed on its first delivery
    When the batch is invoked
    Then the others are deleted, and the failed one is redelivered alone with receive count 2
    once the visibility timeout has passed and a new window has closed."""
    handler = RecordingHandler(fail=lambda m, _: m.body.count("k0") > 0 and m.receive_count == 1)
    settings = SimSettings(visibility_timeout_seconds=100.0, batching_window_seconds=10.0)

    report = simulate([Upload(0.0, "k0"), Upload(1.0, "k1")], settings, handler=handler)

    assert [(d.at, len(d.message_ids), d.receive_counts) for d in handler.deliveries] == [
        (10.0, 2, (1, 1)),
        (120.0, 1, (2,)),
    ]
    assert [(i.failures, i.outcome) for i in report.invocations] == [(1, "partial"), (0, "success")]
    assert report.dead_letters == ()


def test_a_raising_handler_deletes_nothing_and_the_redrive_policy_dead_letters() -> None:
    """Given a handler that always raises and maxReceiveCount 2 (visibility 60 s, window 30 s)
    When uploads arrive
    Then both deliveries fail whole, and the next receive moves every record to the DLQ,
    so no key counts as lost."""

    def fails(messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        raise RuntimeError("boom")

    settings = SimSettings(visibility_timeout_seconds=60.0, env={"MAX_RECEIVE_COUNT": "2"})

    report = simulate(uploads_every(1.0, 3), settings, handler=fails)

    assert [(i.started_at, i.outcome, i.failures) for i in report.invocations] == [
        (30.0, "error", 3),
        (120.0, "error", 3),
    ]
    assert report.invocations[0].error == "RuntimeError: boom"
    assert [(d.via, d.receive_count, d.at) for d in report.dead_letters] == [
        ("redrive", 2, 210.0)
    ] * 3
    assert report.keys_lost == 0


def test_failure_ids_outside_the_batch_fail_the_whole_batch() -> None:
    """Given a handler that names an itemIdentifier not in the batch
    When it is invoked
    Then Lambda treats the response as invalid and deletes nothing."""

    def answers_badly(messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        return {"not-a-message-of-this-batch"}

    settings = SimSettings(visibility_timeout_seconds=60.0, env={"MAX_RECEIVE_COUNT": "1"})

    report = simulate(uploads_every(1.0, 2), settings, handler=answers_badly)

    assert [(i.outcome, i.failures) for i in report.invocations] == [("invalid response", 2)]
    assert len(report.dead_letters) == 2


def test_a_handler_that_runs_past_the_timeout_is_treated_as_timed_out() -> None:
    """Given a 10 s function timeout
    When the handler sleeps 20 s (simulated)
    Then the invocation ends at the timeout and its records stay on the queue."""

    def slow(messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        context.sleep(20.0)
        return set()

    settings = SimSettings(
        function_timeout_seconds=10.0,
        visibility_timeout_seconds=60.0,
        env={"MAX_RECEIVE_COUNT": "1"},
    )

    report = simulate([Upload(0.0, "a")], settings, handler=slow)

    invocation = report.invocations[0]
    assert (invocation.outcome, invocation.ended_at - invocation.started_at) == ("timed out", 10)
    assert [d.via for d in report.dead_letters] == ["redrive"]


# --------------------------------------------------------------------------- end to end
def test_twenty_uploads_in_one_window_become_one_tracked_invalidation() -> None:
    """Given a 30 s window, 15 s to complete and a tracker polling every 10 s
    When 20 files in one directory are uploaded over 10 s
    Then one invocation at 30 s makes one CreateInvalidation, every key is covered, it
    completes at 45 s, and the notification comes at the first poll after completion
    (request + 2 polls)."""
    settings = SimSettings(batching_window_seconds=30.0, completion_seconds=15.0)

    report = simulate(uploads_every(0.5, 20), settings)

    assert report.invocation_count == 1
    assert report.create_invalidation_calls == 1
    (invalidation,) = report.invalidations
    assert invalidation.created_at == 30.0
    assert invalidation.notified_at == 30.0 + math.ceil(15.0 / 10.0) * 10.0
    assert invalidation.notification_status == "COMPLETED"
    assert report.keys_lost == 0
    assert all(
        (o.requested_at, o.completed_at, o.notified_at) == (30.0, 45.0, 50.0)
        for o in report.outcomes
    )
    assert report.billed_paths == len(invalidation.paths)
    assert report.deferrals == 0
    assert report.dead_letters == ()
    assert [n.status for n in report.notifications] == ["COMPLETED"]
    assert percentile(report.request_latencies(), 50) == pytest.approx(25.0)


def test_every_distribution_gets_its_invalidation() -> None:
    """Given two distributions
    When keys are uploaded
    Then each distribution gets an invalidation and a tracker, and no key is lost."""
    report = simulate(uploads_every(1.0, 3), SimSettings(distributions=2))

    assert len({i.distribution_id for i in report.invalidations}) == 2
    assert len(report.tracker_runs) == 2
    assert report.keys_lost == 0
    assert all(o.notified_at is not None for o in report.outcomes)


def test_full_quota_defers_records_until_the_occupying_invalidation_completes() -> None:
    """Given a distribution whose whole in-progress quota is taken for 120 s
    When 20 files are uploaded
    Then the service defers them (no CreateInvalidation while the quota is full) and serves
    them once the occupying invalidations complete; nothing is lost or dead-lettered."""
    settings = SimSettings(env={"COLLAPSE_THRESHOLD": "0"})
    with Simulation(uploads_every(0.5, 20), settings) as sim:
        sim.occupy(files=3000, wildcards=15, completes_in_seconds=120.0)
        report = sim.run()

    assert report.deferrals > 0
    assert report.keys_lost == 0
    assert report.dead_letters == ()
    assert len(report.occupying) == 2
    assert report.billed_paths == 20  # the occupying 3,015 paths are not counted
    assert all(i.created_at >= 120.0 for i in report.invalidations)
    assert all(o.requested_at is not None and o.requested_at >= 120.0 for o in report.outcomes)
    handler_failures = [i.failures for i in report.invocations]
    assert handler_failures[0] == 20
    assert handler_failures[-1] == 0


def test_throttling_is_retried_inside_the_invocation() -> None:
    """Given CloudFront throttling the next three CreateInvalidation calls
    When a batch is served
    Then the service retries after backoff (the invocation lasts longer), the throttled calls
    are counted, and one invalidation covers every key."""
    handler = ServiceHandler()
    with Simulation(uploads_every(1.0, 5), SimSettings(), handler=handler) as sim:
        sim.cloudfront_fake.inject("CreateInvalidation", "Throttling", times=3)
        report = sim.run()

    assert report.throttled_calls == 3
    assert report.create_invalidation_calls == 4
    assert report.created_invalidations == 1
    assert report.keys_lost == 0
    (invocation,) = report.invocations
    assert invocation.ended_at - invocation.started_at > 1.0
    assert handler.outcomes[0].throttles == 3


def test_scheduled_actions_run_at_their_simulated_time() -> None:
    """Given an action scheduled at 100 s that injects an InvalidArgument
    When uploads arrive before and after it
    Then the first batch is served and the second is dead-lettered by the service with a
    FAILED notification; neither counts as lost."""
    uploads = [Upload(0.0, "a.html"), Upload(150.0, "b.html")]
    with Simulation(uploads, SimSettings()) as sim:
        sim.at(100.0, lambda s: s.cloudfront_fake.inject("CreateInvalidation", "InvalidArgument"))
        report = sim.run()

    assert report.created_invalidations == 1
    assert report.rejected_calls == {"InvalidArgument": 1}
    assert [(d.via, d.error_code) for d in report.dead_letters] == [("service", "InvalidArgument")]
    assert report.failed_notifications == 1
    assert report.keys_lost == 0
    outcome_b = report.outcomes[1]
    assert (outcome_b.dead_lettered, outcome_b.requested_at) == (True, None)


def test_report_counts_the_keys_a_handler_silently_drops() -> None:
    """Given a handler that acknowledges every record without invalidating anything
    When keys are uploaded
    Then every key is lost: neither covered nor in the DLQ."""
    report = simulate(uploads_every(1.0, 4), SimSettings(), handler=RecordingHandler())

    assert report.keys_lost == 4
    assert [o.upload.key for o in report.lost_uploads()] == [f"img/photo {i}.jpg" for i in range(4)]


@pytest.mark.parametrize(
    ("paths", "covered"),
    [
        (("/img/photo%200.jpg",), {"img/photo 0.jpg"}),  # exact, encoded as CloudFront wants
        (("/img/*",), {"img/photo 0.jpg"}),
        (("/im*",), {"img/photo 0.jpg"}),  # a wildcard is a prefix, not a directory
        (("/docs/index.html",), set()),  # /docs/ and /docs are requested too
        (("/docs/index.html", "/docs/", "/docs"), {"docs/index.html"}),
        (("/*",), {"img/photo 0.jpg", "docs/index.html"}),
    ],
)
def test_coverage_needs_every_viewer_path_exactly_or_by_prefix(
    paths: tuple[str, ...], covered: set[str]
) -> None:
    """Given a naive handler invalidating fixed paths
    When a file and a directory index are uploaded
    Then a key counts as covered only if each of its viewer paths is equal to an exact path
    or starts with a wildcard's prefix."""
    uploads = [Upload(0.0, "img/photo 0.jpg"), Upload(0.0, "docs/index.html")]

    report = simulate(uploads, SimSettings(), handler=PathsHandler(paths))

    assert {o.upload.key for o in report.outcomes if not o.lost} == covered
    assert report.keys_lost == 2 - len(covered)


@pytest.mark.parametrize(
    ("paths", "covered"),
    [(("/w/*",), True), (("/w/x*",), True), (("/w/x~1.txt",), False), (("/w/xy*",), False)],
)
def test_a_key_only_a_wildcard_can_name_is_covered_by_broader_or_equal_wildcards(
    paths: tuple[str, ...], covered: bool
) -> None:
    """Given a key containing '~' (CloudFront cannot name it: its viewer path is /w/x*)
    When a naive handler invalidates ``paths``
    Then only a wildcard whose prefix starts the key's prefix covers it."""
    report = simulate([Upload(0.0, "w/x~1.txt")], SimSettings(), handler=PathsHandler(paths))

    assert report.keys_lost == (0 if covered else 1)


def test_invalidations_created_before_an_upload_do_not_cover_it() -> None:
    """Given a naive handler invalidating /* for each batch
    When a key is uploaded again after the last batch was served
    Then the re-upload is covered by the later batch's invalidation, with its own latency."""
    handler = PathsHandler(("/*",))
    uploads = [Upload(0.0, "a.html"), Upload(100.0, "a.html")]

    report = simulate(uploads, SimSettings(), handler=handler)

    assert [o.requested_at for o in report.outcomes] == [30.0, 130.0]
    assert [o.request_latency for o in report.outcomes] == [30.0, 30.0]


def test_quota_errors_of_a_naive_strategy_are_counted() -> None:
    """Given a quota fully taken for 100 s and a naive handler that ignores it
    When a key is uploaded
    Then CloudFront refuses with TooManyInvalidationsInProgress until the quota frees up."""
    handler = PathsHandler(("/a.html",))
    settings = SimSettings(visibility_timeout_seconds=40.0, env={"MAX_RECEIVE_COUNT": "10"})
    with Simulation([Upload(0.0, "a.html")], settings, handler=handler) as sim:
        sim.occupy(files=3000, completes_in_seconds=100.0)
        report = sim.run()

    assert report.quota_errors == len(handler.refused) >= 1
    assert set(handler.refused) == {"TooManyInvalidationsInProgress"}
    assert report.created_invalidations == 1
    assert report.invalidations[0].created_at >= 100.0
    assert report.keys_lost == 0


def test_keys_outside_key_prefix_are_out_of_scope_not_lost() -> None:
    """Given KEY_PREFIX public/
    When a key outside it is uploaded with one inside
    Then the outside key needs no invalidation and is not lost."""
    uploads = [Upload(0.0, "private/a.txt"), Upload(0.0, "public/b.txt")]

    report = simulate(uploads, SimSettings(env={"KEY_PREFIX": "public/"}))

    assert [(o.upload.key, o.in_scope, o.lost) for o in report.outcomes] == [
        ("private/a.txt", False, False),
        ("public/b.txt", True, False),
    ]
    assert report.invalidations[0].paths == ("/public/b.txt",)


def test_same_seed_gives_the_same_report_and_another_seed_other_message_ids() -> None:
    """Given a run with sampled completion times, deferrals and two distributions
    When it is run twice with one seed and once with another
    Then the first two reports are identical, and the third has other message IDs."""
    uploads = [Upload(i * 0.7, f"d{i % 7}/f{i}.html") for i in range(150)]

    def run(seed: int) -> Report:
        settings = SimSettings(
            seed=seed,
            distributions=2,
            batch_size=50,
            batching_window_seconds=5.0,
            completion_seconds=lambda rng: rng.uniform(5.0, 60.0),
            env={"COLLAPSE_THRESHOLD": "0"},
        )
        with Simulation(uploads, settings) as sim:
            sim.occupy(1, files=3000, wildcards=15, completes_in_seconds=45.0)
            return sim.run()

    first, second, other = run(7), run(7), run(8)

    assert first == second
    assert first.deferrals > 0
    assert first.outcomes[0].message_id != other.outcomes[0].message_id


def test_settings_refuse_what_aws_refuses() -> None:
    """Given a batch size above 10
    When no batching window is set
    Then the settings are refused, as AWS refuses the event source mapping."""
    with pytest.raises(ValueError, match="batching window"):
        SimSettings(batch_size=100, batching_window_seconds=0.0)


def test_percentile_is_nearest_rank() -> None:
    """Given 1..100
    When p50 and p99 are taken
    Then they are 50 and 99, and no values give None."""
    values = [float(v) for v in range(100, 0, -1)]

    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (50, 99, None)


def test_the_safety_cap_stops_the_run_and_says_so() -> None:
    """Given a cap of 50 simulated seconds
    When an upload is due at 100 s
    Then the run stops as truncated, and the upload it never delivered counts as lost."""
    uploads = [Upload(0.0, "a.html"), Upload(100.0, "b.html")]

    report = simulate(uploads, SimSettings(max_simulated_seconds=50.0))

    assert report.truncated
    assert [(o.upload.key, o.message_id is None, o.lost) for o in report.outcomes] == [
        ("a.html", False, False),
        ("b.html", True, True),
    ]
