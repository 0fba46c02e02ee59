"""What shapes a simulation run: the inputs (uploads), the settings, and the AWS limits the
simulation enforces. Defaults are the stack's (template.yaml) and AWS's."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from emulator.local_aws.clock import EPOCH

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"
MAX_VISIBILITY_TIMEOUT: Final = 43_200  # SQS: 12 hours
MAX_INVOCATION_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
RECORD_OVERHEAD_BYTES: Final = 700
"""Estimated bytes of one record of Lambda's SQS event besides its body (messageId, a receipt
handle of a few hundred characters, attributes, md5OfBody, eventSourceARN...)."""
OCCUPYING_PREFIX: Final = "/sim-occupied/"
OCCUPYING_REFERENCE_PREFIX: Final = "sim-occupy-"

ChangeKind = Literal["created", "removed"]
ClosedBy = Literal["batch size", "batching window", "payload limit"]
InvocationOutcome = Literal["success", "partial", "error", "timed out", "invalid response"]
TrackerStatus = Literal["COMPLETED", "TIMED_OUT", "FAILED"]


# ------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True, slots=True)
class Upload:
    """One object change in the bucket, ``at`` simulated seconds after the start."""

    at: float
    key: str
    kind: ChangeKind = "created"


@dataclass(frozen=True, slots=True)
class SimSettings:
    """Everything that shapes a run. Defaults are the stack's (template.yaml) and AWS's."""

    # The event source mapping (template: BatchSize, DebounceSeconds, MaxConcurrency).
    batch_size: int = 10_000
    batching_window_seconds: float = 30.0
    max_concurrency: int = 2
    report_batch_item_failures: bool = True
    max_payload_bytes: int = MAX_INVOCATION_PAYLOAD_BYTES
    # The function: simulated seconds per invocation (a number, or records -> seconds) on top
    # of any sleep the handler performs, and the timeout (template: 60).
    invocation_seconds: float | Callable[[int], float] = 1.0
    function_timeout_seconds: float = 60.0
    # The queue (template: VisibilityTimeout 660, redrive maxReceiveCount = MaxReceiveCount).
    visibility_timeout_seconds: float = 660.0
    max_receive_count: int | None = None  # None: the service's MAX_RECEIVE_COUNT
    delivery_seconds: float = 0.0  # from the S3 change to the message being on the queue
    # CloudFront: seconds to Completed, a number or a sampler drawing from a seeded RNG.
    completion_seconds: float | Callable[[random.Random], float] = 20.0
    distributions: int = 1
    # The tracker (template: PollIntervalSeconds, CompletionTimeoutSeconds).
    poll_interval_seconds: float = 10.0
    completion_timeout_seconds: float = 900.0
    # The service's environment on top of the simulation's (COLLAPSE_THRESHOLD, KEY_PREFIX...).
    env: Mapping[str, str] = field(default_factory=dict)
    bucket_name: str = "sim-origin-bucket"
    # The run: ``epoch`` is the wall time of simulated second 0 (months are calendar months).
    epoch: datetime = EPOCH
    seed: int = 0
    max_simulated_seconds: float = 86_400.0
    max_invocations: int = 100_000

    def __post_init__(self) -> None:
        problems = [problem for check, problem in self._checks() if not check]
        if problems:
            raise ValueError("invalid simulation settings: " + "; ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        window, receives = self.batching_window_seconds, self.max_receive_count
        return [
            (1 <= self.batch_size <= 10_000, f"batch_size must be 1-10000: {self.batch_size}"),
            (0 <= window <= 300, f"batching_window_seconds must be 0-300: {window}"),
            (
                self.batch_size <= 10 or window >= 1,
                "AWS requires a batching window of at least 1 s for a batch size above 10",
            ),
            (self.max_concurrency >= 1, f"max_concurrency must be >= 1: {self.max_concurrency}"),
            (
                0 <= self.visibility_timeout_seconds <= MAX_VISIBILITY_TIMEOUT,
                f"visibility_timeout_seconds must be 0-43200: {self.visibility_timeout_seconds}",
            ),
            (receives is None or 1 <= receives <= 1000, f"max_receive_count 1-1000: {receives}"),
            (1 <= self.distributions <= 10, f"distributions must be 1-10: {self.distributions}"),
            (self.poll_interval_seconds > 0, "poll_interval_seconds must be positive"),
            (self.function_timeout_seconds > 0, "function_timeout_seconds must be positive"),
            (self.delivery_seconds >= 0, "delivery_seconds must not be negative"),
        ]
