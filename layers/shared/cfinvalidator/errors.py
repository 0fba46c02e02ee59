"""Domain exceptions: the logic and the adapters raise these.

``service.py`` maps them to each record's outcome (done, deferred or dead-lettered); a
``ConfigError`` is left to propagate, so the invocation fails and the batch is retried.
"""


class InvalidatorError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(InvalidatorError):
    """An environment variable is missing or malformed. The message names it."""


class MalformedEventError(InvalidatorError):
    """An SQS message body is not an S3 event notification this service understands."""


class CloudFrontError(InvalidatorError):
    """CloudFront refused or failed a request.

    ``code`` is the AWS error code (``TooManyInvalidationsInProgress``, ``Throttling``...),
    ``status`` the HTTP status (0 when no response arrived).
    """

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class TrackingError(InvalidatorError):
    """The completion tracker (a Step Functions execution) could not be started."""


class NotificationError(InvalidatorError):
    """A notification could not be published."""
