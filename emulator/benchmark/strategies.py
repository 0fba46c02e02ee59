"""The invalidation strategies other tools use, as simulation batch handlers (benchmark only).

Each stands for one public tool's documented behaviour (the README of each, as summarised in
docs/benchmarks.md), reduced to what drives cost, quota use, loss and latency: which paths it
asks for, in how many requests, and what it does when CloudFront refuses.

What they share, to compare strategies and nothing else: this service's key-to-path mapping
(``paths_for_key``: index documents, encoding; with their own, hostile keys would fare worse),
and the same trigger. The deploy-time tools (s3deploy, CDK, SST, s3_website, "always /*") run
once per batch of the same event source as this service (30 s window), standing for one deploy
per window. What they do on a refusal is their own: none of them queues work for later, so a
refused request's keys are acknowledged and lost unless the tool retries in time. Caller
references are unique per request (timestamps or random values in every peer), so a retry is
billed again.

- :class:`PerObject` (an S3-triggered Lambda such as the auto-invalidators): one request per
  object as its event arrives, the SDK's retries on throttling and 5xx, then Lambda's
  asynchronous retries (twice), then the event is dropped (``per_object_event_source``).
- :class:`S3deployStyle`: the batch's paths if there are at most 8, else ``/*``; no retries.
- :class:`CdkStyle`: one ``/<prefix>*`` per batch (the stack's scope), 10 SDK retries.
- :class:`SstStyle`: deduplicated paths in chunks of 3,000 files and 15 wildcards; errors
  swallowed.
- :class:`S3WebsiteStyle`: chunks of 1,000 paths; on TooManyInvalidationsInProgress it backs
  off and tries again while the invocation has time.
- :class:`Everything`: ``/*`` per batch, the SDK's retries.

This service itself is :class:`emulator.simulation.ServiceHandler`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from moto.cloudfront.exceptions import NoSuchDistribution

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import parse_message
from cfinvalidator.paths import is_wildcard, paths_for_key, scope_of
from cfinvalidator.planning import rules_from
from cfinvalidator.service import SqsMessage
from emulator.local_aws.cloudfront import MAX_IN_PROGRESS_FILES, MAX_IN_PROGRESS_WILDCARDS
from emulator.local_aws.cloudfront_errors import CloudFrontError
from emulator.simulation.handler import SimContext

__all__ = [
    "CdkStyle",
    "Everything",
    "PerObject",
    "S3WebsiteStyle",
    "S3deployStyle",
    "SstStyle",
    "Strategy",
]

_REFUSED = (CloudFrontError, NoSuchDistribution)
S3DEPLOY_MAX_PATHS: Final = 8
S3_WEBSITE_CHUNK: Final = 1_000
SDK_ATTEMPTS: Final = 5  # boto3's legacy retry mode: 5 attempts on throttling and 5xx
CDK_ATTEMPTS: Final = 11  # 10 client retries
BACKOFF_BASE_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class _Record:
    message_id: str
    paths: tuple[str, ...]  # every viewer path of every key in the message, in order


def _records(messages: Sequence[SqsMessage], context: SimContext) -> Iterator[_Record]:
    """Each message's viewer paths; a message that does not parse is skipped (acknowledged),
    as the peers do (no workload sends one)."""
    rules = rules_from(context.config)
    for message in messages:
        try:
            parsed = parse_message(message.message_id, message.body)
        except MalformedEventError:
            continue
        paths = [path for event in parsed.events for path in paths_for_key(event.key, rules)]
        if paths:
            yield _Record(message.message_id, tuple(dict.fromkeys(paths)))


def _retryable_by_sdk(error: Exception) -> bool:
    """What AWS SDKs retry: throttling and 5xx (TooManyInvalidationsInProgress is a 400)."""
    if not isinstance(error, CloudFrontError):
        return False
    return error.error_code in {"Throttling", "ThrottlingException"} or error.status >= 500


@dataclass(slots=True)
class Strategy:
    """Makes CreateInvalidation requests; subclasses decide which."""

    name: str = ""
    attempts: int = SDK_ATTEMPTS
    _references: int = field(default=0, repr=False)

    def _reference(self, context: SimContext) -> str:
        """Unique per request, like a timestamp or a random value."""
        self._references += 1
        return f"{self.name}-{context.invocation}-{self._references}"

    def _send(self, context: SimContext, distribution_id: str, paths: Sequence[str]) -> None:
        """One request with the SDK's retries (exponential back-off); raises the last error."""
        for attempt in range(self.attempts):
            try:
                context.cloudfront_fake.create_directly(
                    distribution_id, paths, self._reference(context)
                )
                return
            except _REFUSED as error:
                if attempt + 1 == self.attempts or not _retryable_by_sdk(error):
                    raise
                delay = min(20.0, 0.1 * 2**attempt)
                if delay >= context.remaining_seconds():
                    raise
                context.sleep(delay)

    def _create(self, context: SimContext, paths: Sequence[str]) -> bool:
        """The request on every distribution; True if every one was accepted."""
        accepted = True
        for distribution_id in context.config.distribution_ids:
            try:
                self._send(context, distribution_id, paths)
            except _REFUSED:
                accepted = False
        return accepted


@dataclass(slots=True)
class PerObject(Strategy):
    """One request per object as its event arrives; a refusal fails the invocation, which
    Lambda retries asynchronously (the event source settings stand for that)."""

    name: str = "per-object"

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        return {
            record.message_id
            for record in _records(messages, context)
            if not self._create(context, record.paths)
        }


@dataclass(slots=True)
class S3deployStyle(Strategy):
    """At most 8 paths, else ``/*``; one try, a refusal loses the batch."""

    name: str = "s3deploy"
    attempts: int = 1

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        paths = list(dict.fromkeys(p for r in _records(messages, context) for p in r.paths))
        if paths:
            self._create(context, paths if len(paths) <= S3DEPLOY_MAX_PATHS else ["/*"])
        return set()


@dataclass(slots=True)
class CdkStyle(Strategy):
    """One ``/<prefix>*`` per deploy, 10 client retries; a refusal fails the deploy."""

    name: str = "cdk"
    attempts: int = CDK_ATTEMPTS

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        if any(True for _ in _records(messages, context)):
            self._create(context, [scope_of(rules_from(context.config)) + "*"])
        return set()


def _chunks(paths: Sequence[str], files: int, wildcards: int) -> list[list[str]]:
    """Consecutive requests of at most ``files`` file paths and ``wildcards`` wildcards."""
    chunks: list[list[str]] = [[]]
    counts = [0, 0]
    for path in paths:
        wild = is_wildcard(path)
        if (wild and counts[1] == wildcards) or (not wild and counts[0] == files):
            chunks.append([])
            counts = [0, 0]
        chunks[-1].append(path)
        counts[wild] += 1
    return [chunk for chunk in chunks if chunk]


@dataclass(slots=True)
class SstStyle(Strategy):
    """Deduplicated paths in chunks of 3,000 files and 15 wildcards; errors swallowed."""

    name: str = "sst"

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        paths = list(dict.fromkeys(p for r in _records(messages, context) for p in r.paths))
        for chunk in _chunks(paths, MAX_IN_PROGRESS_FILES, MAX_IN_PROGRESS_WILDCARDS):
            self._create(context, chunk)
        return set()


@dataclass(slots=True)
class S3WebsiteStyle(Strategy):
    """Chunks of 1,000 paths; on TooManyInvalidationsInProgress, back off (1 s, 2 s, 4 s...)
    and try again while the invocation has time; then the chunk is lost."""

    name: str = "s3_website"

    def _send(self, context: SimContext, distribution_id: str, paths: Sequence[str]) -> None:
        delay = BACKOFF_BASE_SECONDS
        while True:
            try:
                Strategy._send(self, context, distribution_id, paths)
                return
            except CloudFrontError as error:
                if error.error_code != "TooManyInvalidationsInProgress":
                    raise
                if delay >= context.remaining_seconds():
                    raise
                context.sleep(delay)
                delay *= 2

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        paths = list(dict.fromkeys(p for r in _records(messages, context) for p in r.paths))
        for start in range(0, len(paths), S3_WEBSITE_CHUNK):
            self._create(context, paths[start : start + S3_WEBSITE_CHUNK])
        return set()


@dataclass(slots=True)
class Everything(Strategy):
    """``/*`` once per batch, whatever changed; the SDK's retries."""

    name: str = "everything"

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        if any(True for _ in _records(messages, context)):
            self._create(context, ["/*"])
        return set()
