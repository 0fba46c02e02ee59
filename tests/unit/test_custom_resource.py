"""CloudFormation's custom resource protocol (cfinvalidator.custom_resource): every request gets
exactly one answer, whatever the work does, with a fake responder and a fake timer."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cfinvalidator import custom_resource
from cfinvalidator.bucket_notifications import RequestType
from cfinvalidator.custom_resource import (
    MAX_BODY_BYTES,
    MAX_REASON_CHARS,
    TIMEOUT_GUARD_SECONDS,
    UNKNOWN_PHYSICAL_ID,
    Budget,
    Outcome,
    Request,
    answer_request,
    failure_reason,
    response_body,
    truncated,
)
from cfinvalidator.errors import (
    BucketNotificationError,
    CustomResourceRequestError,
    CustomResourceResponseError,
)
from tests.factories import load_event

LOG_STREAM = "2026/11/21/[$LATEST]0123456789abcdef0123456789abcdef"


@dataclass
class FakeContext:
    remaining_ms: int = 60_000
    log_stream_name: str = LOG_STREAM

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class FakeResponder:
    """Records each answer; fails the first ``failures`` deliveries."""

    failures: int = 0
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: int = 0

    def send(self, response_url: str, body: bytes) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise CustomResourceResponseError("could not deliver the answer: connection reset")
        self.sent.append((response_url, json.loads(body)))


@dataclass
class FakeTimer:
    """A timer the test fires itself; records its delay, whether it was cancelled and joined."""

    seconds: float = -1.0
    callback: Callable[[], None] | None = None
    cancelled: bool = False
    joined: bool = False

    def start(self, seconds: float, callback: Callable[[], None]) -> FakeTimer:
        self.seconds, self.callback = seconds, callback
        return self

    def fire(self) -> None:
        assert self.callback is not None
        assert not self.cancelled
        self.callback()

    def cancel(self) -> None:
        self.cancelled = True

    def join(self, timeout: float | None = None) -> None:
        self.joined = True


def create_event(**changes: Any) -> dict[str, Any]:
    event = load_event("cfn-bucket-eventbridge-create.json")
    event.update(changes)
    return event


def _fallback(event: Mapping[str, Any]) -> str:
    return f"fallback-for-{event.get('LogicalResourceId')}"


def _answer(
    event: Mapping[str, Any],
    work: Callable[[Request, Budget], Outcome],
    *,
    responder: FakeResponder | None = None,
    timer: FakeTimer | None = None,
    context: FakeContext | None = None,
) -> tuple[FakeResponder, FakeTimer]:
    responder = responder or FakeResponder()
    timer = timer or FakeTimer()
    answer_request(
        event,
        context or FakeContext(),
        work=work,
        responder=responder,
        fallback_physical_id=_fallback,
        start_timer=timer.start,
    )
    return responder, timer


def _succeed(request: Request, budget: Budget) -> Outcome:
    return Outcome("bucket#id", {"Key": "value"})


# ------------------------------------------------------------------------------- requests
def test_the_sample_create_request_parses() -> None:
    request = Request.from_event(create_event())
    assert request.request_type is RequestType.CREATE
    assert request.physical_resource_id is None
    assert request.properties["BucketName"] == "my-site-origin-example"
    assert request.old_properties == {}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"RequestType": "Replace"}, "RequestType"),
        ({"RequestType": None}, "RequestType"),
        ({"RequestId": ""}, "RequestId"),
        ({"StackId": 7}, "StackId"),
        ({"ResourceProperties": ["BucketName"]}, "ResourceProperties"),
        ({"RequestType": "Delete"}, "PhysicalResourceId"),
        ({"RequestType": "Update", "PhysicalResourceId": ""}, "PhysicalResourceId"),
    ],
)
def test_a_malformed_request_names_its_field(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(CustomResourceRequestError, match=named):
        Request.from_event(create_event(**changes))


# ------------------------------------------------------------------------------- the body
def test_a_success_answer_copies_the_identifiers_and_carries_the_data() -> None:
    event = create_event()
    responder, timer = _answer(event, _succeed)
    [(url, body)] = responder.sent
    assert url == event["ResponseURL"]
    assert body == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": "bucket#id",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Key": "value"},
    }
    assert timer.seconds == pytest.approx(60 - TIMEOUT_GUARD_SECONDS)
    assert timer.cancelled
    assert timer.joined


def test_the_body_never_exceeds_cloudformations_limit() -> None:
    """Given a huge reason and long identifiers, the body still fits in 4,096 bytes and keeps
    the start of the reason."""
    event = create_event(StackId="arn:" + "s" * 900, LogicalResourceId="L" * 255)
    body = response_body(
        event, status="FAILED", physical_resource_id="p" * 1024, reason="Access denied. " * 500
    )
    assert len(body) <= MAX_BODY_BYTES
    assert json.loads(body)["Reason"].startswith("Access denied. Access denied.")


def test_reasons_are_truncated_readably_and_name_the_log_stream() -> None:
    reason = failure_reason(ValueError("x" * 5000), LOG_STREAM)
    assert len(reason) <= MAX_REASON_CHARS
    assert reason.startswith("unexpected ValueError: xxx")
    assert "...(CloudWatch log stream" not in reason
    assert reason.endswith(f"... (CloudWatch log stream {LOG_STREAM})")
    domain = BucketNotificationError("SlowDown", "Please reduce your request rate.", 503)
    assert failure_reason(domain) == "SlowDown: Please reduce your request rate. (HTTP 503)"
    assert truncated("short", 10) == "short"
    assert truncated("abcdefghijk", 6) == "abc..."


# ------------------------------------------------------------------ every path is answered
@pytest.mark.parametrize(
    ("error", "reason_start"),
    [
        (KeyError("BucketName"), "unexpected KeyError: 'BucketName'"),
        (RuntimeError("boom"), "unexpected RuntimeError: boom"),
        (BucketNotificationError("AccessDenied", "Access Denied", 403), "AccessDenied: Access"),
    ],
)
def test_any_exception_of_the_work_is_answered_failed(error: Exception, reason_start: str) -> None:
    def crash(request: Request, budget: Budget) -> Outcome:
        raise error

    responder, timer = _answer(create_event(), crash)
    [(_, body)] = responder.sent
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(reason_start)
    assert body["Reason"].endswith(f"(CloudWatch log stream {LOG_STREAM})")
    assert body["PhysicalResourceId"] == "fallback-for-SiteBucketEventBridge"
    assert "Data" not in body
    assert timer.cancelled


def test_a_malformed_request_is_answered_failed_without_running_the_work() -> None:
    ran: list[Request] = []

    def work(request: Request, budget: Budget) -> Outcome:
        ran.append(request)
        return _succeed(request, budget)

    responder, _ = _answer(create_event(RequestType="Upsert"), work)
    assert ran == []
    assert responder.sent[0][1]["Status"] == "FAILED"
    assert "RequestType must be Create, Update or Delete" in responder.sent[0][1]["Reason"]


def test_a_failing_fallback_still_gives_an_answer() -> None:
    def crash(request: Request, budget: Budget) -> Outcome:
        raise RuntimeError("boom")

    responder = FakeResponder()
    answer_request(
        create_event(),
        FakeContext(),
        work=crash,
        responder=responder,
        fallback_physical_id=lambda event: event["Missing"],
        start_timer=FakeTimer().start,
    )
    assert responder.sent[0][1]["PhysicalResourceId"] == UNKNOWN_PHYSICAL_ID


def test_without_a_response_url_nothing_is_sent_and_nothing_raises() -> None:
    event = create_event()
    del event["ResponseURL"]
    responder, _ = _answer(event, _succeed)
    assert responder.attempts == 0


def test_an_undeliverable_answer_fails_the_invocation_so_lambda_retries_it() -> None:
    responder = FakeResponder(failures=1)
    timer = FakeTimer()
    with pytest.raises(CustomResourceResponseError):
        _answer(create_event(), _succeed, responder=responder, timer=timer)
    assert timer.cancelled
    assert timer.joined


# -------------------------------------------------------------------------- the timeout guard
def test_the_timer_answers_failed_once_and_the_work_stops_calling() -> None:
    """Given work still running when the timer fires, then the timer's FAILED answer is the
    only one, and the work sees the budget abandoned."""
    timer = FakeTimer()
    seen: list[bool] = []

    def slow(request: Request, budget: Budget) -> Outcome:
        seen.append(budget.abandoned())
        timer.fire()
        seen.append(budget.abandoned())
        return _succeed(request, budget)

    context = FakeContext(remaining_ms=30_000)
    responder, _ = _answer(create_event(), slow, timer=timer, context=context)
    assert seen == [False, True]
    assert timer.seconds == pytest.approx(30 - TIMEOUT_GUARD_SECONDS)
    [(_, body)] = responder.sent
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("timed out")
    assert body["PhysicalResourceId"] == "fallback-for-SiteBucketEventBridge"


def test_when_the_timeout_answer_fails_the_work_still_answers() -> None:
    timer = FakeTimer()

    def slow(request: Request, budget: Budget) -> Outcome:
        timer.fire()  # its delivery fails (the first one does)
        raise BucketNotificationError("TimedOut", "not starting another call")

    responder = FakeResponder(failures=1)
    _answer(create_event(), slow, responder=responder, timer=timer)
    assert responder.attempts == 2
    [(_, body)] = responder.sent
    assert body["Status"] == "FAILED"
    assert "TimedOut" in body["Reason"]


def test_the_timer_never_waits_a_negative_time() -> None:
    timer = FakeTimer()
    _answer(create_event(), _succeed, timer=timer, context=FakeContext(remaining_ms=1_000))
    assert timer.seconds == 0.0


def test_the_default_timer_is_a_daemon_thread_that_can_be_cancelled() -> None:
    fired: list[bool] = []
    timer = custom_resource.start_daemon_timer(3600, lambda: fired.append(True))
    timer.cancel()
    timer.join(timeout=5)
    assert fired == []
