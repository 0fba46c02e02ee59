"""Emulator correction: GetBucketNotificationConfiguration reports EventBridge delivery.

moto 5.2 stores ``EventBridgeConfiguration`` when a configuration is written (and then sends the
bucket's events to EventBridge), but its GetBucketNotificationConfiguration answer leaves it out:
a reader cannot tell that EventBridge delivery is on. AWS returns an empty
``<EventBridgeConfiguration/>`` element then, which boto3 reads as ``{}``
(docs/aws-behaviour.md#where-moto-differs). :func:`faithful_bucket_notifications` patches moto's
S3 response for as long as it is active, so the answer carries it, as on AWS.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["faithful_bucket_notifications", "read_notification_configuration"]

_lock = threading.Lock()
_depth = 0
_original: Any = None


def _answer_with_eventbridge(self: Any) -> Any:
    status, headers, body = _original(self)
    configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
    if configuration is None or configuration.event_bridge is None:
        return status, headers, body
    text = body.decode() if isinstance(body, bytes) else str(body)
    closing = "</NotificationConfiguration>"
    if "<EventBridgeConfiguration" in text:
        return status, headers, body
    if closing in text:
        text = text.replace(closing, "<EventBridgeConfiguration/>" + closing)
    else:  # an empty answer: only EventBridge is configured
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<EventBridgeConfiguration/></NotificationConfiguration>"
        )
    return status, headers, text.encode() if isinstance(body, bytes) else text


@contextlib.contextmanager
def faithful_bucket_notifications() -> Iterator[None]:
    """Patch moto's GetBucketNotificationConfiguration while active (re-entrant)."""
    from moto.s3.responses import S3Response

    global _depth, _original
    with _lock:
        if _depth == 0:
            _original = S3Response.get_bucket_notification
            S3Response.get_bucket_notification = _answer_with_eventbridge  # type: ignore[method-assign]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                S3Response.get_bucket_notification = _original  # type: ignore[method-assign]
                _original = None


def read_notification_configuration(s3: Any, bucket: str) -> dict[str, Any]:
    """The bucket's notification configuration as AWS answers it (ResponseMetadata left out)."""
    with faithful_bucket_notifications():
        answer = s3.get_bucket_notification_configuration(Bucket=bucket)
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}
