"""The deploy-time KeyPrefix/OriginPath check: the batcher's own rule, before any invocation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfinvalidator.config import Config
from cfinvalidator.configuration_check import PHYSICAL_ID, check_configuration
from cfinvalidator.custom_resource import Budget, Request
from cfinvalidator.errors import ConfigError

BUDGET = Budget(remaining_seconds=lambda: 30.0, abandoned=lambda: False)
BATCHER_ENV = {
    "DISTRIBUTION_IDS": "E2EXAMPLE12345",
    "BUCKET_NAME": "my-site",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:tracker",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/queue",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:topic",
}


def request(request_type: str, key_prefix: object, origin_path: object) -> Request:
    return Request.from_event(
        {
            "RequestType": request_type,
            "RequestId": "r-1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "LogicalResourceId": "ConfigurationCheck",
            "ResponseURL": "http://127.0.0.1:1/answer",
            "ResourceType": "Custom::ConfigurationCheck",
            **({"PhysicalResourceId": PHYSICAL_ID} if request_type != "Create" else {}),
            "ResourceProperties": {
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:check",
                "KeyPrefix": key_prefix,
                "OriginPath": origin_path,
            },
        }
    )


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_a_prefix_and_origin_path_with_no_key_in_common_are_refused(request_type: str) -> None:
    """Given KeyPrefix site/ and OriginPath /other, then Create and Update fail naming both, in
    the template's parameter names."""
    with pytest.raises(ConfigError) as raised:
        check_configuration(request(request_type, "site/", "/other"), BUDGET)
    assert str(raised.value) == (
        "KeyPrefix 'site/' and OriginPath '/other' select no key in common: every upload would "
        "be skipped"
    )


@pytest.mark.parametrize(
    ("key_prefix", "origin_path"),
    [("site/", "/site"), ("site/blog/", "/site"), ("si", "/site"), ("site/", "/site/a")],
)
def test_prefixes_that_share_keys_pass(key_prefix: str, origin_path: str) -> None:
    outcome = check_configuration(request("Create", key_prefix, origin_path), BUDGET)
    assert outcome.physical_resource_id == PHYSICAL_ID


def test_delete_always_succeeds() -> None:
    """Given a Delete (after a refused Create, CloudFormation sends one), then it succeeds:
    the resource owns nothing."""
    outcome = check_configuration(request("Delete", "site/", "/other"), BUDGET)
    assert outcome.physical_resource_id == PHYSICAL_ID


def test_properties_that_are_not_strings_are_refused() -> None:
    with pytest.raises(ConfigError, match="must be strings"):
        check_configuration(request("Create", ["site/"], "/site"), BUDGET)


segment = st.text(alphabet="abc", min_size=1, max_size=3)


@given(
    key_prefix=st.lists(segment, max_size=3).map("/".join)
    | st.lists(segment, min_size=1, max_size=3).map(lambda p: "/".join(p) + "/"),
    origin_path=st.lists(segment, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p)),
)
def test_the_deploy_time_check_refuses_exactly_what_the_batcher_refuses(
    key_prefix: str, origin_path: str
) -> None:
    """Given any KeyPrefix and OriginPath, then the custom resource refuses the pair if and only
    if the batcher's configuration would (one rule, checked twice)."""
    try:
        Config.from_env({**BATCHER_ENV, "KEY_PREFIX": key_prefix, "ORIGIN_PATH": origin_path})
        batcher_refuses = False
    except ConfigError:
        batcher_refuses = True
    try:
        check_configuration(request("Create", key_prefix, origin_path), BUDGET)
        check_refuses = False
    except ConfigError:
        check_refuses = True
    assert check_refuses == batcher_refuses
    # And the rule itself, from its meaning: some key is under both prefixes exactly when the
    # longer of KeyPrefix and the origin path's folder is such a key.
    origin_dir = origin_path.lstrip("/") + "/"
    witness = max(key_prefix, origin_dir, key=len)
    shares_a_key = witness.startswith(key_prefix) and witness.startswith(origin_dir)
    assert check_refuses == (bool(key_prefix) and not shares_a_key)
