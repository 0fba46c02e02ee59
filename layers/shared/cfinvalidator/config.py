"""Configuration, parsed once from the environment variables declared in template.yaml."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cfinvalidator.errors import ConfigError
from cfinvalidator.quotas import MAX_PATHS_PER_REQUEST

_DISTRIBUTION_ID = re.compile(r"^[A-Z][A-Z0-9]{12,14}$")
# template.yaml grants CloudFront permissions per distribution for at most this many IDs.
MAX_DISTRIBUTIONS = 10
_STATE_MACHINE_ARN = re.compile(
    r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]{1,80}$"
)
_ORIGIN_PATH = re.compile(r"^(/[^/]+)*$")
_QUEUE_URL = re.compile(r"^https?://[^/\s]+/\d{12}/[\w-]{1,80}$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the batcher needs to know, validated.

    ``origin_path`` is the ``ORIGIN_PATH`` override, normalised to ``""`` (the bucket root,
    written ``/``) or ``/a/b``; None (``ORIGIN_PATH`` empty) means each distribution's origins
    are read from its configuration (``cfinvalidator.origins``), refreshed every
    ``origin_refresh_seconds``.
    """

    distribution_ids: tuple[str, ...]
    bucket_name: str
    key_prefix: str
    origin_path: str | None
    index_document: str
    state_machine_arn: str
    queue_url: str
    dead_letter_queue_url: str
    topic_arn: str
    max_receive_count: int = 8
    defer_delay_seconds: int = 30
    collapse_threshold: int = 10
    broadest_wildcard_depth: int = 0
    origin_refresh_seconds: int = 300
    # Whether the stack subscribes to deletions (InvalidateDeletes). The batcher serves whatever
    # arrives; cfinv reads it to know whether a deleted key is ever invalidated.
    invalidate_deletes: bool = False
    # How wildcards are priced (collapse.py): the unchanged objects one may needlessly
    # invalidate per billed path it saves, whether to count the bucket's objects at all, and
    # the paths a month that cost nothing (0: no budget, every path is paid for).
    unchanged_per_saved_path: int = 100
    count_bucket_objects: bool = True
    monthly_path_budget: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        """Parse ``env``; raise ConfigError naming every missing or malformed variable."""
        problems: list[str] = []
        ids = _distribution_ids(env, problems)
        bucket = _required(env, "BUCKET_NAME", problems)
        arn = _required(env, "STATE_MACHINE_ARN", problems)
        if arn and not _STATE_MACHINE_ARN.match(arn):
            problems.append(f"STATE_MACHINE_ARN is not a state machine ARN: {arn!r}")
        origin_path = _origin_path(env, problems)
        key_prefix = env.get("KEY_PREFIX", "")
        problems += prefix_problems(key_prefix, origin_path)
        index_document = env.get("INDEX_DOCUMENT", "index.html").strip()
        if "/" in index_document:
            problems.append(f"INDEX_DOCUMENT must be a file name without '/': {index_document!r}")
        queue_url = _matching(env, "QUEUE_URL", _QUEUE_URL, "an SQS queue URL", problems)
        dead_letter_queue_url = _matching(
            env, "DEAD_LETTER_QUEUE_URL", _QUEUE_URL, "an SQS queue URL", problems
        )
        topic_arn = _matching(env, "TOPIC_ARN", _TOPIC_ARN, "an SNS topic ARN", problems)
        # Up to the paths one request may carry: a higher threshold is never reached.
        threshold = _integer(env, "COLLAPSE_THRESHOLD", 10, 0, MAX_PATHS_PER_REQUEST, problems)
        if threshold == 1:
            problems.append(
                "COLLAPSE_THRESHOLD must be 0 (never collapse) or at least 2: 1 would turn "
                "every single change into a wildcard"
            )
        max_receive_count = _integer(env, "MAX_RECEIVE_COUNT", 8, 1, 1000, problems)
        defer_delay_seconds = _integer(env, "DEFER_DELAY_SECONDS", 30, 1, 900, problems)
        broadest = _integer(env, "BROADEST_WILDCARD_DEPTH", 0, 0, 100, problems)
        refresh = _integer(env, "ORIGIN_REFRESH_SECONDS", 300, 10, 3600, problems)
        deletes = _boolean(env, "INVALIDATE_DELETES", default=False, problems=problems)
        unchanged = _integer(env, "UNCHANGED_PER_SAVED_PATH", 100, 0, 1_000_000, problems)
        count_objects = _boolean(env, "COUNT_BUCKET_OBJECTS", default=True, problems=problems)
        budget = _integer(env, "MONTHLY_PATH_BUDGET", 1000, 0, 100_000_000, problems)
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        return cls(
            distribution_ids=ids,
            bucket_name=bucket,
            key_prefix=key_prefix,
            origin_path=origin_path,
            index_document=index_document,
            state_machine_arn=arn,
            queue_url=queue_url,
            dead_letter_queue_url=dead_letter_queue_url,
            topic_arn=topic_arn,
            max_receive_count=max_receive_count,
            defer_delay_seconds=defer_delay_seconds,
            collapse_threshold=threshold,
            broadest_wildcard_depth=broadest,
            origin_refresh_seconds=refresh,
            invalidate_deletes=deletes,
            unchanged_per_saved_path=unchanged,
            count_bucket_objects=count_objects,
            monthly_path_budget=budget,
        )


def prefix_problems(key_prefix: str, origin_path: str | None) -> list[str]:
    """Why KEY_PREFIX and a (normalised) ORIGIN_PATH cannot work together, if they cannot.

    The batcher checks this on its first invocation; the template's ConfigurationCheck custom
    resource runs the same check at deploy time (template Rules cannot compare prefixes)."""
    origin_dir = (origin_path or "").lstrip("/") + "/"
    if (
        origin_path
        and key_prefix
        and not (origin_dir.startswith(key_prefix) or key_prefix.startswith(origin_dir))
    ):
        return [
            f"KEY_PREFIX {key_prefix!r} and ORIGIN_PATH {origin_path!r} select no key in "
            "common: every upload would be skipped"
        ]
    return []


def origin_path_and_problems(raw: str) -> tuple[str | None, list[str]]:
    """ORIGIN_PATH as the batcher reads it (see ``_origin_path``), and what is wrong with it."""
    problems: list[str] = []
    return _origin_path({"ORIGIN_PATH": raw}, problems), problems


def _required(env: Mapping[str, str], name: str, problems: list[str]) -> str:
    value = env.get(name, "").strip()
    if not value:
        problems.append(f"{name} is missing or empty")
    return value


def _matching(
    env: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str, problems: list[str]
) -> str:
    value = _required(env, name, problems)
    if value and not pattern.match(value):
        problems.append(f"{name} is not {what}: {value!r}")
    return value


def _integer(
    env: Mapping[str, str],
    name: str,
    default: int,
    lowest: int,
    highest: int,
    problems: list[str],
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if not lowest <= value <= highest:
        problems.append(f"{name} must be from {lowest} to {highest}, got {value}")
        return default
    return value


def _boolean(env: Mapping[str, str], name: str, *, default: bool, problems: list[str]) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in {"true", "false"}:
        problems.append(f"{name} must be true or false, got {raw!r}")
        return default
    return raw == "true"


def _distribution_ids(env: Mapping[str, str], problems: list[str]) -> tuple[str, ...]:
    raw = _required(env, "DISTRIBUTION_IDS", problems)
    ids = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    malformed = [i for i in ids if not _DISTRIBUTION_ID.match(i)]
    if malformed:
        problems.append(
            f"DISTRIBUTION_IDS has malformed IDs {malformed}: expected comma-separated "
            "CloudFront distribution IDs such as E2EXAMPLE12345"
        )
    if len(ids) > MAX_DISTRIBUTIONS:
        problems.append(
            f"DISTRIBUTION_IDS lists {len(ids)} distributions; at most {MAX_DISTRIBUTIONS} "
            "are supported (the stack grants CloudFront permissions per distribution)"
        )
    return ids


def _origin_path(env: Mapping[str, str], problems: list[str]) -> str | None:
    """None (discover) when empty; ``/`` is the bucket root (``""``); else ``/a/b``, with a
    leading slash added and a trailing one removed."""
    origin_path = env.get("ORIGIN_PATH", "").strip()
    if not origin_path:
        return None
    if not origin_path.startswith("/"):
        origin_path = "/" + origin_path
    origin_path = origin_path.rstrip("/")
    if not _ORIGIN_PATH.match(origin_path):
        problems.append(
            f"ORIGIN_PATH must be empty (discover), / (the bucket root) or like /site or /a/b: "
            f"{origin_path!r}"
        )
    return origin_path
