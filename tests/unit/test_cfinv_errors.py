"""Every AWS failure becomes one line and an exit code, never a traceback."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cfinv.aws import Aws
from cfinv.cli import Runtime, main
from cfinv.errors import CliError, Exit


def _client_error(code: str, message: str = "details") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SomeOperation")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NoCredentialsError(), "reading x: no AWS credentials found"),
        (_client_error("AccessDenied", "not allowed"), "reading x: access denied (not allowed)"),
        (_client_error("AccessDeniedException"), "README 'cfinv permissions'"),
        (_client_error("ThrottlingException"), "AWS is throttling these calls"),
        (_client_error("InvalidParameterValue", "bad"), "reading x: InvalidParameterValue: bad"),
        (EndpointConnectionError(endpoint_url="https://x"), "reading x: cannot reach AWS"),
    ],
)
def test_aws_errors_become_one_clear_line(error: Exception, expected: str) -> None:
    aws = Aws(boto3.Session(region_name="us-east-1"), "status")

    with pytest.raises(CliError) as raised, aws.call("reading x"):
        raise error

    assert expected in raised.value.message
    assert "\n" not in raised.value.message
    assert raised.value.code is Exit.AWS


class _NoCredentials:
    """A session whose every client fails as boto3 does without credentials."""

    region_name = "us-east-1"

    def client(self, *_: Any, **__: Any) -> Any:
        raise NoCredentialsError


def test_no_credentials_exits_4_with_one_line_through_the_entry_point() -> None:
    """Given no AWS credentials,
    When cfinv status runs,
    Then standard error holds exactly one line saying so, and the exit code is 4."""
    err = io.StringIO()
    runtime = Runtime(
        session=lambda region, profile: _NoCredentials(),  # type: ignore[arg-type,return-value]
        stdout=io.StringIO(),
        stderr=err,
    )

    code = main(["status", "--stack", "site"], runtime)

    assert code == 4
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith(
        "cfinv: error: connecting to cloudformation: no AWS credentials"
    )


def test_stack_and_function_are_exclusive() -> None:
    err = io.StringIO()
    runtime = Runtime(stdout=io.StringIO(), stderr=err)

    code = main(["status"], runtime)

    assert code == 2
    assert "give either --stack NAME or --function NAME_OR_ARN" in err.getvalue()


def test_paths_and_all_are_exclusive() -> None:
    err = io.StringIO()
    runtime = Runtime(stdout=io.StringIO(), stderr=err)

    code = main(["invalidate", "--stack", "s", "--all", "/a"], runtime)

    assert code == 2
    assert "give PATHS or --all" in err.getvalue()
