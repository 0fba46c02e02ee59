"""Custom resource Lambda: refuses, at deploy time, a KeyPrefix and an OriginPath that select no
key in common (``cfinvalidator.configuration_check``; template Rules cannot compare prefixes).

Thin by design: ``cfinvalidator.custom_resource`` answers CloudFormation exactly once; the check
is pure and makes no AWS call. ResourceProperties: ``KeyPrefix``, ``OriginPath``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cfinvalidator.adapters.cloudformation import UrllibResponder
from cfinvalidator.configuration_check import check_configuration, fallback_physical_id
from cfinvalidator.custom_resource import answer_request
from cfinvalidator.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    answer_request(
        event,
        context,
        work=check_configuration,
        responder=UrllibResponder(),
        fallback_physical_id=fallback_physical_id,
    )
