"""Serve one SQS batch: parse, plan per distribution, create invalidations, settle every record.

This module orchestrates the pure logic and the ports (``cfinvalidator.ports``); it imports no
adapter and never builds an AWS client itself. Every record ends in exactly one of three ways:

- done: every distribution has its paths covered (by the invalidation created now, or by one
  created after the object changed) and the tracker is running; Lambda deletes it;
- deferred: no room in the free quota, CloudFront throttling or 5xx that outlasted the retries,
  ``TooManyInvalidationsInProgress``, or a tracker that did not start. The record goes back to
  the queue with a growing delay (ChangeMessageVisibility) and is reported as a batch item
  failure; on the delivery that reaches the queue's receive limit it is dead-lettered instead;
- dead-lettered: malformed, from another bucket, or refused by CloudFront for a reason waiting
  cannot fix (AccessDenied, NoSuchDistribution, InvalidArgument...). It is copied to the DLQ
  now, a FAILED notification names its keys, and Lambda deletes the original.

Anything unexpected propagates, so the whole batch is retried rather than silently acknowledged.

One piece, though over 400 lines: it holds no rule of its own (those are in planning, ledger,
collapse, retry and payloads), only the order in which one batch is served and every record
settled; that order is what guarantees each record ends in exactly one of the three ways above.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from functools import partial

from aws_lambda_powertools.metrics import MetricUnit

from cfinvalidator.collapse import CollapsePolicy, Knowledge, count
from cfinvalidator.config import Config
from cfinvalidator.errors import (
    CloudFrontError,
    KnowledgeError,
    MalformedEventError,
    NotificationError,
    TrackingError,
)
from cfinvalidator.events import ParsedMessage, parse_message
from cfinvalidator.history import read_history
from cfinvalidator.knowledge import MonthlySpend, ObjectCounts, knowledge_for
from cfinvalidator.ledger import DistributionState
from cfinvalidator.observability import logger, metrics
from cfinvalidator.origins import KeyMapping, OriginDirectory, fixed_mapping, mapping_for
from cfinvalidator.payloads import (
    failed_notification,
    failed_notification_attributes,
    timestamp,
    tracker_input,
)
from cfinvalidator.planning import (
    IMPATIENT_FROM_DELIVERY,
    Change,
    DistributionPlan,
    Gathered,
    InvalidationRequest,
    accept_buckets,
    execution_name,
    map_changes,
    pacing_seconds,
    plan_distribution,
    policy_for,
    rules_from,
)
from cfinvalidator.ports import (
    DeadLetter,
    Deferral,
    InvalidationApi,
    NotifierApi,
    ObjectCountApi,
    QueueApi,
    SpendApi,
    TrackerApi,
)
from cfinvalidator.retry import (
    Action,
    Backoff,
    call_with_retries,
    classify,
    deferral_seconds,
    in_access_grace,
    is_throttling,
)

# Between Lambda's clock and CloudFront's, for telling a new invalidation from a returned one.
CLOCK_SKEW = timedelta(seconds=1)
# A paced request waits only if this much of the invocation's time is left after the wait.
PACING_RESERVE_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class SqsMessage:
    message_id: str
    body: str
    receipt_handle: str = ""
    receive_count: int = 1  # ApproximateReceiveCount: 1 on the first delivery
    sent_at: datetime | None = None  # SentTimestamp: when the message entered the queue


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Ports:
    """The adapters and the clock the service runs against."""

    invalidations: InvalidationApi
    tracker: TrackerApi
    queue: QueueApi
    notifier: NotifierApi
    remaining_seconds: Callable[[], float] = lambda: 60.0
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = _utcnow
    rng: random.Random = field(default_factory=random.Random)
    backoff: Backoff = field(default_factory=Backoff)
    # Distribution configurations already read: keep one instance across invocations.
    origins: OriginDirectory = field(default_factory=OriginDirectory)
    # What prices wildcards (cfinvalidator.knowledge); without these ports, the threshold rule.
    counts: ObjectCountApi | None = None
    spend: SpendApi | None = None
    object_counts: ObjectCounts = field(default_factory=ObjectCounts)
    month: MonthlySpend = field(default_factory=MonthlySpend)

    def with_remaining_time(self, remaining_seconds: Callable[[], float]) -> Ports:
        return replace(self, remaining_seconds=remaining_seconds)


class Fate(IntEnum):
    """A record's outcome; when distributions disagree the highest wins."""

    DONE = 0
    DEFER = 1
    DEAD = 2


@dataclass(frozen=True, slots=True)
class Verdict:
    fate: Fate = Fate.DONE
    code: str = ""
    reason: str = ""
    distribution_id: str = ""


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    request: InvalidationRequest
    invalidation_id: str
    execution_name: str
    billed: bool  # False: CloudFront returned an invalidation it already had
    paths_saved: int = 0  # paths collapsing saved in this request


@dataclass(slots=True)
class BatchOutcome:
    failed: dict[str, str] = field(default_factory=dict)  # reported: message ID -> reason
    deferred: dict[str, int] = field(default_factory=dict)  # message ID -> delay seconds
    dead_lettered: dict[str, str] = field(default_factory=dict)  # message ID -> reason
    created: list[CreatedRequest] = field(default_factory=list)
    plans: list[DistributionPlan] = field(default_factory=list)
    test_events: int = 0
    throttles: int = 0
    not_serving: list[str] = field(default_factory=list)  # distributions with no bucket origin
    # distribution -> (file paths, wildcard paths) in progress once this invocation's request
    # is counted: the quota in use, for the dashboard
    in_progress: dict[str, tuple[int, int]] = field(default_factory=dict)

    def batch_item_failures(self, order: Sequence[str]) -> list[dict[str, str]]:
        return [{"itemIdentifier": mid} for mid in order if mid in self.failed]


class _Batch:
    """Per-record verdicts, and what each record carried (its keys name it in FAILED
    notifications)."""

    def __init__(self, messages: Sequence[SqsMessage], started_at: datetime) -> None:
        self.messages = {m.message_id: m for m in messages}
        self.order = [m.message_id for m in messages]
        self.verdicts = dict.fromkeys(self.order, Verdict())  # immutable: one instance will do
        self.parsed: list[ParsedMessage] = []
        self.started_at = started_at
        self.paced = False  # a new wildcard waited its turn in this invocation
        # Records closest to the receive limit first, then batch order (sort is stable).
        self.priority = sorted(self.order, key=lambda m: -self.messages[m].receive_count)

    def judge(
        self, message_ids: Iterable[str], fate: Fate, code: str, reason: str, distribution: str = ""
    ) -> None:
        for message_id in message_ids:
            verdict = self.verdicts[message_id]
            if fate > verdict.fate:
                self.verdicts[message_id] = Verdict(fate, code, reason, distribution)

    def keys_of(self, message_ids: Collection[str]) -> set[str]:
        """The keys of the events these records carried (the paths, for on-demand requests)."""
        parsed = [p for p in self.parsed if p.message_id in message_ids]
        return {e.key for p in parsed for e in p.events} | {
            r.path for p in parsed for r in p.requested
        }

    def judge_error(self, message_ids: Iterable[str], error: CloudFrontError, dist: str) -> None:
        if classify(error) is not Action.FAIL:
            self.judge(message_ids, Fate.DEFER, error.code, error.message, dist)
            return
        ids = list(message_ids)
        graced = {m for m in ids if in_access_grace(error, self.messages[m].receive_count)}
        reason = f"{error.message} (deferred: a new permission can take minutes to apply)"
        self.judge(graced, Fate.DEFER, error.code, reason, dist)
        self.judge([m for m in ids if m not in graced], Fate.DEAD, error.code, error.message, dist)


def _parse_all(
    messages: Sequence[SqsMessage], batch: _Batch, outcome: BatchOutcome
) -> list[ParsedMessage]:
    for message in messages:
        try:
            result = parse_message(message.message_id, message.body)
        except MalformedEventError as exc:
            batch.judge([message.message_id], Fate.DEAD, "MalformedEvent", str(exc))
            continue
        if result.requested and message.sent_at is not None:
            result = _timed_by_queue(result, message.sent_at)
        if result.is_test_event:
            logger.info("s3:TestEvent acknowledged", extra={"message_id": message.message_id})
            outcome.test_events += 1
        batch.parsed.append(result)
    return batch.parsed


def _timed_by_queue(parsed: ParsedMessage, sent_at: datetime) -> ParsedMessage:
    """An on-demand request counts from when it reached the queue (SQS's clock, an AWS one),
    not from the ``requestedAt`` its sender wrote: a sender's clock running behind would
    otherwise let an invalidation created before the request count as covering it."""
    requested = tuple(replace(r, event_time=sent_at) for r in parsed.requested)
    return parsed._replace(requested=requested)


class _Distribution:
    """Reads one distribution's state, plans and creates its request."""

    def __init__(
        self,
        distribution_id: str,
        config: Config,
        ports: Ports,
        batch: _Batch,
        outcome: BatchOutcome,
    ) -> None:
        self.id = distribution_id
        self.config = config
        self.ports = ports
        self.batch = batch
        self.outcome = outcome

    def _retrying[T](self, call: Callable[[], T]) -> T:
        def on_retry(error: CloudFrontError, delay: float) -> None:
            self.outcome.throttles += is_throttling(error)
            logger.warning(
                "CloudFront call retried",
                extra={"distribution_id": self.id, "error": error.code, "delay_s": round(delay, 3)},
            )

        ports = self.ports
        try:
            return call_with_retries(
                call,
                backoff=ports.backoff,
                remaining_seconds=ports.remaining_seconds,
                sleep=ports.sleep,
                rng=ports.rng,
                on_retry=on_retry,
            )
        except CloudFrontError as error:
            self.outcome.throttles += is_throttling(error)
            raise

    def mapping(self, message_ids: Collection[str]) -> KeyMapping | None:
        """How keys map on this distribution: the ORIGIN_PATH override, else its origins read
        from its configuration (cached). None when it cannot be read: the records are judged
        by the error (throttling waits, AccessDenied or NoSuchDistribution dead-letters)."""
        config = self.config
        if config.origin_path is not None:
            return fixed_mapping(rules_from(config))
        api = self.ports.invalidations

        def read() -> KeyMapping:
            layout = self._retrying(partial(api.distribution_layout, self.id))
            return mapping_for(layout, config.bucket_name, rules_from(config))

        def on_stale(error: CloudFrontError) -> None:
            logger.warning(
                "distribution configuration not refreshed; using the one read before",
                extra={"distribution_id": self.id, "error": error.code, "cause": error.message},
            )

        try:
            return self.ports.origins.mapping(
                self.id,
                self.ports.now(),
                timedelta(seconds=config.origin_refresh_seconds),
                read,
                on_stale,
            )
        except CloudFrontError as error:
            logger.error(
                "distribution configuration not read",
                extra={"distribution_id": self.id, "error": error.code, "cause": error.message},
            )
            self.batch.judge_error(message_ids, error, self.id)
            return None

    def read_state(self, since: datetime | None) -> DistributionState:
        """In-progress invalidations (quota) and those created since ``since`` (coverage)."""
        known, unread = read_history(
            self.ports.invalidations, self.id, self.ports.now(), since, self._retrying
        )
        return DistributionState.of(known, unread_in_progress=unread)

    def serve(
        self,
        changes: Sequence[Change],
        since: datetime | None,
        policy: CollapsePolicy,
        knowledge: Knowledge,
    ) -> None:
        message_ids = {c.event.message_id for c in changes}
        try:
            state = self.read_state(since)
        except CloudFrontError as error:
            self.batch.judge_error(message_ids, error, self.id)
            return
        deliveries = {m: self.batch.messages[m].receive_count for m in message_ids}
        redelivered = frozenset(m for m, n in deliveries.items() if n > 1)
        # With a low MaxReceiveCount, a record may use file paths on its last delivery at least.
        patience = min(IMPATIENT_FROM_DELIVERY, self.config.max_receive_count)
        impatient = frozenset(m for m, n in deliveries.items() if n >= patience)

        def plan_now(state: DistributionState) -> DistributionPlan:
            return plan_distribution(
                self.id,
                changes,
                state,
                policy,
                priority=self.batch.priority,
                redelivered=redelivered,
                impatient=impatient,
                knowledge=knowledge,
            )

        plan = plan_now(state)
        if plan.request is not None:
            wait = pacing_seconds(state, plan.request.paths, self.ports.now())
            room = self.ports.remaining_seconds() > wait + PACING_RESERVE_SECONDS
            if wait > 0 and room and not self.batch.paced:
                self.batch.paced = True  # one wait per invocation, whatever the distributions
                # One wait, then the plan again: a wildcard created meanwhile (by another
                # invocation) may cover these changes already.
                logger.info(
                    "new wildcard paced",
                    extra={"distribution_id": self.id, "wait_s": round(wait, 3)},
                )
                self.ports.sleep(wait)
                try:
                    state = self.read_state(since)
                except CloudFrontError as error:
                    self.batch.judge_error(message_ids, error, self.id)
                    return
                plan = plan_now(state)
        self.outcome.plans.append(plan)
        self.outcome.in_progress[self.id] = (state.busy_files, state.busy_wildcards)
        if plan.deferred:
            self.batch.judge(
                plan.deferred,
                Fate.DEFER,
                "QuotaFull",
                "the distribution's free in-progress quota cannot cover these records yet",
                self.id,
            )
        for reuse in plan.reused:
            invalidation = reuse.invalidation
            self._track(
                invalidation.invalidation_id,
                tracker_input(
                    self.id,
                    invalidation.invalidation_id,
                    invalidation.caller_reference,
                    invalidation.paths,
                    reuse.source_keys,
                    timestamp(invalidation.create_time),
                ),
                reuse.message_ids,
            )
        if plan.request is not None:
            self._create(plan.request, state, plan.paths_saved)

    def _create(self, request: InvalidationRequest, state: DistributionState, saved: int) -> None:
        api = self.ports.invalidations
        try:
            created = self._retrying(
                lambda: api.create_invalidation(self.id, request.paths, request.caller_reference)
            )
        except CloudFrontError as error:
            logger.error(
                "invalidation not requested",
                extra={
                    "distribution_id": self.id,
                    "error": error.code,
                    "cause": error.message,
                    "path_count": len(request.paths),
                    "record_count": len(request.message_ids),
                },
            )
            self.batch.judge_error(request.message_ids, error, self.id)
            return
        # CloudFront answers a repeated CallerReference with the earlier invalidation (not billed
        # again); one created before this invocation started is such a repeat.
        billed = created.create_time >= self.batch.started_at - CLOCK_SKEW
        if billed:
            self.ports.month.billed(len(request.paths))
            files, wildcards = self.outcome.in_progress.get(self.id, (0, 0))
            new_files, new_wildcards = count(request.paths)
            self.outcome.in_progress[self.id] = (files + new_files, wildcards + new_wildcards)
        self._track(
            created.invalidation_id,
            tracker_input(
                self.id,
                created.invalidation_id,
                request.caller_reference,
                request.paths,
                request.source_keys,
                timestamp(created.create_time),
            ),
            request.message_ids,
        )
        name = execution_name(self.id, created.invalidation_id)
        self.outcome.created.append(
            CreatedRequest(request, created.invalidation_id, name, billed, saved)
        )
        logger.info(
            "invalidation created",
            extra={
                "distribution_id": self.id,
                "invalidation_id": created.invalidation_id,
                "caller_reference": request.caller_reference,
                "path_count": len(request.paths),
                "paths": list(request.paths[:20]),
                "record_count": len(request.message_ids),
                "billed": billed,
                "execution_name": name,
            },
        )

    def _track(self, invalidation_id: str, payload: dict[str, object], ids: Iterable[str]) -> None:
        """Start the tracker (an execution of that name already running is as good: a
        redelivery); on failure defer the records (their redelivery starts it)."""
        name = execution_name(self.id, invalidation_id)
        try:
            self.ports.tracker.start(name, payload)
        except TrackingError as error:
            logger.error(
                "tracker not started; records deferred so a redelivery starts it",
                extra={"execution_name": name, "error": str(error)},
            )
            self.batch.judge(ids, Fate.DEFER, "TrackerNotStarted", str(error), self.id)


def _settle(batch: _Batch, config: Config, ports: Ports, outcome: BatchOutcome) -> None:
    """Defer, dead-letter and notify; fill ``outcome.failed`` with what Lambda must not delete."""
    letters: list[DeadLetter] = []
    deferrals: list[Deferral] = []
    for message_id in batch.order:
        verdict = batch.verdicts[message_id]
        message = batch.messages[message_id]
        if verdict.fate is Fate.DEFER and message.receive_count >= config.max_receive_count:
            verdict = Verdict(
                Fate.DEAD,
                verdict.code,
                f"still deferred after {message.receive_count} deliveries "
                f"(MaxReceiveCount {config.max_receive_count}): {verdict.reason}",
                verdict.distribution_id,
            )
            batch.verdicts[message_id] = verdict
        if verdict.fate is Fate.DEAD:
            letters.append(
                DeadLetter(
                    message_id, message.body, verdict.code, verdict.reason, message.receive_count
                )
            )
        elif verdict.fate is Fate.DEFER:
            seconds = deferral_seconds(message.receive_count, config.defer_delay_seconds, ports.rng)
            deferrals.append(Deferral(message_id, message.receipt_handle, seconds))
            outcome.deferred[message_id] = seconds
            outcome.failed[message_id] = f"deferred: {verdict.code}: {verdict.reason}"
    not_copied = ports.queue.dead_letter(letters) if letters else set()
    for letter in letters:
        if letter.message_id in not_copied:
            # Never lost: reported as failed, SQS redelivers it and its redrive policy moves it
            # to the DLQ after MaxReceiveCount deliveries.
            outcome.failed[letter.message_id] = f"dead-letter copy failed: {letter.reason}"
            logger.error("record not copied to the DLQ", extra={"message_id": letter.message_id})
        else:
            outcome.dead_lettered[letter.message_id] = f"{letter.error_code}: {letter.reason}"
            logger.error(
                "record dead-lettered",
                extra={
                    "message_id": letter.message_id,
                    "error": letter.error_code,
                    "cause": letter.reason,
                    "distribution_id": batch.verdicts[letter.message_id].distribution_id,
                    "receive_count": letter.receive_count,
                },
            )
    not_deferred = ports.queue.defer(deferrals) if deferrals else set()
    if not_deferred:
        logger.warning(
            "visibility not changed; records return after the queue's visibility timeout",
            extra={"message_ids": sorted(not_deferred)[:50]},
        )
    _notify_failures(batch, letters, ports, outcome)


def _notify_failures(
    batch: _Batch, letters: Sequence[DeadLetter], ports: Ports, outcome: BatchOutcome
) -> None:
    """One FAILED notification per (distribution, error) among dead-lettered records."""
    groups: dict[tuple[str, str], list[str]] = {}
    for letter in letters:
        verdict = batch.verdicts[letter.message_id]
        groups.setdefault((verdict.distribution_id, verdict.code), []).append(letter.message_id)
    for (distribution_id, code), message_ids in groups.items():
        keys = sorted(batch.keys_of(set(message_ids)))
        first = batch.verdicts[message_ids[0]]
        message = failed_notification(
            distribution_id=distribution_id,
            error=code,
            cause=first.reason,
            message_ids=message_ids,
            source_keys=keys,
            dead_lettered=all(mid in outcome.dead_lettered for mid in message_ids),
            failed_at=timestamp(ports.now()),
        )
        try:
            ports.notifier.publish(message, failed_notification_attributes(distribution_id))
        except NotificationError as error:
            # A notification never breaks processing: the records are already in the DLQ.
            logger.error("FAILED notification not published", extra={"error": str(error)})


def _earliest(changes: Sequence[Change]) -> datetime | None:
    """The oldest change: invalidations created before it cannot cover anything in the batch."""
    known = [c.event.event_time for c in changes if c.event.event_time is not None]
    return min(known) if known else None


def process_batch(messages: Sequence[SqsMessage], config: Config, ports: Ports) -> BatchOutcome:
    outcome = BatchOutcome()
    batch = _Batch(messages, ports.now())
    parsed = _parse_all(messages, batch, outcome)
    accepted, rejected = accept_buckets(parsed, config.bucket_name)
    for message_id, reason in rejected.items():
        batch.judge([message_id], Fate.DEAD, "ForeignBucket", reason)
    pending = [message for message in accepted if message.events or message.requested]
    skipped: Sequence[str] = ()
    if pending:
        skipped = _serve_distributions(pending, config, ports, batch, outcome)
    _settle(batch, config, ports, outcome)
    _emit_metrics(parsed, skipped, outcome)
    return outcome


def _serve_distributions(
    pending: Sequence[ParsedMessage],
    config: Config,
    ports: Ports,
    batch: _Batch,
    outcome: BatchOutcome,
) -> Sequence[str]:
    """Map and serve the changes on every distribution; return the keys none of them serves."""
    message_ids = {message.message_id for message in pending}
    mapped: dict[KeyMapping, Gathered] = {}  # distributions with equal mappings share one
    lookup = _count_lookup(config, ports, pending)
    unread = False
    for distribution_id in config.distribution_ids:
        distribution = _Distribution(distribution_id, config, ports, batch, outcome)
        mapping = distribution.mapping(message_ids)
        if mapping is None:
            unread = True
            continue
        if not mapping.serves_anything:
            # Never invalidated blindly: its configuration no longer reads this bucket.
            logger.warning(
                "distribution has no origin reading the bucket; nothing invalidated on it",
                extra={"distribution_id": distribution_id, "bucket": config.bucket_name},
            )
            outcome.not_serving.append(distribution_id)
            continue
        gathered = mapped.get(mapping)
        if gathered is None:
            gathered = mapped[mapping] = map_changes(pending, mapping)
        if gathered.changes:
            knowledge = knowledge_for(lookup, mapping, _paths_left(config, ports))
            distribution.serve(
                gathered.changes,
                _earliest(gathered.changes),
                policy_for(config, mapping),
                knowledge,
            )
    if mapped:
        # Keys no viewer can request on any distribution: not an error (the bucket may hold
        # objects no viewer requests), but never silent.
        skipped = set.intersection(*(set(g.out_of_scope_keys) for g in mapped.values()))
        keys = [key for key in dict.fromkeys(e.key for m in pending for e in m.events)]
        skipped_keys = [key for key in keys if key in skipped]
    elif unread:
        skipped_keys = []  # the records wait for a readable configuration
    else:
        skipped_keys = list(dict.fromkeys(e.key for m in pending for e in m.events))
    if skipped_keys:
        logger.warning(
            "keys no distribution serves (KEY_PREFIX, origin paths, cache behaviours) skipped",
            extra={"keys": skipped_keys[:50], "count": len(skipped_keys)},
        )
    return skipped_keys


def _knowledge_unread(what: str, error: KnowledgeError) -> None:
    logger.warning(
        "planning without knowledge that could not be read",
        extra={"what": what, "error": error.code, "cause": error.message},
    )


def _count_lookup(
    config: Config, ports: Ports, pending: Sequence[ParsedMessage]
) -> Callable[[str, str], int | None] | None:
    """This invocation's view of the bucket's unchanged objects, when they are counted."""
    if not config.count_bucket_objects or ports.counts is None:
        return None
    return ports.object_counts.for_batch(
        ports.counts,
        ports.now(),
        _knowledge_unread,
        ports.remaining_seconds,
        changed_keys=[event.key for message in pending for event in message.events],
    )


def _paths_left(config: Config, ports: Ports) -> int | None:
    """Paths left in this month's budget; None without a budget or a reading."""
    if config.monthly_path_budget <= 0 or ports.spend is None:
        return None
    return ports.month.paths_left(
        ports.spend, config.monthly_path_budget, ports.now(), _knowledge_unread
    )


def _emit_metrics(
    parsed: Sequence[ParsedMessage], skipped: Sequence[str], outcome: BatchOutcome
) -> None:
    billed = [c for c in outcome.created if c.billed]
    unit = MetricUnit.Count
    metrics.add_metric("ObjectsReceived", unit, sum(len(p.events) for p in parsed))
    metrics.add_metric("PathsRequestedOnDemand", unit, sum(len(p.requested) for p in parsed))
    metrics.add_metric("ObjectsSkipped", unit, len(skipped))
    metrics.add_metric("InvalidationsCreated", unit, len(billed))
    metrics.add_metric("BilledPaths", unit, sum(len(c.request.paths) for c in billed))
    metrics.add_metric("WildcardPaths", unit, sum(count(c.request.paths)[1] for c in billed))
    metrics.add_metric("PathsSavedByCollapsing", unit, sum(c.paths_saved for c in billed))
    metrics.add_metric("PathsAlreadyCovered", unit, sum(p.covered_paths for p in outcome.plans))
    metrics.add_metric("RecordsDeferred", unit, len(outcome.deferred))
    metrics.add_metric("RecordsDeadLettered", unit, len(outcome.dead_lettered))
    metrics.add_metric("Throttles", unit, outcome.throttles)
    metrics.add_metric("DistributionsNotServingBucket", unit, len(outcome.not_serving))
    if outcome.in_progress:  # each quota's highest use among the distributions served
        in_use = outcome.in_progress.values()
        metrics.add_metric("FilePathsInProgress", unit, max(files for files, _ in in_use))
        metrics.add_metric("WildcardPathsInProgress", unit, max(wild for _, wild in in_use))
