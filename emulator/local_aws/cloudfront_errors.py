"""CloudFront's error responses, raised from inside moto's backend so boto3 parses them as AWS's.

The codes, HTTP statuses and messages are AWS's
(docs/aws-behaviour.md#cloudfront-errors-and-throttling).
"""

from __future__ import annotations

from typing import Any, Final
from xml.sax.saxutils import escape

from werkzeug.exceptions import HTTPException

__all__ = ["DEFAULT_ERRORS", "CloudFrontError"]

_XML_NAMESPACE: Final = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

# HTTP status and message AWS uses for each error code (messages abbreviated where AWS's vary).
DEFAULT_ERRORS: Final[dict[str, tuple[int, str]]] = {
    "Throttling": (400, "Rate exceeded"),
    "ServiceUnavailable": (503, "Service Unavailable"),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "AccessDenied": (403, "Access denied."),
    "NoSuchDistribution": (404, "The specified distribution does not exist."),
    "NoSuchInvalidation": (404, "The specified invalidation does not exist."),
    "BatchTooLarge": (413, "Invalidation batch specified is too large."),
    "TooManyInvalidationsInProgress": (
        400,
        "Processing your request will cause you to exceed the maximum number of in-progress"
        " wildcard invalidations or the maximum number of in-progress file invalidations.",
    ),
    "InvalidArgument": (400, "Your request contains one or more invalid invalidation paths."),
    # UNCONFIRMED status: CloudFront's other *AlreadyExists errors are 409.
    "InvalidationBatchAlreadyExists": (
        409,
        "The CallerReference is already used by an invalidation with different paths.",
    ),
    "MissingBody": (400, "This operation requires a body."),
    "InconsistentQuantities": (400, "The value of Quantity and the size of Items don't match."),
}


class CloudFrontError(HTTPException):
    """An error response in CloudFront's REST-XML error format, raised from the moto backend.

    moto's response layer turns any werkzeug HTTPException into a response with this body and
    status, so boto3 parses `Code`, `Message` and the HTTP status exactly as from AWS.
    """

    def __init__(self, error_code: str, message: str | None = None, status: int | None = None):
        default_status, default_message = DEFAULT_ERRORS.get(error_code, (400, error_code))
        self.error_code = error_code
        self.message = default_message if message is None else message
        self.status = default_status if status is None else status
        fault = "Sender" if self.status < 500 else "Receiver"
        body = (
            f'<?xml version="1.0"?><ErrorResponse xmlns="{_XML_NAMESPACE}">'
            f"<Error><Type>{fault}</Type><Code>{escape(error_code)}</Code>"
            f"<Message>{escape(self.message)}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        )
        super().__init__(description=body)
        self.code = self.status

    def get_headers(
        self, environ: Any = None, scope: dict[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        return [("Content-Type", "text/xml")]

    def __str__(self) -> str:
        return f"{self.error_code} ({self.status}): {self.message}"
