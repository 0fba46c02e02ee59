"""Notifications the batcher publishes itself (FAILED before any invalidation could track), as
``ports.NotifierApi``; messages and attributes are built by ``payloads``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.errors import NotificationError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class Boto3NotifierApi:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, message: Mapping[str, object], attributes: Mapping[str, str]) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Message=json.dumps(message),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in attributes.items()
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise NotificationError(str(exc)) from exc
