"""The simulation's event loop: :class:`Simulation` and :func:`simulate`.

One piece, though over 400 lines: within one simulated instant the loop delivers uploads, runs
scheduled actions, ends invocations and polls, in that order, and the next instant is the
earliest of what each of those has pending. That ordering is the simulation's semantics (see the
package docstring); split across modules it could no longer be read in one place.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Collection, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import boto3
from botocore.config import Config as BotoConfig
from moto import mock_aws
from moto.moto_api._internal import mock_random

from cfinvalidator.adapters.cloudfront import Boto3InvalidationApi
from cfinvalidator.config import Config
from cfinvalidator.planning import rules_from
from cfinvalidator.service import Ports, SqsMessage
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import (
    MAX_IN_PROGRESS_FILES,
    FaithfulCloudFront,
)
from emulator.local_aws.distributions import create_distribution
from emulator.simulation.bucket import SimBucket, SimSpend
from emulator.simulation.handler import BatchHandler, ServiceHandler, SimContext
from emulator.simulation.queue import SimQueue
from emulator.simulation.report import (
    FinishedRun,
    InvocationRecord,
    Report,
    build_report,
)
from emulator.simulation.services import SimNotifier, SimTracker
from emulator.simulation.settings import (
    ACCOUNT_ID,
    OCCUPYING_PREFIX,
    OCCUPYING_REFERENCE_PREFIX,
    REGION,
    ClosedBy,
    InvocationOutcome,
    SimSettings,
    Upload,
)
from emulator.simulation.uploads import s3_event_body

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

__all__ = ["Simulation", "simulate"]

# The batcher builds its CloudFront client without botocore retries (the service retries).
_NO_RETRIES: Final = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1})
_SAME_INSTANT_LIMIT: Final = 1_000_000


# ------------------------------------------------------------------------------ simulation
class Simulation:
    """The whole pipeline on a simulated clock. Use as a context manager (it runs inside
    ``moto.mock_aws()``), prepare (``occupy``, ``at``, ``cloudfront_fake.inject``...), then
    ``run()`` once::

        with Simulation(uploads, SimSettings(batching_window_seconds=30)) as sim:
            sim.occupy(files=2900, completes_in_seconds=120)
            report = sim.run()
    """

    def __init__(
        self,
        uploads: Iterable[Upload],
        settings: SimSettings | None = None,
        *,
        handler: BatchHandler | None = None,
        existing: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings or SimSettings()
        # The bucket's keys before the first upload. Given, the service plans with what it
        # would know deployed: the bucket's object counts and the month's billed paths (as the
        # benchmark runs it); None, with neither (the threshold rule alone).
        self.knows_bucket = existing is not None
        self.bucket = SimBucket(existing or ())
        # Stable order by time: equal times keep the given order (and sequencers increase).
        self.uploads: tuple[Upload, ...] = tuple(sorted(uploads, key=lambda u: u.at))
        self.handler: BatchHandler = handler if handler is not None else ServiceHandler()
        self.clock = ManualClock(epoch=self.settings.epoch)
        self._mock: Any = None
        self._started = False
        self._report: Report | None = None
        self._scheduled: list[tuple[float, int, Callable[[Simulation], object]]] = []
        self._scheduled_count = 0
        self._occupying: set[tuple[str, str]] = set()
        self._message_ids: list[str | None] = [None] * len(self.uploads)
        self._invocations: list[InvocationRecord] = []
        # (ends at, number, receipt handles to delete when it ends)
        self._running: list[tuple[float, int, list[str]]] = []
        self._window_opened_at: float | None = None

    # ---------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, create the distributions, install the CloudFront fake, build the ports."""
        if self._started:
            msg = "the simulation is already started"
            raise RuntimeError(msg)
        self._mock = mock_aws()
        self._mock.start()
        self._started = True
        try:
            self._build()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        fake: FaithfulCloudFront | None = getattr(self, "cloudfront_fake", None)
        if fake is not None:
            fake.uninstall()
        self._mock.stop()

    def _build(self) -> None:
        settings = self.settings
        mock_random.seed(settings.seed)  # moto's distribution and invalidation IDs
        self.cloudfront: CloudFrontClient = boto3.client(
            "cloudfront", region_name=REGION, config=_NO_RETRIES
        )
        created = tuple(
            create_distribution(
                self.cloudfront,
                f"sim-distribution-{n}",
                bucket=settings.bucket_name,
                comment="simulated distribution",
            )
            for n in range(settings.distributions)
        )
        completion_rng = random.Random(f"{settings.seed}:completion")  # noqa: S311
        sampler = settings.completion_seconds
        self.cloudfront_fake = FaithfulCloudFront(
            clock=self.clock,
            wall_clock=self.clock.wall,
            completion_seconds=(
                (lambda: float(sampler(completion_rng))) if callable(sampler) else sampler
            ),
        )
        self.cloudfront_fake.install()
        self.config = Config.from_env(self._environment(created))
        self.distribution_ids: tuple[str, ...] = self.config.distribution_ids
        self.queue = SimQueue(
            self.clock,
            visibility_timeout_seconds=settings.visibility_timeout_seconds,
            max_receive_count=settings.max_receive_count or self.config.max_receive_count,
            rng=random.Random(f"{settings.seed}:messages"),  # noqa: S311
        )
        self.tracker = SimTracker(
            self.clock,
            self._completes_at,
            poll_interval_seconds=settings.poll_interval_seconds,
            timeout_seconds=settings.completion_timeout_seconds,
        )
        self.notifier = SimNotifier(self.clock)
        self.ports = Ports(
            invalidations=Boto3InvalidationApi(self.cloudfront),
            tracker=self.tracker,
            queue=self.queue,
            notifier=self.notifier,
            sleep=self.clock.sleep,
            now=self.clock.wall,
            rng=random.Random(f"{settings.seed}:service"),  # noqa: S311
            counts=self.bucket if self.knows_bucket else None,
            spend=(
                SimSpend(lambda: self.cloudfront_fake.calls, settings.epoch)
                if self.knows_bucket
                else None
            ),
        )

    def _environment(self, distribution_ids: Sequence[str]) -> dict[str, str]:
        """The service's environment; ``settings.env`` wins (a DISTRIBUTION_IDS there replaces
        the created distributions: IDs moto does not know answer NoSuchDistribution)."""
        base = f"{REGION}:{ACCOUNT_ID}"
        env = {
            "DISTRIBUTION_IDS": ",".join(distribution_ids),
            "BUCKET_NAME": self.settings.bucket_name,
            "STATE_MACHINE_ARN": f"arn:aws:states:{base}:stateMachine:sim-tracker",
            "QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/sim-invalidation-queue",
            "DEAD_LETTER_QUEUE_URL": (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/sim-invalidation-dlq"
            ),
            "TOPIC_ARN": f"arn:aws:sns:{base}:sim-notifications",
        }
        env.update(self.settings.env)
        return env

    def _completes_at(self, invalidation_id: str) -> float | None:
        try:
            return self.cloudfront_fake.completes_at(invalidation_id)
        except KeyError:
            return None

    def _require_started(self) -> None:
        if not self._started:
            msg = "use the simulation as a context manager (or call start()) first"
            raise RuntimeError(msg)

    # ---------------------------------------------------------------------------- controls
    def at(self, moment: float, action: Callable[[Simulation], object]) -> None:
        """Run ``action(self)`` when the simulated clock reaches ``moment`` (during ``run``;
        actions still pending when the run ends are dropped)."""
        self._scheduled_count += 1
        heapq.heappush(self._scheduled, (moment, self._scheduled_count, action))

    def occupy(
        self,
        distribution: int = 0,
        *,
        files: int = 0,
        wildcards: int = 0,
        completes_in_seconds: float,
    ) -> tuple[str, ...]:
        """Put ``files`` file paths and ``wildcards`` wildcard paths in progress on a
        distribution (by index), completing ``completes_in_seconds`` from now.

        Created through the boto3 client with their own caller references, under
        ``/sim-occupied/``; reported in ``Report.occupying``, not in the billed figures.
        Raises botocore's ClientError if CloudFront refuses (e.g. more than 15 wildcards).
        """
        self._require_started()
        distribution_id = self.distribution_ids[distribution]
        n = len(self._occupying)
        paths = [f"{OCCUPYING_PREFIX}{n}/file-{i}" for i in range(files)]
        paths += [f"{OCCUPYING_PREFIX}{n}/dir-{i}/*" for i in range(wildcards)]
        fake = self.cloudfront_fake
        previous = fake.completion_seconds
        fake.completion_seconds = completes_in_seconds
        created: list[str] = []
        try:
            for chunk, start in enumerate(range(0, len(paths), MAX_IN_PROGRESS_FILES)):
                items = paths[start : start + MAX_IN_PROGRESS_FILES]
                reference = f"{OCCUPYING_REFERENCE_PREFIX}{n}-{chunk}"
                self._occupying.add((distribution_id, reference))
                response = self.cloudfront.create_invalidation(
                    DistributionId=distribution_id,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(items), "Items": items},
                        "CallerReference": reference,
                    },
                )
                created.append(response["Invalidation"]["Id"])
        finally:
            fake.completion_seconds = previous
        return tuple(created)

    # -------------------------------------------------------------------------------- run
    def run(self) -> Report:
        """Deliver every upload and run until the queue is drained (nothing visible, in flight
        or running) or a safety cap is reached; then report."""
        self._require_started()
        if self._report is not None:
            msg = "a simulation runs once"
            raise RuntimeError(msg)
        settings = self.settings
        now = self.clock()
        next_upload = 0
        same_instant = 0
        truncated = False
        while True:
            self.clock.set(now)
            next_upload = self._deliver_uploads(next_upload, now)
            self._run_scheduled(now)
            self._finish_invocations(now)
            self._poll(now)
            if next_upload == len(self.uploads) and not self._running and self.queue.empty:
                break
            following = self._next_instant(next_upload, now)
            if following is None:
                break  # pragma: no cover - unreachable: work remains but nothing is due
            if following > settings.max_simulated_seconds or (
                len(self._invocations) >= settings.max_invocations
            ):
                truncated = True
                break
            same_instant = same_instant + 1 if following <= now else 0
            if same_instant > _SAME_INSTANT_LIMIT:
                msg = f"the simulation makes no progress at t={now}"
                raise RuntimeError(msg)
            now = max(now, following)
        self.clock.set(now)
        self._report = self._build_report(now, truncated)
        return self._report

    def _deliver_uploads(self, index: int, now: float) -> int:
        delay = self.settings.delivery_seconds
        while index < len(self.uploads) and self.uploads[index].at + delay <= now:
            upload = self.uploads[index]
            millis = max(0, round(upload.at * 1_000_000) // 1000)  # as eventTime
            body = s3_event_body(
                upload.key,
                at=upload.at,
                sequencer=f"{millis:012X}{index:08X}",
                kind=upload.kind,
                bucket=self.settings.bucket_name,
                epoch=self.settings.epoch,
            )
            if upload.kind == "removed":
                self.bucket.removed(upload.key)
            else:
                self.bucket.created(upload.key)
            self._message_ids[index] = self.queue.send(body)
            index += 1
        return index

    def _run_scheduled(self, now: float) -> None:
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, action = heapq.heappop(self._scheduled)
            action(self)
            self.clock.set(now)

    def _finish_invocations(self, now: float) -> None:
        while self._running and self._running[0][0] <= now:
            _, _, deletions = heapq.heappop(self._running)
            for handle in deletions:
                self.queue.delete(handle)

    def _next_instant(self, next_upload: int, now: float) -> float | None:
        candidates: list[float] = []
        if next_upload < len(self.uploads):
            candidates.append(self.uploads[next_upload].at + self.settings.delivery_seconds)
        if self._scheduled:
            candidates.append(self._scheduled[0][0])
        if self._running:
            candidates.append(self._running[0][0])
        visible_again = self.queue.next_change_at()
        if visible_again is not None:
            candidates.append(visible_again)
        if (
            self._window_opened_at is not None
            and len(self._running) < self.settings.max_concurrency
        ):
            candidates.append(self._window_opened_at + self.settings.batching_window_seconds)
        return min(candidates) if candidates else None

    # ------------------------------------------------------------------- the event source
    def _poll(self, now: float) -> None:
        """Lambda's poller: open a window at the first visible record, invoke when ready."""
        while True:
            if self.queue.visible_count == 0:
                self._window_opened_at = None
                return
            if self._window_opened_at is None:
                self._window_opened_at = now
            if len(self._running) >= self.settings.max_concurrency:
                return
            closed_by = self._closed_by(now)
            if closed_by is None:
                return
            self._window_opened_at = None
            self._invoke(now, closed_by)

    def _closed_by(self, now: float) -> ClosedBy | None:
        settings = self.settings
        if self.queue.visible_count >= settings.batch_size:
            return "batch size"
        if self.queue.visible_bytes >= settings.max_payload_bytes:
            return "payload limit"
        opened = self._window_opened_at
        if opened is not None and now >= opened + settings.batching_window_seconds:
            return "batching window"
        return None

    def _invoke(self, now: float, closed_by: ClosedBy) -> None:
        settings = self.settings
        messages = self.queue.receive(settings.batch_size, max_bytes=settings.max_payload_bytes)
        if not messages:
            return  # every visible record was moved to the DLQ by the redrive policy
        number = len(self._invocations) + 1
        context = self._context(number, now)
        error: str | None = None
        answer: Collection[str] = ()
        try:
            answer = self.handler(messages, context)
        except Exception as exc:  # noqa: BLE001 - Lambda reports any handler error the same way
            error = f"{type(exc).__name__}: {exc}"
        slept = self.clock() - now
        self.clock.set(now)
        base = settings.invocation_seconds
        duration = (base(len(messages)) if callable(base) else base) + slept
        outcome, failed = self._judge(messages, answer, error, duration)
        ends_at = now + min(duration, settings.function_timeout_seconds)
        record = InvocationRecord(
            number=number,
            started_at=now,
            ended_at=ends_at,
            closed_by=closed_by,
            message_ids=tuple(m.message_id for m in messages),
            failures=len(failed),
            outcome=outcome,
            error=error,
        )
        self._invocations.append(record)
        deletions = [m.receipt_handle for m in messages if m.message_id not in failed]
        heapq.heappush(self._running, (ends_at, number, deletions))

    def _context(self, number: int, now: float) -> SimContext:
        timeout = self.settings.function_timeout_seconds
        clock = self.clock

        def remaining() -> float:
            return timeout - (clock() - now)

        return SimContext(
            invocation=number,
            started_at=now,
            config=self.config,
            ports=self.ports.with_remaining_time(remaining),
            cloudfront=self.cloudfront,
            cloudfront_fake=self.cloudfront_fake,
            queue=self.queue,
            tracker=self.tracker,
            notifier=self.notifier,
            clock=clock,
            function_timeout_seconds=timeout,
        )

    def _judge(
        self,
        messages: Sequence[SqsMessage],
        answer: Collection[str],
        error: str | None,
        duration: float,
    ) -> tuple[InvocationOutcome, set[str]]:
        """Lambda's reading of an invocation: which records stay on the queue."""
        everything = {m.message_id for m in messages}
        if error is not None:
            return "error", everything
        if duration > self.settings.function_timeout_seconds:
            return "timed out", everything
        if not self.settings.report_batch_item_failures:
            return "success", set()
        failed = set(answer)
        if not failed <= everything:
            return "invalid response", everything
        return ("partial" if failed else "success"), failed

    # ---------------------------------------------------------------------------- report
    def _build_report(self, now: float, truncated: bool) -> Report:
        run = FinishedRun(
            uploads=self.uploads,
            message_ids=tuple(self._message_ids),
            invocations=tuple(self._invocations),
            calls=tuple(self.cloudfront_fake.calls),
            completes_at=self.cloudfront_fake.completes_at,
            occupying=frozenset(self._occupying),
            tracker_runs=tuple(self.tracker.runs.values()),
            published=tuple(self.notifier.published),
            dead_letters=tuple(self.queue.dead_letters),
            deferrals=self.queue.deferrals_requested,
            distribution_ids=self.distribution_ids,
            rules=rules_from(self.config),
        )
        return build_report(run, now, truncated)


def simulate(
    uploads: Iterable[Upload],
    settings: SimSettings | None = None,
    *,
    handler: BatchHandler | None = None,
    prepare: Callable[[Simulation], object] | None = None,
) -> Report:
    """Run one simulation; ``prepare(sim)`` runs before the first upload (occupy, inject...)."""
    with Simulation(uploads, settings, handler=handler) as simulation:
        if prepare is not None:
            prepare(simulation)
        return simulation.run()
