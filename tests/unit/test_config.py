"""Configuration parsing from the environment."""

from __future__ import annotations

import pytest

from cfinvalidator.config import Config
from cfinvalidator.errors import ConfigError

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:tracker"
VALID = {
    "DISTRIBUTION_IDS": "E2EXAMPLE12345, E3OTHER9876543,E2EXAMPLE12345",
    "BUCKET_NAME": "my-site",
    "STATE_MACHINE_ARN": ARN,
    "ORIGIN_PATH": "site/",
    "KEY_PREFIX": "",
    "INDEX_DOCUMENT": "index.html",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/queue",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:topic",
}
REQUIRED = {
    name: VALID[name]
    for name in (
        "DISTRIBUTION_IDS",
        "BUCKET_NAME",
        "STATE_MACHINE_ARN",
        "QUEUE_URL",
        "DEAD_LETTER_QUEUE_URL",
        "TOPIC_ARN",
    )
}


def test_valid_environment_is_parsed_and_normalised() -> None:
    """Given a valid environment, then IDs are split and deduplicated, origin path normalised."""
    config = Config.from_env(VALID)
    assert config.distribution_ids == ("E2EXAMPLE12345", "E3OTHER9876543")
    assert config.origin_path == "/site"
    assert config.state_machine_arn == ARN


def test_optional_variables_default() -> None:
    """Given only the required variables, then the prefix is empty, origins are discovered (no
    override), refreshed every 300 s, and the index document is index.html."""
    config = Config.from_env(REQUIRED)
    assert (config.key_prefix, config.origin_path, config.index_document) == (
        "",
        None,
        "index.html",
    )
    assert config.origin_refresh_seconds == 300
    assert (config.collapse_threshold, config.broadest_wildcard_depth) == (10, 0)
    assert (config.max_receive_count, config.defer_delay_seconds) == (8, 30)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DISTRIBUTION_IDS": ""}, "DISTRIBUTION_IDS is missing"),
        ({"DISTRIBUTION_IDS": "e2example, ok"}, "DISTRIBUTION_IDS has malformed IDs"),
        ({"DISTRIBUTION_IDS": ",".join(f"E{i:013d}" for i in range(11))}, "at most 10"),
        ({"BUCKET_NAME": " "}, "BUCKET_NAME is missing"),
        ({"KEY_PREFIX": "assets/", "ORIGIN_PATH": "/site"}, "select no key in common"),
        ({"STATE_MACHINE_ARN": "arn:aws:sqs:us-east-1:1:q"}, "STATE_MACHINE_ARN is not"),
        ({"ORIGIN_PATH": "/a//b"}, "ORIGIN_PATH must be empty .discover., / .the bucket root."),
        ({"INDEX_DOCUMENT": "dir/index.html"}, "INDEX_DOCUMENT must be a file name"),
        ({"QUEUE_URL": "not a url"}, "QUEUE_URL is not an SQS queue URL"),
        ({"TOPIC_ARN": ARN}, "TOPIC_ARN is not an SNS topic ARN"),
        ({"COLLAPSE_THRESHOLD": "1"}, "COLLAPSE_THRESHOLD must be 0"),
        ({"COLLAPSE_THRESHOLD": "ten"}, "COLLAPSE_THRESHOLD must be a whole number"),
        ({"BROADEST_WILDCARD_DEPTH": "-1"}, "BROADEST_WILDCARD_DEPTH must be from 0 to 100"),
        ({"MAX_RECEIVE_COUNT": "0"}, "MAX_RECEIVE_COUNT must be from 1"),
        ({"DEFER_DELAY_SECONDS": "901"}, "DEFER_DELAY_SECONDS must be from 1 to 900"),
        ({"ORIGIN_REFRESH_SECONDS": "5"}, "ORIGIN_REFRESH_SECONDS must be from 10 to 3600"),
    ],
)
def test_malformed_variables_are_named(overrides: dict[str, str], named: str) -> None:
    """Given one bad variable, then the error names it."""
    with pytest.raises(ConfigError, match=named):
        Config.from_env({**VALID, **overrides})


@pytest.mark.parametrize(
    ("prefix", "origin"), [("site/", "/site"), ("si", "/site"), ("site/a/", "/site")]
)
def test_compatible_prefix_and_origin_path_are_accepted(prefix: str, origin: str) -> None:
    """Given a prefix inside the origin path or the other way round, then both are kept."""
    config = Config.from_env({**VALID, "KEY_PREFIX": prefix, "ORIGIN_PATH": origin})
    assert (config.key_prefix, config.origin_path) == (prefix, origin)


@pytest.mark.parametrize(("raw", "override"), [("/", ""), ("", None), ("/site/", "/site")])
def test_origin_path_override_or_discovery(raw: str, override: str | None) -> None:
    """Given ORIGIN_PATH empty, / or a path, then origins are discovered, the bucket root is
    forced, or that origin path is forced."""
    assert Config.from_env({**VALID, "ORIGIN_PATH": raw}).origin_path == override


def test_every_problem_is_reported_at_once() -> None:
    """Given an empty environment, then every required variable is named together."""
    with pytest.raises(ConfigError) as caught:
        Config.from_env({})
    for name in REQUIRED:
        assert name in str(caught.value)


def test_planner_knobs_are_parsed() -> None:
    """Given the planner variables, then they reach the configuration."""
    config = Config.from_env(
        {
            **VALID,
            "COLLAPSE_THRESHOLD": "0",
            "BROADEST_WILDCARD_DEPTH": "2",
            "MAX_RECEIVE_COUNT": "12",
        }
    )
    assert (config.collapse_threshold, config.broadest_wildcard_depth) == (0, 2)
    assert config.max_receive_count == 12
