"""The tracker state machine, executed by moto's ASL interpreter against the faithful CloudFront.

moto's Wait states really wait, so these use a 1 s poll interval and completion times of a few
seconds. The fake runs on the real monotonic clock; assertions relate the number of InProgress
polls to `waitedSeconds` rather than guessing how many polls a loaded machine manages.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.statemachine.contract import assert_message_matches_contract
from tests.statemachine.harness import TrackerHarness

pytestmark = pytest.mark.slow

PATHS = ["/docs/", "/docs", "/docs/index.html"]
# moto 5.2's spelling of aws-sdk errors; AWS's is CloudFront.<Name>Exception (the ASL lists both).
MOTO_UNMODELLED_ERROR = "cloudfront.cloudfrontException"


def polled_statuses(harness: TrackerHarness, execution_arn: str) -> list[str]:
    """Status of each successful GetInvalidation call, in order."""
    statuses: list[str] = []
    for event in harness.history(execution_arn):
        details = event.get("taskSucceededEventDetails")
        if details is not None and details.get("resource") == "getInvalidation":
            statuses.append(json.loads(details["output"])["Invalidation"]["Status"])
    return statuses


def get_invalidation_failures(harness: TrackerHarness, execution_arn: str) -> list[str]:
    failures: list[str] = []
    for event in harness.history(execution_arn):
        details = event.get("taskFailedEventDetails")
        if details is not None and details.get("resource") == "getInvalidation":
            failures.append(details.get("error", ""))
    return failures


def only_notification(harness: TrackerHarness) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    notifications = harness.notifications()
    assert len(notifications) == 1, notifications
    return notifications[0].message, notifications[0].attributes


def test_completed_after_in_progress_polls(tracker_harness: TrackerHarness) -> None:
    """Given an invalidation that reports InProgress for 2.5 s,
    when the tracker polls it every second,
    then it publishes one COMPLETED message in the documented format, with `status` and
    `distributionId` attributes, `waitedSeconds` = 1 s per InProgress poll, and succeeds."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = 2.5
    tracker = harness.deploy(poll_interval_seconds=1, completion_timeout_seconds=10)
    invalidation_id = harness.create_invalidation(PATHS, "ref-completed")
    tracker_input = harness.tracker_input(invalidation_id, PATHS)

    execution = harness.run(tracker, tracker_input)

    assert execution["status"] == "SUCCEEDED"
    statuses = polled_statuses(harness, execution["executionArn"])
    assert statuses[-1] == "Completed"
    in_progress_polls = statuses[:-1]
    # Wall-clock timing (moto's Wait states really wait): how many polls fit in 2.5 s depends on
    # how fast the execution starts, so only "at least one InProgress poll, then Completed" holds.
    assert len(in_progress_polls) >= 1
    assert set(in_progress_polls) == {"InProgress"}
    message, attributes = only_notification(harness)
    assert_message_matches_contract(message, "COMPLETED", tracker_input)
    assert message["waitedSeconds"] == len(in_progress_polls)
    assert attributes == {
        "status": ("String", "COMPLETED"),
        "distributionId": ("String", harness.distribution_id),
    }


def test_timed_out_publishes_and_fails(tracker_harness: TrackerHarness) -> None:
    """Given an invalidation that stays InProgress longer than the 2 s completion timeout,
    when the tracker polls it every second,
    then after polls at 0, 1 and 2 s it publishes TIMED_OUT and the execution fails with
    InvalidationTimedOut naming the invalidation."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = 60.0
    tracker = harness.deploy(poll_interval_seconds=1, completion_timeout_seconds=2)
    invalidation_id = harness.create_invalidation(PATHS, "ref-slow")
    tracker_input = harness.tracker_input(invalidation_id, PATHS)

    execution = harness.run(tracker, tracker_input)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "InvalidationTimedOut"
    assert invalidation_id in execution.get("cause", "")
    assert polled_statuses(harness, execution["executionArn"]) == ["InProgress"] * 3
    message, attributes = only_notification(harness)
    assert_message_matches_contract(message, "TIMED_OUT", tracker_input)
    assert message["waitedSeconds"] == 2
    assert attributes == {
        "status": ("String", "TIMED_OUT"),
        "distributionId": ("String", harness.distribution_id),
    }


@pytest.mark.parametrize(
    ("inject", "error", "cause_fragment"),
    [
        pytest.param(
            None,
            "cloudfront.NoSuchInvalidationException",
            "The specified invalidation does not exist.",
            id="no-such-invalidation",
        ),
        pytest.param(
            "AccessDenied", "cloudfront.AccessDeniedException", "Status Code: 403", id="denied"
        ),
    ],
)
def test_non_retryable_error_publishes_failed_and_fails(
    tracker_harness: TrackerHarness, inject: str | None, error: str, cause_fragment: str
) -> None:
    """Given GetInvalidation answers a modelled, non-retryable error (an unknown invalidation ID,
    or AccessDenied),
    when the tracker runs,
    then it does not retry, publishes FAILED with the caught error and cause, and the execution
    fails with that same error."""
    harness = tracker_harness
    tracker = harness.deploy()
    if inject is None:
        invalidation_id = "INOSUCHINVALIDATION"
    else:
        invalidation_id = harness.create_invalidation(PATHS, "ref-denied")
        harness.cloudfront_fake.inject("GetInvalidation", inject)
    tracker_input = harness.tracker_input(invalidation_id, PATHS)

    execution = harness.run(tracker, tracker_input)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == error
    assert cause_fragment in execution.get("cause", "")
    assert get_invalidation_failures(harness, execution["executionArn"]) == [error]
    message, attributes = only_notification(harness)
    assert_message_matches_contract(message, "FAILED", tracker_input)
    assert (message["error"], message["cause"]) == (error, execution.get("cause"))
    assert message["waitedSeconds"] == 0
    assert attributes == {
        "status": ("String", "FAILED"),
        "distributionId": ("String", harness.distribution_id),
    }


def test_recovers_from_throttling_and_5xx(tracker_harness: TrackerHarness) -> None:
    """Given GetInvalidation answers Throttling (400, Rate exceeded) then ServiceUnavailable (503),
    when the tracker runs,
    then it retries both with backoff and publishes COMPLETED once the call succeeds."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = 0.0
    tracker = harness.deploy()
    invalidation_id = harness.create_invalidation(PATHS, "ref-throttled")
    harness.cloudfront_fake.inject("GetInvalidation", "Throttling")
    harness.cloudfront_fake.inject("GetInvalidation", "ServiceUnavailable")
    tracker_input = harness.tracker_input(invalidation_id, PATHS)

    execution = harness.run(tracker, tracker_input)

    assert execution["status"] == "SUCCEEDED"
    failures = get_invalidation_failures(harness, execution["executionArn"])
    assert failures == [MOTO_UNMODELLED_ERROR, MOTO_UNMODELLED_ERROR]
    assert polled_statuses(harness, execution["executionArn"]) == ["Completed"]
    message, _ = only_notification(harness)
    assert_message_matches_contract(message, "COMPLETED", tracker_input)
    assert message["waitedSeconds"] == 0
