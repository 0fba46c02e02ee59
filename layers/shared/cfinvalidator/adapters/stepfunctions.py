"""The completion tracker (a Step Functions state machine) behind a small interface."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from cfinvalidator.errors import TrackingError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class TrackerApi(Protocol):
    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        """Start tracking; True if started now, False if an execution of that name exists."""
        ...


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
        return True
