"""What a batch handler is in the simulation, what it gets, and the default one (this service)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from cfinvalidator.config import Config
from cfinvalidator.observability import metrics
from cfinvalidator.service import BatchOutcome, Ports, SqsMessage, process_batch
from emulator.local_aws.clock import ManualClock
from emulator.local_aws.cloudfront import FaithfulCloudFront
from emulator.simulation.queue import SimQueue
from emulator.simulation.services import SimNotifier, SimTracker

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


# ------------------------------------------------------------------------------ the handler
@dataclass(frozen=True, slots=True)
class SimContext:
    """What a batch handler gets besides its messages: the ports, the clients, the clock."""

    invocation: int
    started_at: float
    config: Config
    ports: Ports  # remaining_seconds already bound to this invocation
    cloudfront: CloudFrontClient  # the boto3 client (no botocore retries) the service uses
    cloudfront_fake: FaithfulCloudFront
    queue: SimQueue
    tracker: SimTracker
    notifier: SimNotifier
    clock: ManualClock
    function_timeout_seconds: float

    def now(self) -> float:
        """Simulated seconds since the start."""
        return self.clock()

    def wall_clock(self) -> datetime:
        return self.clock.wall()

    def remaining_seconds(self) -> float:
        return self.function_timeout_seconds - (self.clock() - self.started_at)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


class BatchHandler(Protocol):
    """Serve one batch and return the message IDs to report in ``batchItemFailures``.

    Raising fails the whole batch (nothing is deleted), as an error in Lambda does.
    """

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        """Serve ``messages``; the returned IDs stay on the queue."""
        ...


class ServiceHandler:
    """The default handler: ``process_batch`` with the simulation's ports, as the batcher runs
    it (functions/batcher/app.py). Keeps every invocation's ``BatchOutcome``."""

    def __init__(self) -> None:
        self.outcomes: list[BatchOutcome] = []

    def __call__(self, messages: Sequence[SqsMessage], context: SimContext) -> Collection[str]:
        try:
            outcome = process_batch(messages, context.config, context.ports)
        finally:
            # Lambda's log_metrics flushes after each invocation; nothing is flushed here.
            metrics.clear_metrics()
        self.outcomes.append(outcome)
        return set(outcome.failed)
