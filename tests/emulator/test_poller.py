"""The local SQS event source behaves like Lambda's: batching, the event shape, deletions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from mypy_boto3_sqs import SQSClient

from emulator.local_aws.clock import ManualClock
from emulator.local_aws.lambda_context import FakeLambdaContext
from emulator.local_aws.poller import (
    BatchRecord,
    PollerSettings,
    SqsEventSourcePoller,
)
from emulator.local_aws.s3_events import FaithfulS3Events

VISIBILITY_TIMEOUT = 120


@dataclass
class RecordingHandler:
    """A tiny handler: remembers its events and answers what the test says."""

    answer: Callable[[dict[str, Any]], Any] = lambda event: {"batchItemFailures": []}
    events: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        return self.answer(event)


@dataclass
class QueueWorld:
    sqs: SQSClient
    queue_url: str
    queue_arn: str
    clock: ManualClock
    handler: RecordingHandler

    def send(self, *bodies: str) -> list[str]:
        return [
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=b)["MessageId"]
            for b in bodies
        ]

    def poller(
        self,
        *,
        batch_size: int = 10,
        window: float = 0,
        report_failures: bool = True,
        time_scale: float = 1.0,
        timeout: float = 60,
        **kwargs: Any,
    ) -> SqsEventSourcePoller:
        return SqsEventSourcePoller(
            self.sqs,
            queue_url=self.queue_url,
            queue_arn=self.queue_arn,
            handler=self.handler,
            context_factory=lambda: FakeLambdaContext(
                function_name="batcher",
                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:batcher",
                memory_limit_in_mb=256,
                timeout_seconds=timeout,
                clock=self.clock,
            ),
            settings=PollerSettings(
                batch_size=batch_size,
                maximum_batching_window_seconds=window,
                report_batch_item_failures=report_failures,
                function_timeout_seconds=timeout,
                time_scale=time_scale,
            ),
            clock=self.clock,
            **kwargs,
        )

    def depth(self) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def receive_all(self) -> list[Any]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        return list(response.get("Messages", []))


@pytest.fixture
def world() -> Iterator[QueueWorld]:
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(
            QueueName="events", Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT)}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        yield QueueWorld(sqs, url, arn, ManualClock(), RecordingHandler())


def failing(*message_ids: str) -> Callable[[dict[str, Any]], Any]:
    return lambda event: {"batchItemFailures": [{"itemIdentifier": m} for m in message_ids]}


# ------------------------------------------------------------------------------- batching
def test_a_full_batch_is_invoked_at_once(world: QueueWorld) -> None:
    """Given 25 messages and BatchSize 10 with a long window,
    When one batch is polled,
    Then it holds exactly 10 records, closed by the batch size without waiting."""
    world.send(*(f"m{i}" for i in range(25)))

    batch = world.poller(batch_size=10, window=300).poll_batch()

    assert batch is not None
    assert batch.size == 10
    assert batch.closed_by == "batch size"
    assert world.clock() == 0.0
    assert world.depth() == (15, 0)


def test_the_window_gathers_late_records_and_closes_on_time(world: QueueWorld) -> None:
    """Given 3 messages now, one 2 s later and one 7 s later, and a 5 s window,
    When one batch is polled,
    Then it holds the first 4 and is invoked 5 s after the first record; the last waits."""
    world.send("a", "b", "c")
    world.clock.at(2.0, lambda: world.send("d"))
    world.clock.at(7.0, lambda: world.send("e"))

    batch = world.poller(batch_size=100, window=5).poll_batch()

    assert batch is not None
    assert [r["body"] for r in batch.event["Records"]] == ["a", "b", "c", "d"]
    assert batch.closed_by == "batching window"
    assert 5.0 <= batch.gathered_seconds < 5.1
    assert world.depth() == (0, 0)


def test_time_scale_shortens_the_window(world: QueueWorld) -> None:
    """Given a 30 s window scaled by 0.1,
    When one batch is polled,
    Then it is invoked 3 real seconds after the first record."""
    world.send("a")

    batch = world.poller(batch_size=100, window=30, time_scale=0.1).poll_batch()

    assert batch is not None
    assert 3.0 <= batch.gathered_seconds < 3.1


def test_without_a_window_the_first_receive_is_invoked(world: QueueWorld) -> None:
    """Given no batching window and BatchSize 10,
    When 3 messages are waiting,
    Then they are invoked at once, without waiting to fill the batch."""
    world.send("a", "b", "c")

    batch = world.poller(batch_size=10, window=0).poll_batch()

    assert batch is not None
    assert batch.size == 3
    assert world.clock() == 0.0


def test_an_empty_queue_invokes_nothing(world: QueueWorld) -> None:
    """Given an empty queue,
    When a batch is polled with 2 s to wait for a first record,
    Then no batch is returned and the handler is not called."""
    assert world.poller(window=5).poll_batch(wait_for_first_seconds=2.0) is None
    assert world.handler.events == []
    assert world.clock() >= 2.0


def test_the_payload_limit_closes_a_batch_and_keeps_the_rest(world: QueueWorld) -> None:
    """Given three 40-byte messages and a 100-byte payload limit,
    When one batch is polled,
    Then 2 records are invoked and the third is visible again for the next batch."""
    world.send("x" * 40, "y" * 40, "z" * 40)

    batch = world.poller(batch_size=10, window=5, max_payload_bytes=100).poll_batch()

    assert batch is not None
    assert batch.size == 2
    assert batch.closed_by == "payload limit"
    assert world.depth() == (1, 0)


# ------------------------------------------------------------------------------ the event
def test_records_have_the_lambda_sqs_event_shape(world: QueueWorld) -> None:
    """Given a message with a message attribute,
    When it is invoked,
    Then the record carries every field of Lambda's SQS event, in Lambda's spelling."""
    world.sqs.send_message(
        QueueUrl=world.queue_url,
        MessageBody='{"hello": "world"}',
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
    )

    world.poller().poll_batch()

    (record,) = world.handler.events[0]["Records"]
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == world.queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"]["origin"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_the_context_counts_down_from_the_function_timeout(world: QueueWorld) -> None:
    """Given a 60 s function timeout,
    When the handler has run for 15 s,
    Then the context reports 45 s remaining."""
    remaining: list[int] = []

    def answer(event: dict[str, Any]) -> Any:
        world.clock.advance(15)
        remaining.append(world.handler.contexts[-1].get_remaining_time_in_millis())
        return None

    world.handler.answer = answer
    world.send("a")

    world.poller(timeout=60).poll_batch()

    assert remaining == [45_000]


# ------------------------------------------------------------------------------ outcomes
def test_successes_are_deleted_and_reported_failures_stay(world: QueueWorld) -> None:
    """Given 5 messages and a handler reporting 2 of them as failures,
    When the batch is processed,
    Then 3 are deleted and the 2 failures stay in flight until their visibility timeout."""
    ids = world.send("a", "b", "c", "d", "e")
    world.handler.answer = failing(ids[1], ids[3])

    batch = world.poller().poll_batch()

    assert batch is not None
    assert batch.outcome == "partial"
    assert set(batch.deleted) == {ids[0], ids[2], ids[4]}
    assert set(batch.left_for_redelivery) == {ids[1], ids[3]}
    assert world.depth() == (0, 2)


def test_released_failures_are_redelivered_at_once(world: QueueWorld) -> None:
    """Given release_failures (the demo shortcut) and a handler failing one of two messages,
    When the batch is processed,
    Then the failure is visible again with a second receive count."""
    ids = world.send("a", "b")
    world.handler.answer = failing(ids[0])

    world.poller(release_failures=True).poll_batch()

    (redelivered,) = world.receive_all()
    assert redelivered["MessageId"] == ids[0]
    assert redelivered["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_handler_error_deletes_nothing(world: QueueWorld) -> None:
    """Given a handler that raises,
    When the batch is processed,
    Then no message is deleted and the error is recorded."""

    def explode(event: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    world.handler.answer = explode
    ids = world.send("a", "b", "c")

    batch = world.poller().poll_batch()

    assert batch is not None
    assert batch.outcome == "error"
    assert batch.error == "RuntimeError: boom"
    assert batch.deleted == ()
    assert set(batch.left_for_redelivery) == set(ids)
    assert world.depth() == (0, 3)


def test_a_timed_out_invocation_deletes_nothing(world: QueueWorld) -> None:
    """Given a handler that runs past the function timeout,
    When the batch is processed,
    Then nothing is deleted, as Lambda treats a timeout as a failed invocation."""

    def slow(event: dict[str, Any]) -> Any:
        world.clock.advance(61)
        return {"batchItemFailures": []}

    world.handler.answer = slow
    world.send("a")

    batch = world.poller(timeout=60).poll_batch()

    assert batch is not None
    assert batch.outcome == "timed out"
    assert batch.deleted == ()


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{}]},
        {"batchItemFailures": "all of them"},
        "not an object",
    ],
)
def test_a_malformed_failure_report_fails_the_whole_batch(world: QueueWorld, response: Any) -> None:
    """Given a handler whose batchItemFailures is malformed,
    When the batch is processed,
    Then nothing is deleted (AWS treats the whole batch as failed)."""
    world.handler.answer = lambda event: response
    world.send("a", "b")

    batch = world.poller().poll_batch()

    assert batch is not None
    assert batch.outcome == "invalid response"
    assert batch.deleted == ()


@pytest.mark.parametrize(
    "response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}]
)
def test_an_empty_failure_report_is_full_success(world: QueueWorld, response: Any) -> None:
    """Given a handler returning no failures in any of the accepted forms,
    When the batch is processed,
    Then every message is deleted."""
    world.handler.answer = lambda event: response
    world.send("a", "b")

    batch = world.poller().poll_batch()

    assert batch is not None
    assert batch.outcome == "success"
    assert world.depth() == (0, 0)


def test_without_report_batch_item_failures_the_response_is_ignored(world: QueueWorld) -> None:
    """Given an event source without ReportBatchItemFailures,
    When the handler returns failures,
    Then Lambda ignores them and deletes the whole batch."""
    ids = world.send("a", "b")
    world.handler.answer = failing(ids[0])

    batch = world.poller(report_failures=False).poll_batch()

    assert batch is not None
    assert batch.outcome == "success"
    assert world.depth() == (0, 0)


def test_poll_until_stops_when_done(world: QueueWorld) -> None:
    """Given 25 messages and BatchSize 10,
    When polling until the queue is drained,
    Then three batches of 10, 10 and 5 are invoked."""
    world.send(*(f"m{i}" for i in range(25)))
    poller = world.poller(batch_size=10, window=1)

    batches = poller.poll_until(lambda done: sum(b.size for b in done) >= 25, timeout_seconds=30)

    assert [b.size for b in batches] == [10, 10, 5]
    assert [b.number for b in poller.batches] == [1, 2, 3]


def test_poll_until_times_out(world: QueueWorld) -> None:
    """Given an empty queue,
    When polling until something that never happens,
    Then TimeoutError is raised once the (fake) time is up."""
    with pytest.raises(TimeoutError):
        world.poller().poll_until(lambda done: False, timeout_seconds=1)


# ---------------------------------------------------------------- S3 body correction
@pytest.fixture
def s3_bodies() -> Iterator[Callable[[list[str]], list[tuple[str, str]]]]:
    """Bodies moto's S3 really sends to SQS for uploads: (message ID, body)."""
    with mock_aws():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        s3.create_bucket(Bucket="site")
        url = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.put_bucket_notification_configuration(
            Bucket="site",
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )

        def upload(keys: list[str]) -> list[tuple[str, str]]:
            for key in keys:
                s3.put_object(Bucket="site", Key=key, Body=b"x")
            messages: list[tuple[str, str]] = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                messages += [(m["MessageId"], m["Body"]) for m in batch]
            return messages

        yield upload


def _s3_object(body: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(body)["Records"][0]
    return dict(record["s3"]["object"])


def test_s3_bodies_get_aws_keys_and_sequencers(
    s3_bodies: Callable[[list[str]], list[tuple[str, str]]],
) -> None:
    """Given moto's S3 events for nested, spaced and non-ASCII keys (moto writes / as %2F),
    When they are corrected,
    Then the keys are in AWS's form encoding and each record has a hexadecimal sequencer."""
    messages = s3_bodies(["docs/red flower.jpg", "blog/café-crème.html", "a/b/c.html"])
    correct = FaithfulS3Events()

    objects = [_s3_object(correct(mid, body)) for mid, body in messages if "Records" in body]

    assert [o["key"] for o in objects] == [
        "docs/red+flower.jpg",
        "blog/caf%C3%A9-cr%C3%A8me.html",
        "a/b/c.html",
    ]
    assert all(int(o["sequencer"], 16) >= 0 for o in objects)


def test_s3_bodies_get_the_fields_aws_sends(
    s3_bodies: Callable[[list[str]], list[tuple[str, str]]],
) -> None:
    """Given moto's S3 event (without userIdentity, requestParameters, responseElements),
    When it is corrected,
    Then those fields and the bucket's ownerIdentity are present, as AWS sends them."""
    (message_id, body), *_ = [m for m in s3_bodies(["index.html"]) if "Records" in m[1]]

    record = json.loads(FaithfulS3Events()(message_id, body))["Records"][0]

    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    assert "ownerIdentity" in record["s3"]["bucket"]


def test_sequencers_increase_per_key_and_repeat_on_redelivery(
    s3_bodies: Callable[[list[str]], list[tuple[str, str]]],
) -> None:
    """Given two uploads of the same key,
    When their events are corrected, and the first is corrected again (a redelivery),
    Then the later upload has the greater sequencer and the redelivery repeats its own."""
    first, second = [m for m in s3_bodies(["page.html", "page.html"]) if "Records" in m[1]]
    correct = FaithfulS3Events()

    first_sequencer = _s3_object(correct(*first))["sequencer"]
    second_sequencer = _s3_object(correct(*second))["sequencer"]

    assert second_sequencer > first_sequencer
    assert len(first_sequencer) == len(second_sequencer)
    assert correct(*first) == correct(*first)
    assert _s3_object(correct(*first))["sequencer"] == first_sequencer


def test_other_bodies_pass_unchanged() -> None:
    """Given an s3:TestEvent, a non-S3 JSON body and plain text,
    When corrected,
    Then they are unchanged."""
    correct = FaithfulS3Events()
    test_event = '{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"site"}'

    assert correct("1", test_event) == test_event
    assert correct("2", '{"Records": [{"eventSource": "aws:sns"}]}') == (
        '{"Records": [{"eventSource": "aws:sns"}]}'
    )
    assert correct("3", "plain text") == "plain text"


def test_batch_records_are_kept_in_order(world: QueueWorld) -> None:
    """Given two polls,
    When both batches were invoked,
    Then the poller's history numbers them in order."""
    world.send("a")
    poller = world.poller()
    first = poller.poll_batch()
    world.send("b")
    second = poller.poll_batch()

    assert isinstance(first, BatchRecord)
    assert isinstance(second, BatchRecord)
    assert [b.number for b in poller.batches] == [1, 2]
