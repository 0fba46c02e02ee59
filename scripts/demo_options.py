"""The demo's command line: its own options, plus one flag per template.yaml parameter.

The parameter flags are read from the template itself (``--key-prefix`` for ``KeyPrefix``...), so
a parameter added to the template can be tried locally at once. Values pass through as strings,
as ``sam deploy --parameter-overrides`` would pass them; the emulator's deploy checks each
against its constraints and the template's Rules, as CloudFormation does.

``make demo ARGS="--key-prefix site/ --origin-path /site"`` (make itself takes no ``--flag``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


# The demo polls faster than the template's default, so the tracker finishes while you watch.
DEMO_POLL_INTERVAL_SECONDS = 2


@dataclass(frozen=True)
class Options:
    completion_seconds: float = 5.0
    time_scale: float = 0.1
    timeout_seconds: float = 45.0
    verbose: bool = False
    mode: str = "created"
    # template parameters given on the command line, as strings
    parameters: Mapping[str, str] = field(default_factory=dict)

    def deploy_parameters(self, demo: Mapping[str, str | int]) -> dict[str, str | int]:
        """The demo's own values for this mode, overridden by what was given."""
        own = {**demo, "PollIntervalSeconds": DEMO_POLL_INTERVAL_SECONDS}
        return {**own, **self.parameters}


def flag_name(parameter: str) -> str:
    """``KeyPrefix`` -> ``--key-prefix``; ``DistributionIds`` -> ``--distribution-ids``."""
    return "--" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", parameter).lower()


def template_parameters() -> dict[str, dict[str, Any]]:
    from emulator.local_aws.template import load_template

    parameters: dict[str, dict[str, Any]] = load_template(TEMPLATE)["Parameters"]
    return parameters


def _first_sentence(text: str) -> str:
    sentence = " ".join(text.split()).split(". ")[0].rstrip(".")
    return sentence.replace("%", "%%")  # argparse formats help text


def parser(parameters: Mapping[str, Mapping[str, Any]]) -> argparse.ArgumentParser:
    described = argparse.ArgumentParser(
        prog="make demo",
        description="The whole pipeline on an in-process AWS emulator, with a timeline.",
        epilog='Pass these through make as ARGS, e.g. make demo ARGS="--key-prefix site/'
        ' --origin-path /site". Template parameters are checked as CloudFormation checks them.',
    )
    own = described.add_argument_group("demo")
    own.add_argument(
        "--completion-seconds", type=float, default=5.0, help="CloudFront time to Completed"
    )
    own.add_argument(
        "--time-scale", type=float, default=0.1, help="real seconds per batching-window second"
    )
    own.add_argument("--timeout-seconds", type=float, default=45.0, help="per waiting step")
    own.add_argument("--verbose", action="store_true", help="show the batcher's log output")
    own.add_argument(
        "--mode",
        choices=["created", "existing"],
        default="created",
        help="created: the stack creates the bucket; existing: it attaches to a bucket that"
        " already has another tool's notifications, through EventBridge",
    )
    template = described.add_argument_group(
        "template.yaml parameters (default: the template's, except where the demo sets one)"
    )
    for name, spec in parameters.items():
        default = spec.get("Default")
        shown = "" if default is None else f" (template default {default!r})"
        if name == "PollIntervalSeconds":
            shown = f" (demo default {DEMO_POLL_INTERVAL_SECONDS})"
        template.add_argument(
            flag_name(name),
            dest=name,
            metavar=name,
            help=_first_sentence(str(spec.get("Description", name))) + shown,
        )
    return described


def parse_options(argv: Sequence[str] | None) -> Options:
    parameters = template_parameters()
    args = vars(parser(parameters).parse_args(argv))
    given = {name: args[name] for name in parameters if args.get(name) is not None}
    return Options(
        completion_seconds=args["completion_seconds"],
        time_scale=args["time_scale"],
        timeout_seconds=args["timeout_seconds"],
        verbose=args["verbose"],
        mode=args["mode"],
        parameters=given,
    )
