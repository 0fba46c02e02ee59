"""``cfinv``: the command line. Thin: parse, call ``operations``, print with ``render``.

Exit codes (README "cfinv"): 0 done, 1 failed, 2 bad usage or input, 3 timed out, 4 AWS error,
5 declined confirmation, 130 interrupted.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import IO, Any

import boto3
import click

from cfinv import operations, render
from cfinv.aws import Aws
from cfinv.completion import Target
from cfinv.errors import CliError, Exit
from cfinv.operations import Reader
from cfinv.stack import find_stack
from cfinv.waiting import Outcome, wait_for

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _session(region: str | None, profile: str | None) -> boto3.Session:
    return boto3.Session(region_name=region, profile_name=profile)


@dataclass(frozen=True)
class Runtime:
    """What the commands run against; tests give their own clock and sleep."""

    session: Callable[[str | None, str | None], boto3.Session] = _session
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = _utcnow
    terminal: bool | None = None  # None: whether standard error is a terminal
    stdout: IO[str] | None = None
    stderr: IO[str] | None = None
    region: str | None = None
    profile: str | None = None

    @property
    def out(self) -> IO[str]:
        return self.stdout or sys.stdout

    @property
    def err(self) -> IO[str]:
        return self.stderr or sys.stderr

    def aws(self, command: str) -> Aws:
        return Aws(self.session(self.region, self.profile), command)

    def reporter(self, what: str, as_json: bool) -> render.Reporter:
        if as_json:
            return render.Reporter()
        terminal = self.err.isatty() if self.terminal is None else self.terminal
        if terminal:
            return render.TerminalReporter(self.err, what)
        return render.LineReporter(self.err, what, self.now)


class DurationType(click.ParamType):
    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        if text.isascii() and text.isdecimal():
            return float(text)
        match = _DURATION.match(text)
        if not text or match is None:
            self.fail(f"{value!r} is not a duration like 90s, 15m or 1h30m", param, ctx)
        return float(int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0))


class MomentType(click.ParamType):
    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        if text.isascii() and text.isdecimal():
            try:
                return datetime.fromtimestamp(int(text), UTC)
            except (OverflowError, OSError, ValueError):
                self.fail(f"{value!r} is not epoch seconds a time can hold", param, ctx)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time like 2026-12-03T10:00:00Z", param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{value!r} has no time zone: add Z for UTC (date -u +%FT%TZ)", param, ctx)
        return moment.astimezone(UTC)


DURATION = DurationType()
MOMENT = MomentType()


def _stack_options[F: Callable[..., Any]](command: F) -> F:
    command = click.option(
        "--function",
        "function",
        metavar="NAME_OR_ARN",
        help="The batcher function, for a stack deployed without CloudFormation outputs.",
    )(command)
    return click.option("--stack", "stack_name", metavar="NAME", help="The deployed stack.")(
        command
    )


def _wait_options[F: Callable[..., Any]](command: F) -> F:
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document, no progress."
    )(command)
    command = click.option(
        "--poll", type=DURATION, default="10s", show_default=True, help="Time between readings."
    )(command)
    return click.option(
        "--timeout", type=DURATION, default="15m", show_default=True, help="Give up after this."
    )(command)


def _run_wait(
    runtime: Runtime,
    targets: Sequence[Target],
    reader: Reader,
    *,
    timeout: float,
    poll: float,
    as_json: bool,
    what: str,
) -> Outcome:
    reporter = runtime.reporter(what, as_json)
    try:
        return wait_for(
            targets,
            reader,
            timeout=timeout,
            poll_seconds=poll,
            clock=runtime.clock,
            sleep=runtime.sleep,
            report=reporter.report,
        )
    finally:
        reporter.close()


def _print(runtime: Runtime, lines: Sequence[str]) -> None:
    for line in lines:
        print(line, file=runtime.out)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--region", help="AWS region (default: the environment's, as for the AWS CLI).")
@click.option("--profile", help="AWS profile (default: the environment's).")
@click.version_option(package_name="cloudfront-invalidator", prog_name="cfinv")
@click.pass_context
def cli(ctx: click.Context, region: str | None, profile: str | None) -> None:
    """Wait for the CloudFront invalidation service, and ask it for invalidations.

    Every command finds the service by --stack NAME (or --function, the batcher) and uses the
    settings the service itself runs with.
    """
    runtime: Runtime = ctx.obj or Runtime()
    ctx.obj = replace(runtime, region=region, profile=profile)


@cli.command()
@_stack_options
@click.option(
    "--since",
    type=MOMENT,
    required=True,
    help="Wait for objects changed at or after this time (ISO 8601 with a zone, or epoch).",
)
@click.option("--prefix", help="Only objects under this prefix (default: the stack's KeyPrefix).")
@click.option(
    "--keys-from",
    type=click.File("r", encoding="utf-8"),
    help="Keys CI changed, deleted ones included: one a line, or `aws s3 sync` output; - for "
    "standard input.",
)
@_wait_options
@click.pass_obj
def wait(
    runtime: Runtime,
    stack_name: str | None,
    function: str | None,
    since: datetime,
    prefix: str | None,
    keys_from: IO[str] | None,
    timeout: float,
    poll: float,
    as_json: bool,
) -> int:
    """Exit 0 once every object changed since --since is covered, on every distribution the
    stack serves, by a completed invalidation created after the change."""
    aws = runtime.aws("wait")
    stack = find_stack(aws, stack_name=stack_name, function=function)
    listed = operations.keys_in(keys_from, stack.config.bucket_name) if keys_from else []
    api = aws.invalidations()
    found, targets = operations.wait_targets(aws, stack, api, since, prefix, listed)
    skipped = found.deletions_not_invalidated
    if skipped and not as_json:
        print(
            f"{len(skipped)} deleted key(s) not waited for: {stack.label} does not invalidate "
            "deletions (InvalidateDeletes false)",
            file=runtime.err,
        )
    reader = Reader(aws, stack, api, since, runtime.now)
    outcome = _run_wait(
        runtime, targets, reader, timeout=timeout, poll=poll, as_json=as_json, what="keys"
    )
    if as_json:
        document = render.outcome_document(
            outcome,
            since=render.stamp(since),
            changed=len(found.changes),
            deletionsNotInvalidated=skipped,
        )
        _print(runtime, [render.dumps(document)])
    else:
        _print(runtime, render.outcome_text(outcome, "keys", since))
    return outcome.result.exit_code


@cli.command()
@_stack_options
@click.argument("paths", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Invalidate /* (everything).")
@click.option("--wait", "and_wait", is_flag=True, help="Then wait until it has completed.")
@_wait_options
@click.pass_obj
def invalidate(
    runtime: Runtime,
    stack_name: str | None,
    function: str | None,
    paths: tuple[str, ...],
    everything: bool,
    and_wait: bool,
    timeout: float,
    poll: float,
    as_json: bool,
) -> int:
    """Ask the service to invalidate PATHS (CloudFront paths, URL-encoded, * only last) on
    every distribution it serves."""
    if everything == bool(paths):
        raise CliError("give PATHS or --all, not both and not neither", Exit.USAGE)
    operations.checked(["/*"] if everything else paths)  # refused before any AWS call
    aws = runtime.aws("invalidate")
    stack = find_stack(aws, stack_name=stack_name, function=function)
    submitted = operations.submit(aws, stack, ["/*"] if everything else paths, runtime.now())
    accepted = {
        "requestId": submitted.request_id,
        "messageId": submitted.message_id,
        "requestedAt": render.stamp(submitted.requested_at),
        "paths": list(submitted.paths),
    }
    if not and_wait:
        if as_json:
            _print(runtime, [render.dumps({"result": "accepted", **accepted})])
        else:
            _print(
                runtime,
                [f"accepted: request {submitted.request_id}, {len(submitted.paths)} path(s)"],
            )
        return Exit.OK
    if not as_json:
        print(f"request {submitted.request_id} sent; waiting", file=runtime.err)
    api = aws.invalidations()
    targets = operations.request_targets(aws, stack, api, submitted)
    reader = Reader(aws, stack, api, submitted.requested_at, runtime.now, submitted.request_id)
    outcome = _run_wait(
        runtime, targets, reader, timeout=timeout, poll=poll, as_json=as_json, what="paths"
    )
    if as_json:
        _print(runtime, [render.dumps(render.outcome_document(outcome, **accepted))])
    else:
        _print(runtime, render.outcome_text(outcome, "paths"))
    return outcome.result.exit_code


@cli.command()
@_stack_options
@click.argument("keys", nargs=-1, required=True)
@click.option("--key-prefix", default="", help="Without a stack: the KeyPrefix parameter.")
@click.option("--origin-path", default="/", help="Without a stack: the origin path.")
@click.option("--index-document", default="index.html", show_default=True)
@click.option("--collapse-threshold", type=int, default=10, show_default=True)
@click.option("--broadest-wildcard-depth", type=int, default=0, show_default=True)
@click.option("--unchanged-per-saved-path", type=int, default=100, show_default=True)
@click.option(
    "--paths-left",
    type=click.IntRange(min=0),
    default=None,
    help="Without a stack: paths left in this month's budget (default: priced as beyond it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def plan(
    runtime: Runtime,
    stack_name: str | None,
    function: str | None,
    keys: tuple[str, ...],
    key_prefix: str,
    origin_path: str,
    index_document: str,
    collapse_threshold: int,
    broadest_wildcard_depth: int,
    unchanged_per_saved_path: int,
    paths_left: int | None,
    as_json: bool,
) -> int:
    """Dry run: the paths the planner would request for KEYS (decoded object keys), and why.
    Nothing is sent to CloudFront."""
    if stack_name or function:
        aws = runtime.aws("plan")
        stack = find_stack(aws, stack_name=stack_name, function=function)
        result = operations.plan_with_stack(aws, stack, aws.invalidations(), keys, runtime.now())
    else:
        parameters = operations.PlanParameters(
            key_prefix=key_prefix,
            origin_path=origin_path,
            index_document=index_document,
            collapse_threshold=collapse_threshold,
            broadest_wildcard_depth=broadest_wildcard_depth,
            unchanged_per_saved_path=unchanged_per_saved_path,
            paths_left=paths_left,
        )
        result = operations.plan_from_parameters(parameters, keys)
    if as_json:
        document = render.plan_document(result.reports) | {"unread": result.unread}
        _print(runtime, [render.dumps(document)])
    else:
        _print(
            runtime,
            [*(f"note: {line}" for line in result.unread), *render.plan_text(result.reports)],
        )
    return Exit.OK


@cli.command()
@_stack_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def status(runtime: Runtime, stack_name: str | None, function: str | None, as_json: bool) -> int:
    """Queue and dead-letter queue depth, oldest message age, invalidations in progress and the
    quota left per distribution, billed paths this month."""
    aws = runtime.aws("status")
    stack = find_stack(aws, stack_name=stack_name, function=function)
    report = operations.status(aws, stack, aws.invalidations(), runtime.now())
    if as_json:
        _print(runtime, [render.dumps(render.status_document(report))])
    else:
        _print(runtime, render.status_text(report))
    return Exit.OK


@cli.command()
@_stack_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_obj
def redrive(
    runtime: Runtime, stack_name: str | None, function: str | None, yes: bool, as_json: bool
) -> int:
    """Move the dead-lettered messages back to the queue (an SQS message move task), so the
    service tries them again."""
    aws = runtime.aws("redrive")
    stack = find_stack(aws, stack_name=stack_name, function=function)
    depth = aws.queue_depth(stack.config.dead_letter_queue_url)
    count = depth.visible + depth.in_flight + depth.delayed
    if count == 0:
        message = "the dead-letter queue is empty: nothing to redrive"
        _print(runtime, [render.dumps({"result": "empty"}) if as_json else message])
        return Exit.OK
    if not yes:
        question = f"Move {count} dead-lettered message(s) of {stack.label} back to its queue?"
        if not click.confirm(question, default=False, err=True):
            raise click.Abort
    handle = operations.redrive(aws, stack)
    if as_json:
        _print(
            runtime, [render.dumps({"result": "started", "taskHandle": handle, "messages": count})]
        )
    else:
        _print(runtime, [f"redrive started for {count} message(s): task {handle}"])
    return Exit.OK


def _exit_code(run: Callable[[], Any], runtime: Runtime) -> int:
    try:
        result = run()
    except CliError as error:
        print(f"cfinv: error: {error.message}", file=runtime.err)
        return int(error.code)
    except click.exceptions.Abort:
        print("cfinv: aborted: nothing was changed", file=runtime.err)
        return int(Exit.ABORTED)
    except click.ClickException as error:
        error.show(file=runtime.err)
        return error.exit_code
    except KeyboardInterrupt:
        print("cfinv: interrupted", file=runtime.err)
        return 130
    return int(result) if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    """The entry point (console script ``cfinv``, and ``python -m cfinv``); returns the exit
    code."""
    obj = runtime or Runtime()
    args = list(argv) if argv is not None else sys.argv[1:]
    run = functools.partial(cli.main, args=args, prog_name="cfinv", standalone_mode=False, obj=obj)
    return _exit_code(run, obj)
