"""The tracker state machine, executed by moto's ASL interpreter against the faithful CloudFront.

moto's Wait states really wait, so these use a 1 s poll interval. The fake runs on the harness's
`ManualClock`: an invalidation stays InProgress until the test advances that clock, so what the
tracker sees does not depend on how fast a loaded machine starts or runs the execution.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.statemachine.contract import assert_message_matches_contract
from tests.statemachine.harness import TrackerHarness

pytestmark = pytest.mark.slow

PATHS = ["/docs/", "/docs", "/docs/index.html"]
# moto 5.2's spelling of aws-sdk errors; AWS's is CloudFront.<Name>Exception (the ASL lists both).
MOTO_UNMODELLED_ERROR = "cloudfront.cloudfrontException"
COMPLETION_SECONDS = 2.5


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
    """Given an invalidation that reports InProgress until the tracker has polled it twice,
    when it then completes while the tracker polls every second,
    then it publishes one COMPLETED message in the documented format, with `status` and
    `distributionId` attributes, `waitedSeconds` = 1 s per InProgress poll, and succeeds."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = COMPLETION_SECONDS
    # The timeout only ends the test if the clock is never advanced; generous, so that a test
    # thread delayed for seconds (more InProgress polls) still sees COMPLETED.
    tracker = harness.deploy(poll_interval_seconds=1, completion_timeout_seconds=60)
    invalidation_id = harness.create_invalidation(PATHS, "ref-completed")
    tracker_input = harness.tracker_input(invalidation_id, PATHS)

    execution_arn = harness.start(tracker, tracker_input)
    # The clock has not moved: every poll so far (two or more) saw InProgress, however late the
    # execution started or this thread looked.
    assert set(harness.wait_for_polls(execution_arn, 2)) == {"InProgress"}
    harness.clock.advance(COMPLETION_SECONDS)
    execution = harness.finish(execution_arn)

    assert execution["status"] == "SUCCEEDED"
    statuses = harness.polled_statuses(execution_arn)
    assert statuses[-1] == "Completed"
    in_progress_polls = statuses[:-1]
    # Usually exactly 2; a third if this thread advanced the clock only after the next 1 s Wait.
    assert len(in_progress_polls) >= 2
    assert set(in_progress_polls) == {"InProgress"}
    message, attributes = only_notification(harness)
    assert_message_matches_contract(message, "COMPLETED", tracker_input)
    assert message["waitedSeconds"] == len(in_progress_polls)
    # From requestedAt (whole seconds in the harness) to the poll that saw Completed: at least
    # the InProgress polls' waits, and the same figure went to CloudWatch.
    assert message["completionMilliseconds"] >= 1000 * (len(in_progress_polls) - 1)
    assert harness.completion_times() == [message["completionMilliseconds"]]
    assert attributes == {
        "status": ("String", "COMPLETED"),
        "distributionId": ("String", harness.distribution_id),
    }


def test_timed_out_publishes_and_fails(tracker_harness: TrackerHarness) -> None:
    """Given an invalidation that stays InProgress longer than the 2 s completion timeout (the
    fake's clock is never advanced here),
    when the tracker polls it every second,
    then after polls at 0, 1 and 2 s of waiting it publishes TIMED_OUT and the execution fails
    with InvalidationTimedOut naming the invalidation."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = 60.0
    tracker = harness.deploy(poll_interval_seconds=1, completion_timeout_seconds=2)
    invalidation_id = harness.create_invalidation(PATHS, "ref-slow")
    tracker_input = harness.tracker_input(invalidation_id, PATHS)

    execution = harness.run(tracker, tracker_input)

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "InvalidationTimedOut"
    assert invalidation_id in execution.get("cause", "")
    assert harness.polled_statuses(execution["executionArn"]) == ["InProgress"] * 3
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
    assert harness.polled_statuses(execution["executionArn"]) == ["Completed"]
    message, _ = only_notification(harness)
    assert_message_matches_contract(message, "COMPLETED", tracker_input)
    assert message["waitedSeconds"] == 0


def test_a_requested_at_that_is_no_timestamp_still_completes_without_a_time(
    tracker_harness: TrackerHarness,
) -> None:
    """Given an input whose requestedAt is not an ISO-8601 timestamp,
    when the invalidation completes,
    then COMPLETED is still published, with completionMilliseconds null, no metric is put, and
    the execution succeeds."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = 0.0
    tracker = harness.deploy()
    invalidation_id = harness.create_invalidation(PATHS, "ref-odd-time")
    tracker_input = {**harness.tracker_input(invalidation_id, PATHS), "requestedAt": "yesterday"}

    execution = harness.run(tracker, tracker_input)

    assert execution["status"] == "SUCCEEDED"
    message, _ = only_notification(harness)
    assert (message["status"], message["completionMilliseconds"]) == ("COMPLETED", None)
    assert harness.completion_times() == []


@pytest.mark.parametrize(
    ("caught", "expected_cause"),
    [
        pytest.param(
            {"Error": "States.Timeout"}, "GetInvalidation failed and gave no cause.", id="no-cause"
        ),
        pytest.param(
            {"Error": "States.Timeout", "Cause": None},
            "GetInvalidation failed and gave no cause.",
            id="null-cause",
        ),
        pytest.param(
            {"Error": "States.Timeout", "Cause": "Task timed out."},
            "Task timed out.",
            id="with-cause",
        ),
    ],
)
def test_a_caught_error_without_a_cause_still_publishes_failed(
    tracker_harness: TrackerHarness, caught: dict[str, Any], expected_cause: str
) -> None:
    """Given GetInvalidation's Catch handing over an error with no Cause (a States.Timeout may
    come so; moto cannot be made to produce one, so executions start at the state the Catch
    leads to, with the caught error in place),
    when the FAILED branch runs,
    then FAILED is published with the error and a cause, and the execution fails as
    GetInvalidationFailed with both in its cause."""
    harness = tracker_harness
    tracker = harness.deploy(start_at="HasFailureCause")
    invalidation_id = harness.create_invalidation(PATHS, "ref-timeout")
    tracker_input = harness.tracker_input(invalidation_id, PATHS)
    state = {**tracker_input, "tracker": {"waitedSeconds": 0}, "failure": caught}

    execution = harness.run(tracker, state)

    # A Fail state may not raise a States.* name: the execution's error is the tracker's own,
    # the caught one leads its cause.
    assert (execution["status"], execution.get("error")) == ("FAILED", "GetInvalidationFailed")
    assert execution.get("cause") == f"States.Timeout: {expected_cause}"
    message, _ = only_notification(harness)
    assert_message_matches_contract(message, "FAILED", tracker_input)
    assert (message["error"], message["cause"]) == ("States.Timeout", expected_cause)


def test_a_notification_that_cannot_be_published_fails_the_execution_by_name(
    tracker_harness: TrackerHarness,
) -> None:
    """Given the topic gone (so every sns:Publish fails),
    when an invalidation completes,
    then the execution fails as NotificationNotPublished naming the invalidation: the error the
    stack's TrackerFailedAlarm counts, not a silent end."""
    harness = tracker_harness
    harness.cloudfront_fake.completion_seconds = 0.0
    tracker = harness.deploy()
    invalidation_id = harness.create_invalidation(PATHS, "ref-no-topic")
    harness.sns.delete_topic(TopicArn=harness.topic_arn)

    execution = harness.run(tracker, harness.tracker_input(invalidation_id, PATHS))

    assert (execution["status"], execution.get("error")) == ("FAILED", "NotificationNotPublished")
    assert invalidation_id in execution.get("cause", "")
    assert harness.completion_times() == []
