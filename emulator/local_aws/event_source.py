"""The deployed stack's event source, run locally: its queue, its function and its settings.

One constructor for every caller (the demos and the pipeline tests), so each runs the batcher
exactly as the stack deploys it: the real handler (LocalFunction), the event source mapping's
batch size and batching window (scaled by ``time_scale``), and S3's bodies in AWS's shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from emulator.local_aws.lambda_context import LocalFunction
from emulator.local_aws.poller import PollerSettings, SqsEventSourcePoller
from emulator.local_aws.s3_events import FaithfulS3Events

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from emulator.local_aws.deployed import DeployedStack


def event_source_for(
    stack: DeployedStack, sqs: SQSClient, *, log_sink: TextIO, time_scale: float
) -> SqsEventSourcePoller:
    """The stack's event source mapping, polling its queue and invoking its batcher."""
    function = LocalFunction(stack.function, region=stack.region, log_sink=log_sink)
    return SqsEventSourcePoller(
        sqs,
        queue_url=stack.outputs["QueueUrl"],
        queue_arn=stack.event_source.queue_arn,
        handler=function,
        context_factory=function.new_context,
        settings=PollerSettings.from_deployment(
            stack.event_source, stack.function, time_scale=time_scale
        ),
        body_correction=FaithfulS3Events(),
    )
