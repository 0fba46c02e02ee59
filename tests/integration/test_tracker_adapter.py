"""The Step Functions adapter: started, refused, and no answer at all."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from cfinvalidator.adapters.stepfunctions import Boto3TrackerApi
from cfinvalidator.errors import TrackingError
from tests.integration.unreachable import unreachable_client

DEFINITION = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'
ROLE = "arn:aws:iam::123456789012:role/tracker"


def test_an_execution_is_started_under_its_name() -> None:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="tracker", definition=DEFINITION, roleArn=ROLE)[
            "stateMachineArn"
        ]
        api = Boto3TrackerApi(sfn, arn)
        assert api.start("E1-I1", {"invalidationId": "I1"}) is True
        (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
        assert execution["name"] == "E1-I1"


def test_a_refusal_is_a_tracking_error_naming_its_code() -> None:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        missing = "arn:aws:states:us-east-1:123456789012:stateMachine:missing"
        with pytest.raises(TrackingError, match="StateMachineDoesNotExist"):
            Boto3TrackerApi(sfn, missing).start("E1-I1", {})


def test_no_answer_is_a_tracking_error_not_a_crash() -> None:
    """Given an endpoint nothing listens on (127.0.0.1, port 9), when an execution is started,
    then TrackingError (the service defers those records) instead of botocore's own error,
    which would have failed the whole batch."""
    sfn = unreachable_client("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:tracker"
    with pytest.raises(TrackingError, match="NetworkError"):
        Boto3TrackerApi(sfn, arn).start("E1-I1", {})
