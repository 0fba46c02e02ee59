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


class KnowledgeError(InvalidatorError):
    """Something the planner would like to know could not be read (the bucket's object counts,
    the month's billed paths). Never fatal: the planner then does without it. ``code`` is the
    AWS error code (``AccessDenied``, ``SlowDown``...; ``NetworkError`` when no response)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BucketNotificationError(InvalidatorError):
    """S3 refused or failed a Get/PutBucketNotificationConfiguration call.

    ``code`` is the AWS error code (``NoSuchBucket``, ``AccessDenied``, ``SlowDown``...; the
    adapter's ``NetworkError`` when no response arrived), ``status`` the HTTP status (0 then),
    ``operation`` the S3 operation and ``bucket`` the bucket it was called on.
    """

    def __init__(
        self, code: str, message: str, status: int = 0, *, operation: str = "", bucket: str = ""
    ) -> None:
        where = f"{operation} on bucket {bucket!r}: " if operation and bucket else ""
        http = f" (HTTP {status})" if status else ""
        super().__init__(f"{where}{code}: {message}{http}")
        self.code = code
        self.message = message
        self.status = status
        self.operation = operation
        self.bucket = bucket


class CustomResourceRequestError(InvalidatorError):
    """A CloudFormation custom resource request lacks a field or has a malformed one. The
    message names it."""


class CustomResourceResponseError(InvalidatorError):
    """The answer could not be delivered to CloudFormation's pre-signed response URL."""
