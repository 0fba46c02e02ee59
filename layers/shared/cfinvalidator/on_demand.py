"""On-demand invalidation requests: the message ``cfinv invalidate`` puts on the queue.

A request names CloudFront paths directly (not object keys), the same on every distribution the
stack serves. The batcher serves it like an object change: each path is one change, timed by when
the message reached the queue (SQS's SentTimestamp; ``requestedAt``, the sender's clock, only
where that is missing), so the planner's coverage rule (an invalidation created after the change
covers it), collapsing, quotas, CallerReference idempotency and notifications all apply. The
body::

    {"type": "cfinvalidator.InvalidationRequested", "version": 1,
     "requestId": "3f1c...", "requestedAt": "2026-12-03T10:00:00.000Z",
     "paths": ["/index.html", "/css/*"]}

Paths are checked here, once, for both sides: ``cfinv`` refuses bad input before sending, and the
batcher dead-letters a message that slipped past it, with a FAILED notification naming the path.
The rules are CloudFront's (docs/aws-behaviour.md, "CloudFront paths and encoding"), plus two of
this service's: a path must already be written the way CloudFront expects it (``cfinv`` says how),
and one request may hold at most 15 wildcards, the most a distribution can have in progress.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.paths import WILDCARD, as_cloudfront_path
from cfinvalidator.quotas import MAX_IN_PROGRESS_WILDCARDS, MAX_PATH_LENGTH, MAX_PATHS_PER_REQUEST

REQUEST_TYPE = "cfinvalidator.InvalidationRequested"
REQUEST_VERSION = 1
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch: no final newline slips by
_ENCODED_TILDE = re.compile(r"%7e", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RequestedPath:
    """One path of an on-demand request, served as one change.

    ``key`` and ``event_time`` are named as ``ObjectEvent``'s are, because the planner reads a
    change's source the same way whatever it is: the path stands where a key would (in tracker
    input and FAILED notifications), the request's time where the object's change time would.
    """

    message_id: str
    record_index: int
    path: str
    request_id: str
    event_time: datetime

    @property
    def key(self) -> str:
        return self.path

    @property
    def identity(self) -> str:
        """Stable across redeliveries of the message, new for every request."""
        return f"request:{self.request_id}#{self.path}"


class PathError(ValueError):
    """A requested path CloudFront would refuse or misread; the message names it."""


def path_problem(path: object) -> str | None:
    """Why ``path`` cannot be requested, or None when it can."""
    if not isinstance(path, str):
        return f"path {path!r} is not a string"
    if not path.startswith("/"):
        return f"path {path!r} must start with /"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return f"path {path!r} is not valid Unicode text"
    if len(path) > MAX_PATH_LENGTH:
        return (
            f"path {path[:60]!r}... is {len(path)} characters; CloudFront allows {MAX_PATH_LENGTH}"
        )
    if WILDCARD in path[:-1]:
        return f"path {path!r} has * before its end; * is a wildcard only as the last character"
    if "~" in path or _ENCODED_TILDE.search(path):
        return (
            f"path {path!r} contains ~, which no invalidation path can name (CloudFront refuses "
            f"it, and %7E matches nothing); request {_before_tilde(path)!r} instead"
        )
    written = as_cloudfront_path(path)
    if written != path:
        return f"path {path!r} must be URL-encoded as CloudFront expects it: {written!r}"
    return None


def _before_tilde(path: str) -> str:
    """The wildcard covering ``path`` from just before its first ``~`` (or ``%7E``), written for
    CloudFront."""
    match = _ENCODED_TILDE.search(path)
    cut = min(i for i in (path.find("~"), match.start() if match else -1) if i >= 0)
    return as_cloudfront_path(path[:cut]) + WILDCARD


def checked_paths(paths: Sequence[object]) -> tuple[str, ...]:
    """The paths, duplicates dropped, in order; raise PathError naming the first bad one (or
    saying how many there are too many of)."""
    if not paths:
        raise PathError("no path given")
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            raise PathError(problem)
    unique = tuple(dict.fromkeys(str(path) for path in paths))
    if len(unique) > MAX_PATHS_PER_REQUEST:
        raise PathError(
            f"{len(unique)} paths; one request may hold at most {MAX_PATHS_PER_REQUEST}"
        )
    wildcards = [path for path in unique if path.endswith(WILDCARD)]
    if len(wildcards) > MAX_IN_PROGRESS_WILDCARDS:
        raise PathError(
            f"{len(wildcards)} wildcard paths; a distribution may have at most "
            f"{MAX_IN_PROGRESS_WILDCARDS} in progress, so one request may hold at most that many"
        )
    return unique


def request_body(paths: Sequence[str], request_id: str, requested_at: datetime) -> str:
    """The SQS message body of a request (the paths checked first)."""
    if not _REQUEST_ID.fullmatch(request_id):
        raise PathError(f"request ID {request_id!r} must be 1 to 64 letters, digits, - or _")
    return json.dumps(
        {
            "type": REQUEST_TYPE,
            "version": REQUEST_VERSION,
            "requestId": request_id,
            "requestedAt": requested_at.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "paths": list(checked_paths(paths)),
        },
        ensure_ascii=False,
    )


def is_request(document: dict[str, Any]) -> bool:
    """A body with a ``type`` field is read as a request (S3 and EventBridge bodies have none),
    so one of another type or version is told what is wrong with it."""
    return "type" in document


def parse_request(message_id: str, document: dict[str, Any]) -> tuple[RequestedPath, ...]:
    """The request's paths; raise MalformedEventError saying what is wrong."""
    kind = document.get("type")
    if kind != REQUEST_TYPE or document.get("version") != REQUEST_VERSION:
        raise MalformedEventError(
            f"message of type {kind!r} version {document.get('version')!r}: this batcher reads "
            f"S3 events and {REQUEST_TYPE!r} version {REQUEST_VERSION}"
        )
    request_id = document.get("requestId")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise MalformedEventError(f"on-demand request has a malformed requestId: {request_id!r}")
    requested_at = _time(document.get("requestedAt"))
    paths = document.get("paths")
    if not isinstance(paths, list):
        raise MalformedEventError(f"on-demand request {request_id} has no list of paths")
    try:
        unique = checked_paths(paths)
    except PathError as error:
        raise MalformedEventError(f"on-demand request {request_id} refused: {error}") from error
    return tuple(
        RequestedPath(message_id, index, path, request_id, requested_at)
        for index, path in enumerate(unique)
    )


def _time(value: object) -> datetime:
    """Required: the coverage rule needs the moment of the request."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise MalformedEventError(f"on-demand request has a malformed requestedAt: {value!r}")
