"""What each command does, between the AWS adapter and the pure rules; no output here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cfinv.aws import Aws, QueueDepth
from cfinv.completion import Change, Target, dead_sources, targets_for_keys, targets_for_paths
from cfinv.errors import CliError, Exit
from cfinv.explain import DistributionPlanReport, explain
from cfinv.stack import Stack
from cfinv.waiting import Snapshot
from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.collapse import Knowledge
from cfinvalidator.config import Config
from cfinvalidator.errors import ConfigError, KnowledgeError
from cfinvalidator.history import read_history
from cfinvalidator.knowledge import MonthlySpend, ObjectCounts, knowledge_for
from cfinvalidator.ledger import COVERAGE_MARGIN, DistributionState, KnownInvalidation
from cfinvalidator.on_demand import PathError, checked_paths, request_body
from cfinvalidator.origins import KeyMapping, fixed_mapping, mapping_for
from cfinvalidator.planning import policy_for, rules_from

# `aws s3 sync` / `aws s3 cp` output lines naming an object of the bucket.
_SYNC_LINE = re.compile(r"^(?:\(dryrun\) )?(?:upload|copy|move): .+ to s3://(?P<target>.+)$")
_DELETE_LINE = re.compile(r"^(?:\(dryrun\) )?delete: s3://(?P<target>.+)$")


def mappings(aws: Aws, stack: Stack, api: Boto3InvalidationApi) -> dict[str, KeyMapping]:
    """Each distribution's mapping, as the batcher builds it (the override, else the
    distribution's origins read from its configuration)."""
    config = stack.config
    if config.origin_path is not None:
        return dict.fromkeys(config.distribution_ids, fixed_mapping(rules_from(config)))
    found: dict[str, KeyMapping] = {}
    for distribution_id in config.distribution_ids:
        with aws.call(f"reading the configuration of distribution {distribution_id}"):
            layout = api.distribution_layout(distribution_id)
        found[distribution_id] = mapping_for(layout, config.bucket_name, rules_from(config))
    return found


def keys_in(lines: Iterable[str], bucket: str) -> list[str]:
    """Keys from a file: one key a line, or what `aws s3 sync` prints (its upload, copy, move
    and delete lines; in such output every other line, progress and warnings, is skipped, and
    progress that ``\r`` overwrote is split off). Blank lines are skipped. A line naming another
    bucket is refused."""
    numbered = [
        (number, piece)
        for number, raw in enumerate(lines, start=1)
        for piece in raw.rstrip("\n").split("\r")
        if piece.strip()
    ]
    matches = [
        (n, line, _SYNC_LINE.match(line) or _DELETE_LINE.match(line)) for n, line in numbered
    ]
    sync_output = any(match is not None for _, _, match in matches)
    keys: list[str] = []
    for number, line, match in matches:
        if match is None:
            if not sync_output:
                keys.append(line)
            continue
        target_bucket, _, key = match.group("target").partition("/")
        if target_bucket != bucket:
            raise CliError(
                f"line {number} names bucket {target_bucket!r}; the stack serves {bucket!r}",
                Exit.USAGE,
            )
        keys.append(key)
    return list(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class Changes:
    changes: list[Change]
    # Deleted keys of a stack that does not invalidate deletions: nothing will ever cover them.
    deletions_not_invalidated: list[str]


def changes_since(
    aws: Aws, stack: Stack, since: datetime, prefix: str | None, listed_keys: Sequence[str]
) -> Changes:
    """Objects changed since ``since`` (S3's LastModified), plus ``listed_keys`` (deleted ones
    included: for a key no longer in the bucket, S3 keeps no time, so the change counts as made
    at ``since``; on a stack with InvalidateDeletes false they are set apart)."""
    config = stack.config
    listing_prefix = prefix if prefix is not None else config.key_prefix
    changed = {
        c.key: c.changed_at for c in aws.changed_objects(config.bucket_name, listing_prefix, since)
    }
    not_invalidated: list[str] = []
    for key in listed_keys:
        if key in changed:
            continue
        modified = aws.last_modified(config.bucket_name, key)
        if modified is not None:
            changed[key] = max(since, modified)
        elif config.invalidate_deletes:
            changed[key] = since
        else:
            not_invalidated.append(key)
    return Changes([Change(key, moment) for key, moment in changed.items()], not_invalidated)


@dataclass
class Reader:
    """Reads a Snapshot for the pending targets; one CloudFront adapter across polls, so each
    invalidation's paths are read once."""

    aws: Aws
    stack: Stack
    api: Boto3InvalidationApi
    since: datetime
    now: Callable[[], datetime]
    request_id: str | None = None

    def __call__(self, pending: Sequence[Target]) -> Snapshot:
        config = self.stack.config
        distributions = sorted({t.distribution_id for t in pending})
        earliest = min(t.changed_at for t in pending)
        histories: dict[str, list[KnownInvalidation]] = {}
        for distribution_id in distributions:
            with self.aws.call(f"reading the invalidations of {distribution_id}"):
                known, _ = read_history(self.api, distribution_id, self.now(), earliest)
            histories[distribution_id] = known
        ended = self.aws.ended_executions(config.state_machine_arn, earliest)
        letters = self.aws.dead_letters(config.dead_letter_queue_url)
        dead = dead_sources(
            ((d.body, d.sent_at, d.reason) for d in letters), self.since, self.request_id
        )
        return Snapshot(histories, ended, dead)


def wait_targets(
    aws: Aws,
    stack: Stack,
    api: Boto3InvalidationApi,
    since: datetime,
    prefix: str | None,
    listed_keys: Sequence[str],
) -> tuple[Changes, tuple[Target, ...]]:
    found = changes_since(aws, stack, since, prefix, listed_keys)
    if not found.changes:
        return found, ()
    return found, targets_for_keys(found.changes, mappings(aws, stack, api))


@dataclass(frozen=True, slots=True)
class Submitted:
    request_id: str
    message_id: str
    requested_at: datetime
    paths: tuple[str, ...]


def checked(paths: Sequence[str]) -> tuple[str, ...]:
    """The paths as the batcher will check them; a refusal is a usage error naming the path."""
    try:
        return checked_paths(paths)
    except PathError as error:
        raise CliError(f"refused: {error}", Exit.USAGE) from error


def submit(aws: Aws, stack: Stack, paths: Sequence[str], now: datetime) -> Submitted:
    """Put an on-demand request on the service's queue (checked first, as the batcher will)."""
    unique = checked(paths)
    request_id = uuid.uuid4().hex
    message_id, taken = aws.send(stack.config.queue_url, request_body(unique, request_id, now), now)
    # The batcher times the request by SQS's clock (cfinvalidator.on_demand); so does the wait.
    return Submitted(request_id, message_id, taken, unique)


def request_targets(
    aws: Aws, stack: Stack, api: Boto3InvalidationApi, submitted: Submitted
) -> tuple[Target, ...]:
    """The requested paths on every distribution that serves the bucket (the batcher skips the
    others, and so does the wait)."""
    serving = [d for d, m in mappings(aws, stack, api).items() if m.serves_anything]
    changes = [Change(path, submitted.requested_at) for path in submitted.paths]
    return targets_for_paths(changes, serving)


@dataclass(frozen=True, slots=True)
class DistributionStatus:
    distribution_id: str
    in_progress: tuple[KnownInvalidation, ...]
    free_files: int
    free_wildcards: int
    unread_in_progress: int


@dataclass(frozen=True, slots=True)
class StatusReport:
    label: str
    queue: QueueDepth
    dead_letter_queue: QueueDepth
    oldest_message_age: float | None
    distributions: tuple[DistributionStatus, ...]
    billed_paths_this_month: float | None
    month_start: datetime


def status(aws: Aws, stack: Stack, api: Boto3InvalidationApi, now: datetime) -> StatusReport:
    config = stack.config
    distributions: list[DistributionStatus] = []
    for distribution_id in config.distribution_ids:
        with aws.call(f"reading the invalidations of {distribution_id}"):
            known, unread = read_history(api, distribution_id, now, None)
        state = DistributionState.of(known, unread_in_progress=unread)
        budget = state.budget
        running = tuple(i for i in known if i.in_progress)
        distributions.append(
            DistributionStatus(distribution_id, running, budget.files, budget.wildcards, unread)
        )
    month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    queue_name = config.queue_url.rsplit("/", 1)[-1]
    return StatusReport(
        label=stack.label,
        queue=aws.queue_depth(config.queue_url),
        dead_letter_queue=aws.queue_depth(config.dead_letter_queue_url),
        oldest_message_age=aws.metric_maximum(
            "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": queue_name}, 15
        ),
        distributions=tuple(distributions),
        billed_paths_this_month=aws.metric_sum(
            stack.metrics_namespace, "BilledPaths", stack.metric_dimensions, month_start
        ),
        month_start=month_start,
    )


def redrive(aws: Aws, stack: Stack) -> str:
    config = stack.config
    return aws.start_redrive(
        aws.queue_arn(config.dead_letter_queue_url), aws.queue_arn(config.queue_url)
    )


@dataclass(frozen=True, slots=True)
class PlanParameters:
    """The template parameters ``plan`` uses without a stack, checked as the batcher checks
    its environment."""

    key_prefix: str = ""
    origin_path: str = "/"
    index_document: str = "index.html"
    collapse_threshold: int = 10
    broadest_wildcard_depth: int = 0
    unchanged_per_saved_path: int = 100
    paths_left: int | None = None  # of the month's budget (None: priced as beyond it)

    def config(self) -> Config:
        """A Config from these values; the service-only settings (queues, topic, state machine,
        distribution) are placeholders the plan never uses."""
        environment = {
            "DISTRIBUTION_IDS": PLAN_DISTRIBUTION,
            "BUCKET_NAME": "bucket",
            "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:plan",
            "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/plan",
            "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/plan-dlq",
            "TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:plan",
            "KEY_PREFIX": self.key_prefix,
            "ORIGIN_PATH": self.origin_path,
            "INDEX_DOCUMENT": self.index_document,
            "COLLAPSE_THRESHOLD": str(self.collapse_threshold),
            "BROADEST_WILDCARD_DEPTH": str(self.broadest_wildcard_depth),
            "UNCHANGED_PER_SAVED_PATH": str(self.unchanged_per_saved_path),
        }
        try:
            return Config.from_env(environment)
        except ConfigError as error:
            raise CliError(str(error), Exit.USAGE) from error


PLAN_DISTRIBUTION = "EPARAMETERS000"  # the distribution of a plan made from parameters alone


@dataclass(frozen=True, slots=True)
class PlanResult:
    reports: list[DistributionPlanReport]
    unread: list[str]  # what the planner would have liked to know and could not read


def plan_with_stack(
    aws: Aws, stack: Stack, api: Boto3InvalidationApi, keys: Sequence[str], now: datetime
) -> PlanResult:
    """The plan on each distribution, against what it has in progress now and with what the
    batcher would know (the bucket's object counts, this month's billed paths); each key timed
    by its LastModified (a key not in the bucket: now)."""
    config = stack.config
    timed = [(key, aws.last_modified(config.bucket_name, key) or now) for key in keys]
    earliest = min(moment for _, moment in timed)
    unread: list[str] = []

    def on_error(what: str, error: KnowledgeError) -> None:
        unread.append(f"{what} not read ({error.code}: {error.message}): planned without it")

    lookup = None
    if config.count_bucket_objects:
        lookup = ObjectCounts().for_batch(
            aws.object_counts(config.bucket_name), now, on_error, changed_keys=keys
        )
    paths_left = None
    if config.monthly_path_budget > 0:
        spend = aws.spend(stack.metrics_namespace, stack.service_name)
        paths_left = MonthlySpend().paths_left(spend, config.monthly_path_budget, now, on_error)
    reports: list[DistributionPlanReport] = []
    for distribution_id, mapping in mappings(aws, stack, api).items():
        with aws.call(f"reading the invalidations of {distribution_id}"):
            known, unread_details = read_history(
                api, distribution_id, now, earliest - COVERAGE_MARGIN
            )
        state = DistributionState.of(known, unread_in_progress=unread_details)
        knowledge = knowledge_for(lookup, mapping, paths_left)
        reports.append(_explained(timed, distribution_id, mapping, state, config, knowledge))
    return PlanResult(reports, list(dict.fromkeys(unread)))


def plan_from_parameters(parameters: PlanParameters, keys: Sequence[str]) -> PlanResult:
    """The plan with nothing in progress, from the parameters alone: the bucket's objects are
    not known (CollapseThreshold decides), the month's paths left only if given."""
    config = parameters.config()
    mapping = fixed_mapping(rules_from(config))
    timed: list[tuple[str, datetime | None]] = [(key, None) for key in keys]
    knowledge = Knowledge(paths_left=parameters.paths_left)
    return PlanResult(
        [_explained(timed, PLAN_DISTRIBUTION, mapping, DistributionState(), config, knowledge)],
        [],
    )


def _explained(
    timed: Sequence[tuple[str, datetime | None]],
    distribution_id: str,
    mapping: KeyMapping,
    state: DistributionState,
    config: Config,
    knowledge: Knowledge,
) -> DistributionPlanReport:
    return explain(
        timed,
        distribution_id,
        mapping,
        policy_for(config, mapping),
        state,
        bucket=config.bucket_name,
        key_prefix=config.key_prefix,
        knowledge=knowledge,
    )
