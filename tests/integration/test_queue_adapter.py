"""The SQS adapter against moto: batches of 10, run in parallel, failures reported per record."""

from __future__ import annotations

import boto3
from moto import mock_aws
from mypy_boto3_sqs.type_defs import MessageTypeDef

from cfinvalidator.adapters.sqs import Boto3QueueApi
from cfinvalidator.ports import DeadLetter, Deferral


def test_deferring_and_dead_lettering_many_records() -> None:
    """Given 25 received records (hidden for 300 s), when all are deferred by 0 s, then all are
    visible again (the new visibility was applied to every chunk); when they are
    dead-lettered, then the DLQ holds each original body with its error attributes; a stale
    receipt handle is reported as not deferred."""
    with mock_aws():
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        for n in range(25):
            sqs.send_message(QueueUrl=queue, MessageBody=f"body-{n}")
        received: list[MessageTypeDef] = []
        while len(received) < 25:
            received += sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        api = Boto3QueueApi(sqs, queue, dlq)
        assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
        deferrals = [Deferral(m["MessageId"], m["ReceiptHandle"], 0) for m in received]
        assert api.defer(deferrals) == set()
        again: list[str] = []
        while len(again) < 25:
            again += [
                m["MessageId"]
                for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
            ]
        assert sorted(again) == sorted(m["MessageId"] for m in received)
        letters = [
            DeadLetter(m["MessageId"], m["Body"], "AccessDenied", "denied", 1) for m in received
        ]
        assert api.dead_letter(letters) == set()
        copied: list[MessageTypeDef] = []
        while len(copied) < 25:
            copied += sqs.receive_message(
                QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )["Messages"]
        assert sorted(m["Body"] for m in copied) == sorted(f"body-{n}" for n in range(25))
        attributes = copied[0]["MessageAttributes"]
        assert attributes["errorCode"]["StringValue"] == "AccessDenied"
        assert attributes["receiveCount"]["StringValue"] == "1"
        assert attributes["errorCode"]["DataType"] == "String"
        assert attributes["receiveCount"]["DataType"] == "Number"
        stale = Deferral("gone", "not-a-receipt-handle", 30)
        assert api.defer([stale]) == {"gone"}
