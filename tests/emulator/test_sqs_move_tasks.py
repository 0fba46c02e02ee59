"""SQS dead-letter queue redrive (the move-task actions moto lacks) behaves as AWS documents it,
through a boto3 client in-process and through one talking to moto's server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs.models import SQSBackend
from moto.sqs.responses import SQSResponse
from mypy_boto3_sqs import SQSClient
from mypy_boto3_sqs.literals import QueueAttributeNameType
from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

from emulator.local_aws.clock import ManualClock
from emulator.local_aws.endpoint import local_endpoint
from emulator.local_aws.sqs_move_tasks import MessageMoveTasks, message_move_tasks

REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ATTRIBUTES: dict[str, MessageAttributeValueTypeDef] = {
    "kind": {"DataType": "String", "StringValue": "object-created"},
    "attempt": {"DataType": "Number", "StringValue": "3"},
    "digest": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe"},
}
CLIENTS = ["in-process", "moto-server"]


@dataclass
class Redrive:
    """A source queue whose RedrivePolicy (maxReceiveCount 1) names a DLQ, and a spare queue."""

    sqs: SQSClient
    tasks: MessageMoveTasks
    clock: ManualClock
    source_url: str
    dlq_url: str
    other_url: str

    def arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def create_source(self, name: str) -> str:
        """Another queue dead-lettering into the DLQ."""
        policy = {"deadLetterTargetArn": self.arn(self.dlq_url), "maxReceiveCount": 1}
        attributes: dict[QueueAttributeNameType, str] = {"RedrivePolicy": json.dumps(policy)}
        return self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    def dead_letter(self, *bodies: str, source_url: str | None = None) -> list[str]:
        """Send ``bodies`` to a source queue and let its redrive policy move them to the DLQ, as
        SQS does: received once, visible again, received again. Returns their message IDs."""
        url = source_url or self.source_url
        ids = [
            self.sqs.send_message(QueueUrl=url, MessageBody=b, MessageAttributes=ATTRIBUTES)[
                "MessageId"
            ]
            for b in bodies
        ]
        for _ in range(2):
            while self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages"):
                pass
        return ids

    def counts(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        names: Any = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        visible, in_flight = (int(attributes["Attributes"][name]) for name in names)
        return visible, in_flight

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Receive (and keep in flight) every visible message of a queue."""
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages"):
            messages += [dict(message) for message in batch]
        return messages

    def list_tasks(self, max_results: int = 10) -> list[dict[str, Any]]:
        results = self.sqs.list_message_move_tasks(
            SourceArn=self.arn(self.dlq_url), MaxResults=max_results
        )["Results"]
        return [dict(result) for result in results]


@contextmanager
def redrive(client: str, *, run_immediately: bool = True) -> Iterator[Redrive]:
    clock = ManualClock(start=100.0)
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        tasks = stack.enter_context(
            message_move_tasks(clock=clock, run_immediately=run_immediately)
        )
        endpoint_url = None
        if client == "moto-server":
            endpoint_url = stack.enter_context(local_endpoint(region=REGION)).url
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint_url, config=NO_RETRIES)
        dlq_url = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
        world = Redrive(sqs, tasks, clock, "", dlq_url, "")
        world.source_url = world.create_source("invalidations")
        world.other_url = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
        yield world


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_redrive_returns_dead_letters_to_their_source_queue(client: str) -> None:
    """Given three messages (with message attributes) moved to the DLQ by the redrive policy,
    When a move task is started without a DestinationArn,
    Then the source queue holds them again, same bodies and attributes, as new messages never
    received, the DLQ is empty and the task lists as COMPLETED with its counts."""
    with redrive(client) as world:
        original_ids = world.dead_letter("a", "b", "c")
        assert world.counts(world.dlq_url) == (3, 0)

        handle = world.sqs.start_message_move_task(SourceArn=world.arn(world.dlq_url))

        assert handle["TaskHandle"]
        assert world.counts(world.dlq_url) == (0, 0)
        moved = world.drain(world.source_url)
        assert sorted(m["Body"] for m in moved) == ["a", "b", "c"]
        assert all(m["MessageAttributes"] == ATTRIBUTES for m in moved)
        assert not {m["MessageId"] for m in moved} & set(original_ids)
        assert {m["Attributes"]["ApproximateReceiveCount"] for m in moved} == {"1"}
        assert world.list_tasks() == [
            {
                "Status": "COMPLETED",
                "SourceArn": world.arn(world.dlq_url),
                "ApproximateNumberOfMessagesMoved": 3,
                "ApproximateNumberOfMessagesToMove": 3,
                "StartedTimestamp": int(world.clock.wall().timestamp() * 1000),
            }
        ]


@pytest.mark.parametrize("client", CLIENTS)
def test_an_explicit_destination_receives_every_message(client: str) -> None:
    """Given two messages in the DLQ, one sent there directly,
    When a move task is started with another queue as DestinationArn and a rate,
    Then both are in that queue, none in the source queue, and the task lists the destination
    and the rate."""
    with redrive(client) as world:
        world.dead_letter("redriven")
        world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody="sent-directly")

        world.sqs.start_message_move_task(
            SourceArn=world.arn(world.dlq_url),
            DestinationArn=world.arn(world.other_url),
            MaxNumberOfMessagesPerSecond=50,
        )

        assert sorted(m["Body"] for m in world.drain(world.other_url)) == [
            "redriven",
            "sent-directly",
        ]
        assert world.counts(world.source_url) == (0, 0)
        assert world.counts(world.dlq_url) == (0, 0)
        (task,) = world.list_tasks()
        assert task["DestinationArn"] == world.arn(world.other_url)
        assert task["MaxNumberOfMessagesPerSecond"] == 50
        assert task["ApproximateNumberOfMessagesMoved"] == 2


@pytest.mark.parametrize("client", CLIENTS)
def test_the_source_must_be_a_dead_letter_queue(client: str) -> None:
    """Given a queue no RedrivePolicy names,
    When a move task is started from it,
    Then it fails with InvalidParameterValue (400), as AWS answers, and nothing moves."""
    with redrive(client) as world:
        world.sqs.send_message(QueueUrl=world.other_url, MessageBody="stays")

        with pytest.raises(ClientError) as raised:
            world.sqs.start_message_move_task(SourceArn=world.arn(world.other_url))

        assert error_of(raised) == (
            "InvalidParameterValue",
            "Source queue must be configured as a Dead Letter Queue.",
            400,
        )
        assert world.counts(world.other_url) == (1, 0)


@pytest.mark.parametrize("client", CLIENTS)
def test_queues_that_do_not_exist_are_not_found(client: str) -> None:
    """Given an ARN naming no queue,
    When it is the SourceArn, or the DestinationArn, or ListMessageMoveTasks's SourceArn,
    Then each fails with ResourceNotFoundException (404) naming the parameter."""
    with redrive(client) as world:
        missing = world.arn(world.dlq_url).replace("dead-letters", "missing")
        calls: dict[str, Callable[[], object]] = {
            "SourceArn": lambda: world.sqs.start_message_move_task(SourceArn=missing),
            "DestinationArn": lambda: world.sqs.start_message_move_task(
                SourceArn=world.arn(world.dlq_url), DestinationArn=missing
            ),
            "SourceArn ": lambda: world.sqs.list_message_move_tasks(SourceArn=missing),
        }
        for parameter, call in calls.items():
            with pytest.raises(ClientError) as raised:
                call()
            assert error_of(raised) == (
                "ResourceNotFoundException",
                f"The resource that you specified for the {parameter.strip()} parameter "
                "doesn't exist.",
                404,
            )


@pytest.mark.parametrize("client", CLIENTS)
def test_one_active_task_per_source_queue(client: str) -> None:
    """Given a task kept RUNNING (the emulator's stand-in for AWS's asynchronous move),
    When a second task is started from the same DLQ,
    Then it fails with InvalidParameterValue; once the first completed, a new one may start."""
    with redrive(client, run_immediately=False) as world:
        world.dead_letter("a", "b")
        dlq_arn = world.arn(world.dlq_url)
        handle = world.sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
        (running,) = world.list_tasks()
        assert running["Status"] == "RUNNING"
        assert running["TaskHandle"] == handle
        assert running["ApproximateNumberOfMessagesMoved"] == 0
        assert running["ApproximateNumberOfMessagesToMove"] == 2
        assert world.counts(world.dlq_url) == (2, 0)

        with pytest.raises(ClientError) as raised:
            world.sqs.start_message_move_task(SourceArn=dlq_arn)

        assert error_of(raised) == (
            "InvalidParameterValue",
            "There is already a task running. Only one active task is allowed for a source "
            "queue arn at a given time.",
            400,
        )
        assert world.tasks.run_pending() == 1
        (completed,) = world.list_tasks()
        assert completed["Status"] == "COMPLETED"
        assert "TaskHandle" not in completed
        assert completed["ApproximateNumberOfMessagesMoved"] == 2
        assert world.counts(world.source_url) == (2, 0)
        world.sqs.start_message_move_task(SourceArn=dlq_arn)


def test_a_running_task_can_be_cancelled_once() -> None:
    """Given a RUNNING task,
    When it is cancelled,
    Then the answer counts 0 moved, it lists as CANCELLED, the messages stay in the DLQ, and
    cancelling it again, or a handle that is not one, fails as on AWS."""
    with redrive("in-process", run_immediately=False) as world:
        world.dead_letter("a")
        handle = world.sqs.start_message_move_task(SourceArn=world.arn(world.dlq_url))["TaskHandle"]

        cancelled = world.sqs.cancel_message_move_task(TaskHandle=handle)

        assert cancelled["ApproximateNumberOfMessagesMoved"] == 0
        (task,) = world.list_tasks()
        assert task["Status"] == "CANCELLED"
        assert "TaskHandle" not in task
        assert world.tasks.run_pending() == 0
        assert world.counts(world.dlq_url) == (1, 0)
        with pytest.raises(ClientError) as again:
            world.sqs.cancel_message_move_task(TaskHandle=handle)
        assert error_of(again) == ("ResourceNotFoundException", "Task does not exist.", 404)
        with pytest.raises(ClientError) as invalid:
            world.sqs.cancel_message_move_task(TaskHandle="foobared")
        assert error_of(invalid) == (
            "InvalidParameterValue",
            "Value for parameter TaskHandle is invalid.",
            400,
        )


def test_tasks_are_listed_newest_first_one_by_default() -> None:
    """Given three tasks started a second apart,
    When the DLQ's tasks are listed without MaxResults, with 2, and with 11,
    Then the newest alone, the two newest (newest first), and InvalidParameterValue."""
    with redrive("in-process") as world:
        dlq_arn = world.arn(world.dlq_url)
        for body in ("first", "second", "third"):
            world.dead_letter(body)
            world.sqs.start_message_move_task(SourceArn=dlq_arn)
            world.clock.advance(1.0)

        default = world.sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        two = world.list_tasks(max_results=2)

        assert len(default) == 1
        assert default[0]["StartedTimestamp"] == two[0]["StartedTimestamp"]
        assert two[0]["StartedTimestamp"] - two[1]["StartedTimestamp"] == 1000
        with pytest.raises(ClientError) as raised:
            world.list_tasks(max_results=11)
        assert error_of(raised)[0] == "InvalidParameterValue"


def test_messages_in_flight_in_the_dlq_stay_there() -> None:
    """Given two messages in the DLQ, one received from it (in flight),
    When a move task runs,
    Then only the visible one moves, and the receiver can still delete the one it holds."""
    with redrive("in-process") as world:
        world.dead_letter("held", "free")
        (held,) = world.sqs.receive_message(QueueUrl=world.dlq_url, VisibilityTimeout=300)[
            "Messages"
        ]

        world.sqs.start_message_move_task(SourceArn=world.arn(world.dlq_url))

        (moved,) = world.drain(world.source_url)
        assert moved["Body"] != held["Body"]
        (task,) = world.list_tasks()
        assert task["ApproximateNumberOfMessagesToMove"] == 1
        assert task["ApproximateNumberOfMessagesMoved"] == 1
        assert world.counts(world.dlq_url) == (0, 1)
        world.sqs.delete_message(QueueUrl=world.dlq_url, ReceiptHandle=held["ReceiptHandle"])
        assert world.counts(world.dlq_url) == (0, 0)


def test_each_dead_letter_goes_back_to_its_own_source_queue() -> None:
    """Given two queues dead-lettering into one DLQ, each with a message there,
    When a move task is started without a DestinationArn,
    Then each message is back in the queue it came from."""
    with redrive("in-process") as world:
        second_url = world.create_source("second-source")
        world.dead_letter("from-first")
        world.dead_letter("from-second", source_url=second_url)

        world.sqs.start_message_move_task(SourceArn=world.arn(world.dlq_url))

        assert [m["Body"] for m in world.drain(world.source_url)] == ["from-first"]
        assert [m["Body"] for m in world.drain(second_url)] == ["from-second"]


def test_a_dead_letter_of_unknown_origin_fails_a_task_with_several_sources() -> None:
    """Given two queues dead-lettering into one DLQ and a message sent straight to the DLQ
    after one that came from the first queue,
    When a move task is started without a DestinationArn,
    Then the first message moves and the task FAILS at the second, which stays in the DLQ."""
    with redrive("in-process") as world:
        world.create_source("second-source")
        world.dead_letter("known")
        world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody="unknown")

        world.sqs.start_message_move_task(SourceArn=world.arn(world.dlq_url))

        (task,) = world.list_tasks()
        assert task["Status"] == "FAILED"
        assert task["ApproximateNumberOfMessagesMoved"] == 1
        assert "give a DestinationArn" in task["FailureReason"]
        assert [m["Body"] for m in world.drain(world.source_url)] == ["known"]
        assert [m["Body"] for m in world.drain(world.dlq_url)] == ["unknown"]


def test_a_destination_deleted_before_the_move_fails_the_task() -> None:
    """Given a RUNNING task towards an explicit destination,
    When the destination is deleted and the task then runs,
    Then it is FAILED with AWS's NonExistentQueue reason and the message stays in the DLQ."""
    with redrive("in-process", run_immediately=False) as world:
        world.dead_letter("a")
        world.sqs.start_message_move_task(
            SourceArn=world.arn(world.dlq_url), DestinationArn=world.arn(world.other_url)
        )
        world.sqs.delete_queue(QueueUrl=world.other_url)

        world.tasks.run_pending()

        (task,) = world.list_tasks()
        assert task["Status"] == "FAILED"
        assert task["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
        assert world.counts(world.dlq_url) == (1, 0)


def test_a_rate_above_500_is_refused() -> None:
    """Given a DLQ,
    When a move task is started with MaxNumberOfMessagesPerSecond 501,
    Then it fails with InvalidParameterValue."""
    with redrive("in-process") as world:
        with pytest.raises(ClientError) as raised:
            world.sqs.start_message_move_task(
                SourceArn=world.arn(world.dlq_url), MaxNumberOfMessagesPerSecond=501
            )
        assert error_of(raised)[0] == "InvalidParameterValue"


def test_a_fifo_dead_letter_keeps_its_group() -> None:
    """Given a FIFO queue dead-lettering into a FIFO DLQ,
    When its dead letter is redriven,
    Then it is back in the FIFO queue with its MessageGroupId; a standard destination is
    refused."""
    with redrive("in-process") as world:
        sqs = world.sqs
        fifo: dict[QueueAttributeNameType, str] = {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
        }
        dlq_url = sqs.create_queue(QueueName="dead.fifo", Attributes=fifo)["QueueUrl"]
        policy = json.dumps({"deadLetterTargetArn": world.arn(dlq_url), "maxReceiveCount": 1})
        source_url = sqs.create_queue(
            QueueName="source.fifo", Attributes={**fifo, "RedrivePolicy": policy}
        )["QueueUrl"]
        sqs.send_message(QueueUrl=source_url, MessageBody="x", MessageGroupId="site-1")
        for _ in range(2):
            sqs.receive_message(QueueUrl=source_url, VisibilityTimeout=0)

        with pytest.raises(ClientError) as raised:
            sqs.start_message_move_task(
                SourceArn=world.arn(dlq_url), DestinationArn=world.arn(world.other_url)
            )
        sqs.start_message_move_task(SourceArn=world.arn(dlq_url))

        assert error_of(raised)[0] == "InvalidParameterValue"
        (moved,) = world.drain(source_url)
        assert (moved["Body"], moved["Attributes"]["MessageGroupId"]) == ("x", "site-1")


def test_leaving_the_context_removes_the_actions() -> None:
    """Given the move-task actions installed inside a mock,
    When the context exits (the mock still active),
    Then moto's SQS is as before: no such actions, its own receive_message, and a second
    installation is possible; two at once are refused."""
    original_receive = SQSBackend.receive_message
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
        with message_move_tasks():
            assert SQSBackend.receive_message is not original_receive
            with pytest.raises(RuntimeError), MessageMoveTasks():
                pass

        assert not hasattr(SQSResponse, "start_message_move_task")
        assert not hasattr(SQSResponse, "list_message_move_tasks")
        assert not hasattr(SQSResponse, "cancel_message_move_task")
        assert SQSBackend.receive_message is original_receive
        with pytest.raises(NotImplementedError):
            sqs.list_message_move_tasks(SourceArn=f"arn:aws:sqs:{REGION}:123456789012:x")
        with message_move_tasks():
            assert sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq_url))["Results"] == []


def _arn(sqs: SQSClient, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
