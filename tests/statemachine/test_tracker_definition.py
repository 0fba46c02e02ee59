"""Static checks of statemachine/tracker.asl.json: the conventions a reviewer would check by eye."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.statemachine.contract import ATTRIBUTE_NAMES, message_fields
from tests.statemachine.harness import DEFINITION_PATH

SUBSTITUTIONS = {
    "TopicArn",
    "PollIntervalSeconds",
    "CompletionTimeoutSeconds",
    "MetricsNamespace",
    "ServiceName",
}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
PUBLISH_STATES = {
    "PublishCompleted": "COMPLETED",
    "PublishTimedOut": "TIMED_OUT",
    "PublishFailed": "FAILED",
}


@pytest.fixture(scope="module")
def raw() -> str:
    return DEFINITION_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def definition(raw: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = definition["States"]
    return result


def strings_in(value: Any) -> Iterator[str]:
    """Every string (keys and values) anywhere in a parsed JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def targets(state: dict[str, Any]) -> set[str]:
    found = {state[key] for key in ("Next", "Default") if key in state}
    found |= {choice["Next"] for choice in state.get("Choices", [])}
    found |= {catcher["Next"] for catcher in state.get("Catch", [])}
    return found


def test_substitutions_are_exactly_the_documented_ones_and_only_inside_strings(
    raw: str, definition: dict[str, Any]
) -> None:
    """Given the raw file (valid JSON, as SAM and cfn-lint need),
    when its ${...} placeholders are collected,
    then they are exactly the documented five, and each occurrence sits inside a JSON string."""
    in_strings = [name for text in strings_in(definition) for name in PLACEHOLDER.findall(text)]

    assert set(in_strings) == SUBSTITUTIONS
    assert len(in_strings) == len(PLACEHOLDER.findall(raw))


def test_numeric_substitutions_are_converted_once_at_the_start(
    definition: dict[str, Any], states: dict[str, dict[str, Any]]
) -> None:
    """Given the numbers arrive as strings,
    when the tracker starts,
    then its first state converts them with States.StringToJson and zeroes the counter."""
    first = states[definition["StartAt"]]

    assert first["Type"] == "Pass"
    assert first["ResultPath"] == "$.tracker"
    assert first["Parameters"] == {
        "pollIntervalSeconds.$": "States.StringToJson('${PollIntervalSeconds}')",
        "timeoutSeconds.$": "States.StringToJson('${CompletionTimeoutSeconds}')",
        "waitedSeconds": 0,
    }


def test_every_transition_target_exists_and_every_state_is_reachable(
    definition: dict[str, Any], states: dict[str, dict[str, Any]]
) -> None:
    """Given the state graph,
    when it is walked from StartAt,
    then no transition points nowhere and no state is dead."""
    seen: set[str] = set()
    pending = [definition["StartAt"]]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        assert name in states, f"transition to missing state {name}"
        pending.extend(targets(states[name]))

    assert seen == set(states)


def test_every_task_retries_and_has_a_timeout(states: dict[str, dict[str, Any]]) -> None:
    """Given the Task states,
    when their error handling is read,
    then each has a Retry with exponential backoff and full jitter, and a TimeoutSeconds."""
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}

    assert set(tasks) == {"GetInvalidation", "RecordCompletionTime", *PUBLISH_STATES}
    for name, task in tasks.items():
        assert task.get("TimeoutSeconds", 0) > 0, name
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1, name
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["MaxAttempts"] >= 3, name


def test_get_invalidation_retries_throttling_in_both_spellings_and_catches_the_rest(
    states: dict[str, dict[str, Any]],
) -> None:
    """Given AWS names aws-sdk errors CloudFront.<Name>Exception, moto cloudfront.<Name>Exception,
    when GetInvalidation fails,
    then the generic (throttling, 5xx) name is retried in both spellings, modelled errors are not,
    and everything else is caught into PublishFailed keeping the input."""
    task = states["GetInvalidation"]
    retried = {name for retrier in task["Retry"] for name in retrier["ErrorEquals"]}

    assert {"CloudFront.CloudFrontException", "cloudfront.cloudfrontException"} <= retried
    assert not any("NoSuch" in name or "AccessDenied" in name for name in retried)
    assert "States.ALL" not in retried
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "HasFailureCause"}
    ]
    assert task["Parameters"] == {
        "DistributionId.$": "$.distributionId",
        "Id.$": "$.invalidationId",
    }
    assert task["ResultPath"] == "$.invalidation"


def test_completion_is_aws_exact_spelling_only(states: dict[str, dict[str, Any]]) -> None:
    """Given AWS reports `Completed` (moto's `COMPLETED` is a test-double artefact),
    when the Choice decides,
    then it compares with `Completed` only, then the timeout, else waits."""
    choice = states["IsCompleted"]
    completed, timed_out = choice["Choices"]

    assert completed == {
        "Variable": "$.invalidation.status",
        "StringEquals": "Completed",
        "Next": "MeasureCompletion",
    }
    assert timed_out == {
        "Variable": "$.tracker.waitedSeconds",
        "NumericGreaterThanEqualsPath": "$.tracker.timeoutSeconds",
        "Next": "PublishTimedOut",
    }
    assert choice["Default"] == "WaitBeforeNextPoll"
    assert states["WaitBeforeNextPoll"]["SecondsPath"] == "$.tracker.pollIntervalSeconds"


@pytest.mark.parametrize(("state_name", "status"), PUBLISH_STATES.items())
def test_each_publish_sends_the_documented_message_and_attributes(
    states: dict[str, dict[str, Any]], state_name: str, status: str
) -> None:
    """Given a publish state,
    when its parameters are read,
    then the message has exactly the documented fields for its status, and the attributes are
    `status` (matching) and `distributionId`, both String; the state keeps its input."""
    task = states[state_name]
    parameters = task["Parameters"]
    fields = {key.removesuffix(".$") for key in parameters["Message"]}

    assert task["Resource"] == "arn:aws:states:::sns:publish"
    assert parameters["TopicArn"] == "${TopicArn}"
    assert fields == message_fields(status)
    assert parameters["Message"]["status"] == status
    assert parameters["Message"]["finishedAt.$"] == "$$.State.EnteredTime"
    assert parameters["Message"]["waitedSeconds.$"] == "$.tracker.waitedSeconds"
    attributes = parameters["MessageAttributes"]
    assert set(attributes) == ATTRIBUTE_NAMES
    assert attributes["status"] == {"DataType": "String", "StringValue": status}
    assert attributes["distributionId"] == {
        "DataType": "String",
        "StringValue.$": "$.distributionId",
    }
    assert task["ResultPath"] is None
    assert task["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.publishFailure",
            "Next": "NotificationNotPublished",
        }
    ]


def test_outcomes_end_in_succeed_or_meaningful_fail(states: dict[str, dict[str, Any]]) -> None:
    """Given the three outcomes,
    when each publish finishes,
    then COMPLETED succeeds, TIMED_OUT fails as InvalidationTimedOut with a cause, and FAILED
    re-raises the caught error and cause (a reserved States.* name as GetInvalidationFailed)."""
    record = states["HasCompletionTime"]["Choices"][0]["Next"]
    assert states["PublishCompleted"]["Next"] == "HasCompletionTime"
    assert states["HasCompletionTime"]["Default"] == states[record]["Next"]
    assert states[record]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.metricFailure", "Next": "Completed"}
    ]
    assert states["Completed"]["Type"] == "Succeed"
    timed_out = states[states["PublishTimedOut"]["Next"]]
    assert timed_out["Type"] == "Fail"
    assert timed_out["Error"] == "InvalidationTimedOut"
    assert timed_out["CausePath"].startswith("States.Format(")
    reserved = states[states["PublishFailed"]["Next"]]
    [states_error] = reserved["Choices"]
    assert (states_error["Variable"], states_error["StringMatches"]) == (
        "$.failure.Error",
        "States.*",
    )
    failed = states[reserved["Default"]]
    assert (failed["Type"], failed["ErrorPath"], failed["CausePath"]) == (
        "Fail",
        "$.failure.Error",
        "$.failure.Cause",
    )
    renamed = states[states_error["Next"]]
    assert (renamed["Type"], renamed["Error"]) == ("Fail", "GetInvalidationFailed")
