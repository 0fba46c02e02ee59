"""The custom resource's work (cfinvalidator.eventbridge_switch) on an in-memory bucket
configuration: decisions carried out, retries bounded by attempts and time, clear failures."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cfinvalidator import eventbridge_switch
from cfinvalidator.bucket_notifications import EVENTBRIDGE_KEY, Ownership, ResourceId
from cfinvalidator.custom_resource import Budget, Request
from cfinvalidator.errors import BucketNotificationError, CustomResourceRequestError
from cfinvalidator.eventbridge_switch import (
    DEFAULT_BACKOFF,
    Dependencies,
    fallback_physical_id,
    is_retryable,
    switch_eventbridge,
)
from cfinvalidator.ports import NotificationDocument
from cfinvalidator.retry import Backoff
from tests.factories import load_event

BUCKET = "my-site-origin-example"
OTHERS: dict[str, Any] = {
    "QueueConfigurations": [
        {
            "Id": "someone-elses-queue",
            "QueueArn": "arn:aws:sqs:us-east-1:123456789012:uploads",
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "uploads/"}]}},
        }
    ]
}


@dataclass
class MemoryNotifications:
    """Buckets' documents in memory; ``errors[operation]`` are raised, one per call, first."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, list[BucketNotificationError]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    meddle_after_write: dict[str, Any] | None = None

    def _maybe_fail(self, operation: str, bucket: str) -> None:
        self.calls.append(operation)
        pending = self.errors.get(operation, [])
        if pending:
            raise pending.pop(0)
        if bucket not in self.documents:
            raise BucketNotificationError(
                "NoSuchBucket", "The specified bucket does not exist", 404,
                operation=operation, bucket=bucket,
            )  # fmt: skip

    def read(self, bucket: str) -> NotificationDocument:
        self._maybe_fail("read", bucket)
        return dict(self.documents[bucket])

    def write(self, bucket: str, document: NotificationDocument) -> None:
        self._maybe_fail("write", bucket)
        self.documents[bucket] = dict(document)
        if self.meddle_after_write is not None:  # another tool writes just after us
            self.documents[bucket].update(self.meddle_after_write)


@dataclass
class Clock:
    """Remaining invocation time that only sleeping uses up."""

    remaining: float = 60.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining -= seconds


@dataclass
class RecordingLogger:
    records: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)

    def _record(self, level: str, message: str, extra: Mapping[str, Any] | None = None) -> None:
        self.records.append((level, message, extra or {}))

    def info(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._record("info", message, extra)

    def warning(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._record("warning", message, extra)

    def warnings(self) -> list[str]:
        return [message for level, message, _ in self.records if level == "warning"]


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    recorder = RecordingLogger()
    monkeypatch.setattr(eventbridge_switch, "logger", recorder)
    return recorder


def _request(request_type: str, physical_id: str | None = None, bucket: Any = BUCKET) -> Request:
    event = load_event("cfn-bucket-eventbridge-create.json")
    event["RequestType"] = request_type
    event["ResourceProperties"]["BucketName"] = bucket
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return Request.from_event(event)


def _run(
    api: MemoryNotifications,
    request: Request,
    clock: Clock | None = None,
    *,
    abandoned: bool = False,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> tuple[str, Mapping[str, str]]:
    clock = clock or Clock()
    outcome = switch_eventbridge(
        request,
        Budget(lambda: clock.remaining, lambda: abandoned),
        Dependencies(api, clock.sleep, random.Random(3), backoff),
    )
    return outcome.physical_resource_id, outcome.data


def _slow_down() -> BucketNotificationError:
    return BucketNotificationError("SlowDown", "Please reduce your request rate.", 503)


SWITCHED_ON = str(ResourceId(BUCKET, Ownership.SWITCHED_ON))
ALREADY_ON = str(ResourceId(BUCKET, Ownership.ALREADY_ON))


# ------------------------------------------------------------------- the three request types
def test_create_switches_on_and_keeps_the_others(log: RecordingLogger) -> None:
    api = MemoryNotifications({BUCKET: dict(OTHERS)})
    assert _run(api, _request("Create")) == (
        SWITCHED_ON,
        {"BucketName": BUCKET, "EventBridgeSwitchedOnByStack": "true"},
    )
    assert api.documents[BUCKET] == {**OTHERS, EVENTBRIDGE_KEY: {}}
    assert api.calls == ["read", "write", "read"]  # the last read checks what was written
    assert log.warnings() == []


def test_create_on_a_bucket_already_on_writes_nothing(log: RecordingLogger) -> None:
    api = MemoryNotifications({BUCKET: {**OTHERS, EVENTBRIDGE_KEY: {}}})
    physical_id, data = _run(api, _request("Create"))
    assert (physical_id, data["EventBridgeSwitchedOnByStack"]) == (ALREADY_ON, "false")
    assert api.calls == ["read"]


def test_delete_switches_off_only_what_it_switched_on(log: RecordingLogger) -> None:
    api = MemoryNotifications({BUCKET: {**OTHERS, EVENTBRIDGE_KEY: {}}})
    assert _run(api, _request("Delete", ALREADY_ON))[0] == ALREADY_ON
    assert api.calls == []
    assert _run(api, _request("Delete", SWITCHED_ON))[0] == SWITCHED_ON
    assert api.documents[BUCKET] == OTHERS
    api.calls.clear()
    assert _run(api, _request("Delete", SWITCHED_ON))[0] == SWITCHED_ON  # again: nothing to do
    assert api.calls == ["read"]


def test_delete_of_a_bucket_gone_succeeds(log: RecordingLogger) -> None:
    api = MemoryNotifications()
    assert _run(api, _request("Delete", SWITCHED_ON)) == (SWITCHED_ON, {})


def test_delete_ignores_the_properties(log: RecordingLogger) -> None:
    """Given a Delete whose properties are broken, it still succeeds: it acts on the physical
    id alone."""
    api = MemoryNotifications({BUCKET: {EVENTBRIDGE_KEY: {}}})
    assert _run(api, _request("Delete", SWITCHED_ON, bucket=None))[0] == SWITCHED_ON
    assert api.documents[BUCKET] == {}


def test_update_to_another_bucket_creates_on_it(log: RecordingLogger) -> None:
    other = "another-origin-example"
    api = MemoryNotifications({BUCKET: {EVENTBRIDGE_KEY: {}}, other: dict(OTHERS)})
    physical_id, _ = _run(api, _request("Update", SWITCHED_ON, bucket=other))
    assert physical_id == str(ResourceId(other, Ownership.SWITCHED_ON))
    assert api.documents[other] == {**OTHERS, EVENTBRIDGE_KEY: {}}
    assert api.documents[BUCKET] == {EVENTBRIDGE_KEY: {}}  # the Delete for the old id does it


@pytest.mark.parametrize("bucket", [None, "", "has#hash", "x", 42])
def test_an_invalid_bucket_name_fails_before_any_call(bucket: Any, log: RecordingLogger) -> None:
    api = MemoryNotifications()
    with pytest.raises(CustomResourceRequestError, match="BucketName"):
        _run(api, _request("Create", bucket=bucket))
    assert api.calls == []


# ------------------------------------------------------------------------------- failures
def test_create_on_a_missing_bucket_fails_with_a_clear_reason(log: RecordingLogger) -> None:
    with pytest.raises(BucketNotificationError, match="NoSuchBucket") as raised:
        _run(MemoryNotifications(), _request("Create"))
    assert "BucketName must name an existing bucket" in str(raised.value)


def test_access_denied_fails_at_once_and_names_the_permissions(log: RecordingLogger) -> None:
    denied = BucketNotificationError(
        "AccessDenied", "Access Denied", 403, operation="PutBucketNotificationConfiguration",
        bucket=BUCKET,
    )  # fmt: skip
    api = MemoryNotifications({BUCKET: dict(OTHERS)}, errors={"write": [denied]})
    clock = Clock()
    with pytest.raises(BucketNotificationError) as raised:
        _run(api, _request("Create"), clock)
    message = str(raised.value)
    assert message.startswith(
        f"PutBucketNotificationConfiguration on bucket '{BUCKET}': AccessDenied: Access Denied"
    )
    assert "s3:GetBucketNotification and s3:PutBucketNotification" in message
    assert clock.sleeps == []
    assert api.documents[BUCKET] == OTHERS


def test_throttling_is_retried_with_bounded_jittered_backoff(log: RecordingLogger) -> None:
    api = MemoryNotifications(
        {BUCKET: dict(OTHERS)}, errors={"write": [_slow_down(), _slow_down()]}
    )
    clock = Clock()
    assert _run(api, _request("Create"), clock)[0] == SWITCHED_ON
    assert api.calls == ["read", "write", "write", "write", "read"]
    assert len(clock.sleeps) == 2
    for attempt, delay in enumerate(clock.sleeps):
        assert 0 <= delay <= DEFAULT_BACKOFF.base_seconds * 2**attempt
    assert len(log.warnings()) == 2


def test_retrying_stops_after_the_last_attempt(log: RecordingLogger) -> None:
    backoff = Backoff(base_seconds=0.01, cap_seconds=0.01, max_attempts=3, reserve_seconds=1)
    api = MemoryNotifications({BUCKET: {}}, errors={"read": [_slow_down() for _ in range(5)]})
    with pytest.raises(BucketNotificationError, match=r"gave up after 3 attempt\(s\)"):
        _run(api, _request("Create"), backoff=backoff)
    assert api.calls == ["read"] * 3


def test_retrying_stops_when_the_time_left_is_needed_to_answer(log: RecordingLogger) -> None:
    """Given little time left above the reserve, a retry whose wait would cut into the reserve
    is not made: the error is raised while there is time to answer."""
    api = MemoryNotifications({BUCKET: {}}, errors={"read": [_slow_down()] * 20})
    clock = Clock(remaining=DEFAULT_BACKOFF.reserve_seconds + 0.5)
    with pytest.raises(BucketNotificationError, match="SlowDown"):
        _run(api, _request("Create"), clock)
    assert clock.remaining >= DEFAULT_BACKOFF.reserve_seconds


def test_no_call_starts_when_too_little_time_is_left(log: RecordingLogger) -> None:
    api = MemoryNotifications({BUCKET: {}})
    clock = Clock(remaining=DEFAULT_BACKOFF.reserve_seconds - 1)
    with pytest.raises(BucketNotificationError, match="TimeNearlyOut"):
        _run(api, _request("Create"), clock)
    assert api.calls == []


def test_no_call_starts_after_the_timeout_answer(log: RecordingLogger) -> None:
    api = MemoryNotifications({BUCKET: {}})
    with pytest.raises(BucketNotificationError, match="TimedOut"):
        _run(api, _request("Create"), abandoned=True)
    assert api.calls == []


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("SlowDown", 503, True),
        ("ServiceUnavailable", 503, True),
        ("InternalError", 500, True),
        ("OperationAborted", 409, True),
        ("NetworkError", 0, True),
        ("Throttling", 400, True),
        ("AccessDenied", 403, False),
        ("NoSuchBucket", 404, False),
        ("InvalidArgument", 400, False),
        ("MalformedXML", 400, False),
    ],
)
def test_retryable_errors(code: str, status: int, retryable: bool) -> None:
    assert is_retryable(BucketNotificationError(code, "", status)) is retryable


# ----------------------------------------------------------------------- the race, detected
def test_another_writer_at_the_same_moment_is_reported(log: RecordingLogger) -> None:
    meddled = {"TopicConfigurations": [{"Id": "new", "TopicArn": "arn:t", "Events": ["e"]}]}
    api = MemoryNotifications({BUCKET: dict(OTHERS)}, meddle_after_write=meddled)
    _run(api, _request("Create"))
    [warning] = [r for r in log.records if r[0] == "warning"]
    assert "another tool may have written it" in warning[1]
    assert warning[2]["changed_entries"] == ["TopicConfigurations"]


def test_a_failed_read_back_is_only_a_warning(log: RecordingLogger) -> None:
    denied = BucketNotificationError("AccessDenied", "Access Denied", 403)
    api = MemoryNotifications({BUCKET: {}})
    api.errors["read"] = []
    original_write = api.write

    def write_then_deny_reads(bucket: str, document: NotificationDocument) -> None:
        original_write(bucket, document)
        api.errors["read"].append(denied)

    api.write = write_then_deny_reads  # type: ignore[method-assign]
    assert _run(api, _request("Create"))[0] == SWITCHED_ON
    assert log.warnings() == ["could not read the configuration back after writing it"]


# ----------------------------------------------------------------------- fallback physical id
@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"PhysicalResourceId": "kept#as-is"}, "kept#as-is"),
        ({"ResourceProperties": {"BucketName": BUCKET}}, f"{BUCKET}#eventbridge-not-switched-on"),
        (
            {"ResourceProperties": {"BucketName": "bad#name"}, "LogicalResourceId": "Switch"},
            "Switch#eventbridge-not-switched-on",
        ),
        ({"ResourceProperties": "garbage"}, "EventBridgeSwitch#eventbridge-not-switched-on"),
        ({}, "EventBridgeSwitch#eventbridge-not-switched-on"),
    ],
)
def test_fallback_physical_ids_own_nothing(event: dict[str, Any], expected: str) -> None:
    physical_id = fallback_physical_id(event)
    assert physical_id == expected
    parsed = ResourceId.parse(physical_id)
    assert parsed is None or parsed.ownership is not Ownership.SWITCHED_ON
