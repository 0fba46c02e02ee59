"""The invalidation strategies other tools use, as simulation batch handlers (benchmark only).

They stand for what other public invalidation tools do, reduced to the choice that drives cost,
quota use and latency: how many CreateInvalidation requests are made and with which paths. To
compare strategies and nothing else, each one is given this service's correct key-to-path
mapping (``paths_for_key``: index documents, encoding) and the same generous error handling: a
record whose request is refused (quota, throttling, anything) is reported as a batch item
failure, so SQS delivers it again after the visibility timeout and its redrive policy moves it
to the dead-letter queue after ``maxReceiveCount`` deliveries. None of them waits for
completion or notifies, as none of the peers does. Caller references are unique per request, as
the peers' timestamps or random values are, so a redelivered record is invalidated (and billed)
again.

- :class:`PerObject`: one invalidation per object (per record), with that key's paths. The
  benchmark runs it without a batching window (``emulator.benchmark.immediate``), as tools
  triggered by each event are.
- :class:`PerBatch`: one invalidation per batch with every path and no collapsing, split into
  requests of 3,000 paths (CloudFront's per-request maximum) as the better peers do.
- :class:`Everything`: one ``/*`` invalidation per batch.

This service itself is :class:`emulator.simulation.ServiceHandler`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

from moto.cloudfront.exceptions import NoSuchDistribution

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import parse_message
from cfinvalidator.paths import paths_for_key
from cfinvalidator.planning import rules_from
from cfinvalidator.service import SqsMessage
from emulator.local_aws.cloudfront import MAX_IN_PROGRESS_FILES
from emulator.local_aws.cloudfront_errors import CloudFrontError
from emulator.simulation.handler import SimContext

__all__ = ["Everything", "PerBatch", "PerObject", "Strategy"]

_REFUSED = (CloudFrontError, NoSuchDistribution)


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
        yield _Record(message.message_id, tuple(dict.fromkeys(paths)))


@dataclass(slots=True)
class Strategy:
    """Makes CreateInvalidation requests; subclasses decide which."""

    name: str = ""
    _references: int = field(default=0, repr=False)

    def _reference(self, context: SimContext) -> str:
        """Unique per request, like a timestamp or a random value."""
        self._references += 1
        return f"{self.name}-{context.invocation}-{self._references}"

    def _create(self, context: SimContext, paths: Sequence[str]) -> bool:
        """One CreateInvalidation per distribution; True if every one was accepted."""
        accepted = True
        for distribution_id in context.config.distribution_ids:
            try:
                context.cloudfront_fake.create_directly(
                    distribution_id, paths, self._reference(context)
                )
            except _REFUSED:
                accepted = False
        return accepted


@dataclass(slots=True)
class PerObject(Strategy):
    """One invalidation per object, as soon as its record arrives."""

    name: str = "per-object"

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        return {
            record.message_id
            for record in _records(messages, context)
            if record.paths and not self._create(context, record.paths)
        }


@dataclass(slots=True)
class PerBatch(Strategy):
    """Every path of the batch, no collapsing, in requests of at most 3,000 paths."""

    name: str = "per-batch"

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        records = [record for record in _records(messages, context) if record.paths]
        paths = list(dict.fromkeys(path for record in records for path in record.paths))
        refused: set[str] = set()
        for start in range(0, len(paths), MAX_IN_PROGRESS_FILES):
            chunk = paths[start : start + MAX_IN_PROGRESS_FILES]
            if not self._create(context, chunk):
                refused.update(chunk)
        return {r.message_id for r in records if any(p in refused for p in r.paths)}


@dataclass(slots=True)
class Everything(Strategy):
    """``/*`` once per batch, whatever changed."""

    name: str = "everything"

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        records = [record for record in _records(messages, context) if record.paths]
        if not records or self._create(context, ["/*"]):
            return set()
        return {record.message_id for record in records}
