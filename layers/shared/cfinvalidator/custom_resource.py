"""CloudFormation's custom resource protocol: read the request, always answer it, exactly once.

CloudFormation invokes the function with a request (Create, Update or Delete) and then waits for
an answer PUT to the request's pre-signed ``ResponseURL``, for an hour by default (the resource's
``ServiceTimeout``). Whatever happens, the stack must not wait that long: :func:`answer_request`
answers FAILED for every exception (a malformed request, an S3 refusal, a bug) and, through a
timer, shortly before the Lambda deadline if the work is still running. A lock makes sure only
one answer is delivered; the work is told (``Budget.abandoned``) to start no new AWS call once
the timer has answered.

The answer's body (at most 4,096 bytes) carries Status, Reason, PhysicalResourceId, StackId,
RequestId, LogicalResourceId and Data. A FAILED answer keeps the incoming PhysicalResourceId, or
uses the ``fallback_physical_id`` the caller derives from the request: CloudFormation sends a
Delete with it after a failed Create, and that Delete must do no harm.

If the answer cannot be delivered at all, the exception propagates: Lambda then retries the
asynchronous invocation, and the work is idempotent, so the retry can still answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cfinvalidator.bucket_notifications import RequestType
from cfinvalidator.errors import (
    CustomResourceRequestError,
    CustomResourceResponseError,
    InvalidatorError,
)
from cfinvalidator.observability import logger
from cfinvalidator.ports import CustomResourceResponder

MAX_BODY_BYTES = 4096
MAX_REASON_CHARS = 1000
# Answer FAILED this long before the Lambda deadline when the work is still running: room for
# adapters.cloudformation's delivery attempts (3 x 3 s timeouts plus backoff).
TIMEOUT_GUARD_SECONDS = 10.0
_ELLIPSIS = "..."
UNKNOWN_PHYSICAL_ID = "custom-resource-request-failed"


@dataclass(frozen=True, slots=True)
class Request:
    """The fields of a custom resource request that the work and the answer need."""

    request_type: RequestType
    request_id: str
    stack_id: str
    logical_resource_id: str
    response_url: str
    physical_resource_id: str | None
    properties: Mapping[str, Any] = field(default_factory=dict)
    old_properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        """Parse the event; a missing or malformed field raises CustomResourceRequestError."""
        raw_type = event.get("RequestType")
        try:
            request_type = RequestType(raw_type if isinstance(raw_type, str) else "")
        except ValueError as exc:
            raise CustomResourceRequestError(
                f"RequestType must be Create, Update or Delete, not {raw_type!r}"
            ) from exc
        physical_id = event.get("PhysicalResourceId")
        if request_type is not RequestType.CREATE and not _non_empty_string(physical_id):
            raise CustomResourceRequestError(f"a {request_type} request needs PhysicalResourceId")
        return cls(
            request_type=request_type,
            request_id=_required_string(event, "RequestId"),
            stack_id=_required_string(event, "StackId"),
            logical_resource_id=_required_string(event, "LogicalResourceId"),
            response_url=_required_string(event, "ResponseURL"),
            physical_resource_id=physical_id if _non_empty_string(physical_id) else None,
            properties=_properties(event, "ResourceProperties"),
            old_properties=_properties(event, "OldResourceProperties"),
        )


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _required_string(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise CustomResourceRequestError(f"the request has no {name} (a non-empty string)")
    return value


def _properties(event: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = event.get(name, {})
    if not isinstance(value, Mapping):
        raise CustomResourceRequestError(f"{name} must be an object, not {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Outcome:
    """A successful request's answer: the physical id and the attributes for Fn::GetAtt."""

    physical_resource_id: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Budget:
    """What the work may spend: the invocation's remaining time, and whether the timeout answer
    has gone out already (then it must start no new AWS call)."""

    remaining_seconds: Callable[[], float]
    abandoned: Callable[[], bool]


Work = Callable[[Request, Budget], Outcome]


class ContextLike(Protocol):
    """The part of Lambda's context object read here."""

    @property
    def log_stream_name(self) -> str: ...
    def get_remaining_time_in_millis(self) -> int: ...


class Cancellable(Protocol):
    def cancel(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


StartTimer = Callable[[float, Callable[[], None]], Cancellable]


def start_daemon_timer(seconds: float, callback: Callable[[], None]) -> Cancellable:
    """``callback`` in a daemon thread after ``seconds`` (the default :data:`StartTimer`)."""
    timer = threading.Timer(seconds, callback)
    timer.daemon = True
    timer.start()
    return timer


# ----------------------------------------------------------------------------- the answer
def truncated(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(_ELLIPSIS))] + _ELLIPSIS


def failure_reason(error: BaseException, log_stream: str = "") -> str:
    """A Reason a person can act on: the error (the domain's message as it is, any other
    exception with its type), where its traceback is logged."""
    if isinstance(error, InvalidatorError):
        message = str(error)
    else:
        message = f"unexpected {type(error).__name__}: {error}"
    return with_log_stream(message, log_stream)


def with_log_stream(message: str, log_stream: str) -> str:
    suffix = f" (CloudWatch log stream {log_stream})" if log_stream else ""
    return truncated(message, MAX_REASON_CHARS - len(suffix)) + suffix


def response_body(
    event: Mapping[str, Any],
    *,
    status: str,
    physical_resource_id: str,
    reason: str = "",
    data: Mapping[str, str] | None = None,
) -> bytes:
    """The JSON answer; identifiers are copied from the request as they came (empty if absent).

    The Reason is shortened further if the whole body would exceed CloudFormation's 4,096 bytes.
    """
    answer: dict[str, object] = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_resource_id,
        "StackId": _field(event, "StackId"),
        "RequestId": _field(event, "RequestId"),
        "LogicalResourceId": _field(event, "LogicalResourceId"),
    }
    if data:
        answer["Data"] = dict(data)
    body = json.dumps(answer).encode()
    excess = len(body) - MAX_BODY_BYTES
    if excess > 0:
        answer["Reason"] = truncated(reason, max(0, len(reason) - excess))
        body = json.dumps(answer).encode()
    return body


def _field(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    return value if isinstance(value, str) else ""


class _OneAnswer:
    """Delivers at most one answer, whichever thread (the work's or the timer's) comes first."""

    def __init__(self, responder: CustomResourceResponder, response_url: str) -> None:
        self._responder = responder
        self._response_url = response_url
        self._lock = threading.Lock()
        self.delivered = False

    def deliver(self, body: bytes) -> bool:
        """Send ``body`` unless an answer was delivered already; True if this one was sent.
        A failed delivery raises and leaves the next caller free to try."""
        with self._lock:
            if self.delivered:
                return False
            self._responder.send(self._response_url, body)
            self.delivered = True
            return True


def _remaining_seconds(context: ContextLike) -> float:
    return context.get_remaining_time_in_millis() / 1000


def answer_request(
    event: Mapping[str, Any],
    context: ContextLike,
    *,
    work: Work,
    responder: CustomResourceResponder,
    fallback_physical_id: Callable[[Mapping[str, Any]], str],
    guard_seconds: float = TIMEOUT_GUARD_SECONDS,
    start_timer: StartTimer = start_daemon_timer,
) -> None:
    """Run ``work`` on the request and answer CloudFormation once (see the module docstring)."""
    response_url = event.get("ResponseURL") if isinstance(event, Mapping) else None
    if not isinstance(response_url, str) or not response_url:
        # Nothing can be answered without the URL; never log the URL itself (it is a credential).
        logger.error("custom resource request without a ResponseURL: cannot answer it")
        return
    log_stream = getattr(context, "log_stream_name", "") or ""
    answer = _OneAnswer(responder, response_url)
    timed_out = threading.Event()
    _log_request(event)

    def on_deadline() -> None:
        timed_out.set()
        reason = with_log_stream(
            f"timed out: the work was not finished {guard_seconds:g} s before the Lambda "
            "deadline (a call already made may still complete; no new one is started)",
            log_stream,
        )
        physical_id = _safe_fallback(fallback_physical_id, event)
        body = response_body(
            event, status="FAILED", physical_resource_id=physical_id, reason=reason
        )
        try:
            if answer.deliver(body):
                logger.error("answered FAILED: timed out", extra={"reason": reason})
        except CustomResourceResponseError:
            logger.exception("the timeout answer could not be delivered")

    timer = start_timer(max(0.0, _remaining_seconds(context) - guard_seconds), on_deadline)
    try:
        budget = Budget(lambda: _remaining_seconds(context), timed_out.is_set)
        body, status = _run(event, work, budget, fallback_physical_id, log_stream)
        if answer.deliver(body):
            logger.info("answered CloudFormation", extra={"status": status})
        else:
            logger.warning("the work ended after the timeout answer; not answering again")
    except CustomResourceResponseError:
        logger.exception("the answer could not be delivered: failing the invocation")
        raise
    finally:
        timer.cancel()
        timer.join()  # a timeout answer being sent finishes before the function returns


def _run(
    event: Mapping[str, Any],
    work: Work,
    budget: Budget,
    fallback_physical_id: Callable[[Mapping[str, Any]], str],
    log_stream: str,
) -> tuple[bytes, str]:
    """The answer's body and status: the work's outcome, or FAILED for any exception."""
    try:
        outcome = work(Request.from_event(event), budget)
    # Every failure, foreseen or not, must become a FAILED answer: an unanswered request hangs
    # the stack. BaseException (SystemExit, KeyboardInterrupt) is left alone.
    except Exception as error:  # noqa: BLE001
        logger.exception("custom resource request failed")
        reason = failure_reason(error, log_stream)
        physical_id = _safe_fallback(fallback_physical_id, event)
        body = response_body(
            event, status="FAILED", physical_resource_id=physical_id, reason=reason
        )
        return body, "FAILED"
    body = response_body(
        event,
        status="SUCCESS",
        physical_resource_id=outcome.physical_resource_id,
        data=outcome.data,
    )
    return body, "SUCCESS"


def _safe_fallback(
    fallback_physical_id: Callable[[Mapping[str, Any]], str], event: Mapping[str, Any]
) -> str:
    """The caller's fallback physical id; a constant if even that fails (it must not stop the
    answer). Any id that the work did not write makes a later Delete do nothing."""
    try:
        physical_id = fallback_physical_id(event)
    except Exception:  # noqa: BLE001
        logger.exception("no fallback physical id could be derived from the request")
        return UNKNOWN_PHYSICAL_ID
    return physical_id or UNKNOWN_PHYSICAL_ID


def _log_request(event: Mapping[str, Any]) -> None:
    """Log what identifies the request, never the ResponseURL (whoever has it can answer)."""
    logger.info(
        "custom resource request",
        extra={
            name: event.get(name)
            for name in (
                "RequestType",
                "LogicalResourceId",
                "PhysicalResourceId",
                "StackId",
                "RequestId",
                "ResourceProperties",
                "OldResourceProperties",
            )
            if name in event
        },
    )
