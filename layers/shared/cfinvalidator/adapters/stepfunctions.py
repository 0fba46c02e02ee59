"""The completion tracker (a Step Functions state machine), as ``ports.TrackerApi``; the
execution input is built by ``payloads``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.errors import TrackingError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class Boto3TrackerApi:
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        try:
            self._client.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "ExecutionAlreadyExists":
                # Names are deterministic per invalidation: a retry found the first execution.
                return False
            raise TrackingError(f"{code}: {exc}") from exc
        except BotoCoreError as exc:
            # No answer (connection refused or reset, a timeout): the execution may or may not
            # exist. The records are deferred like any tracker that did not start; the
            # redelivery uses the same name, so an execution that did start is found
            # (ExecutionAlreadyExists), never doubled.
            raise TrackingError(f"NetworkError: {exc}") from exc
        return True
