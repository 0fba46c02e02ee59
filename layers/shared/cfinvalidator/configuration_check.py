"""The deploy-time check of what template Rules cannot express: a KeyPrefix and an OriginPath
that select no key in common.

CloudFormation Rules compare whole values only (Fn::Equals, Fn::Contains...): they cannot tell
whether one string starts with another. So the template runs this check as a custom resource
(``ConfigurationCheck``, created only when both parameters are set), with the batcher's own rule
(``config.prefix_problems``): a stack that would skip every upload fails to deploy, naming both
values, instead of failing on its first invocation. It makes no AWS call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfinvalidator.config import origin_path_and_problems, prefix_problems
from cfinvalidator.custom_resource import Budget, Outcome, Request
from cfinvalidator.errors import ConfigError

PHYSICAL_ID = "configuration-check"


def check_configuration(request: Request, _budget: Budget) -> Outcome:
    """Create and Update: refuse what the batcher would refuse; Delete: nothing to undo."""
    if request.request_type == "Delete":
        return Outcome(PHYSICAL_ID)
    properties = request.properties
    key_prefix, raw_origin = properties.get("KeyPrefix", ""), properties.get("OriginPath", "")
    if not isinstance(key_prefix, str) or not isinstance(raw_origin, str):
        raise ConfigError("KeyPrefix and OriginPath must be strings")
    origin_path, problems = origin_path_and_problems(raw_origin)
    problems += prefix_problems(key_prefix, origin_path)
    if problems:
        # The template's parameter names: that is what the person deploying typed.
        message = "; ".join(problems)
        message = message.replace("KEY_PREFIX", "KeyPrefix").replace("ORIGIN_PATH", "OriginPath")
        raise ConfigError(message)
    return Outcome(PHYSICAL_ID)


def fallback_physical_id(_event: Mapping[str, Any]) -> str:
    """The same id whatever happened: the resource owns nothing, so any Delete is harmless."""
    return PHYSICAL_ID
