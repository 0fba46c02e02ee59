"""Find a deployed stack: its outputs name the batcher, whose environment is the configuration.

The batcher's environment variables are exactly what the service runs with (``Config.from_env``
parses them), the created distribution's ID included, so ``cfinv`` maps keys and reads queues
with the very settings the service uses, and never re-derives them from template parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from cfinv.aws import Aws
from cfinv.errors import CliError, Exit
from cfinvalidator.config import Config
from cfinvalidator.errors import ConfigError

_FUNCTION_OUTPUT = "BatcherFunctionName"


@dataclass(frozen=True, slots=True)
class Stack:
    """What ``cfinv`` needs of a deployed stack."""

    label: str  # "stack NAME" or "function NAME", for messages
    config: Config
    metrics_namespace: str
    service_name: str

    @property
    def metric_dimensions(self) -> dict[str, str]:
        """The dimensions Powertools gives the service's metrics."""
        return {"service": self.service_name}


def find_stack(aws: Aws, *, stack_name: str | None, function: str | None) -> Stack:
    """By stack name (its ``BatcherFunctionName`` output) or by the batcher function itself
    (name or ARN, for users who deploy the template some other way)."""
    if (stack_name is None) == (function is None):
        raise CliError("give either --stack NAME or --function NAME_OR_ARN", Exit.USAGE)
    if stack_name is not None:
        outputs = aws.stack_outputs(stack_name)
        batcher = outputs.get(_FUNCTION_OUTPUT, "")
        if not batcher:
            raise CliError(
                f"stack {stack_name!r} has no {_FUNCTION_OUTPUT} output: is it this service's "
                "stack?",
                Exit.AWS,
            )
        label = f"stack {stack_name}"
    else:
        batcher = function or ""
        label = f"function {batcher}"
    environment = aws.function_environment(batcher)
    try:
        config = Config.from_env(environment)
    except ConfigError as error:
        raise CliError(f"{label}: the batcher's {error}", Exit.AWS) from error
    return Stack(
        label=label,
        config=config,
        metrics_namespace=environment.get("POWERTOOLS_METRICS_NAMESPACE", "CloudFrontInvalidator"),
        service_name=environment.get("POWERTOOLS_SERVICE_NAME", "cloudfront-invalidator"),
    )
