"""The installed ``cfinv`` command, run as CI runs it: a separate process, against the template
deployed into moto, reached through a moto server on 127.0.0.1 (emulator.local_aws.endpoint)
that shares the in-process backends.

While the command runs, the test drives the rest of the world: the event source delivers and
CloudFront's clock moves on, a step at a time, until the process exits. Outcomes do not depend
on the machine's speed: the only waits are deadlines for something to happen.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from emulator.local_aws.endpoint import LocalEndpoint, local_endpoint
from tests.integration.cfinv_service import BUCKET, STACK, Service, deployed_service, depth

pytestmark = pytest.mark.slow

COMMAND = Path(sys.executable).parent / "cfinv"  # the console script pyproject.toml installs
DEADLINE_SECONDS = 120.0  # for the process to end; never a delay that must pass


@dataclass
class Deployed:
    service: Service
    endpoint: LocalEndpoint

    def cfinv(
        self,
        args: Sequence[str],
        *,
        stdin: str = "",
        while_running: Callable[[], None] = lambda: None,
    ) -> subprocess.CompletedProcess[str]:
        # Output to files, not pipes: nothing can block while the test drives the world.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            process = subprocess.Popen(
                [str(COMMAND), *args],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                text=True,
                env=self.endpoint.environment(),
            )
            assert process.stdin is not None
            process.stdin.write(stdin)
            process.stdin.close()
            deadline = time.monotonic() + DEADLINE_SECONDS
            while process.poll() is None:
                if time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"cfinv {' '.join(args)} did not end")
                while_running()
                time.sleep(0.2)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with deployed_service() as service, local_endpoint() as endpoint:
        yield Deployed(service, endpoint)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_the_command_is_installed_with_the_project() -> None:
    result = subprocess.run([str(COMMAND), "--help"], capture_output=True, text=True, check=False)

    assert result.returncode == 0
    for command in ("wait", "invalidate", "plan", "status", "redrive"):
        assert command in result.stdout


def test_wait_ends_in_completed(deployed: Deployed) -> None:
    """Given a deploy whose invalidations are InProgress,
    When cfinv wait runs as CI runs it (no terminal: timestamped lines on stderr),
    Then it exits 0 once CloudFront has completed them."""
    since = _stamp(datetime.now(UTC) - timedelta(seconds=1))
    service = deployed.service
    service.upload(["index.html", "css/site.css"])
    service.drain()

    result = deployed.cfinv(
        ["wait", "--stack", STACK, "--since", since, "--poll", "1s", "--timeout", "10m"],
        while_running=lambda: service.step(1.0),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("completed: 2 keys covered")
    assert "Z 0/2 keys covered" in result.stderr.splitlines()[0]


def test_wait_ends_in_failed(deployed: Deployed) -> None:
    since = _stamp(datetime.now(UTC) - timedelta(seconds=1))
    service = deployed.service
    service.cloudfront.inject("CreateInvalidation", "AccessDenied", times=10)
    service.upload(["css/site.css"])
    service.drain()

    result = deployed.cfinv(["wait", "--stack", STACK, "--since", since])

    assert result.returncode == 1
    assert result.stdout.startswith("FAILED: 1 keys will not be covered")
    assert "'css/site.css'" in result.stdout
    assert "dead-lettered: AccessDenied" in result.stdout


def test_wait_times_out(deployed: Deployed) -> None:
    since = _stamp(datetime.now(UTC) - timedelta(seconds=1))
    deployed.service.upload(["index.html"])
    deployed.service.drain()

    result = deployed.cfinv(
        ["wait", "--stack", STACK, "--since", since, "--timeout", "2s", "--poll", "1s", "--json"]
    )

    assert result.returncode == 3
    document = json.loads(result.stdout)
    assert document["result"] == "timed_out"
    assert [p["source"] for p in document["pending"]] == ["index.html", "index.html"]


def test_wait_with_nothing_changed_returns_at_once(deployed: Deployed) -> None:
    deployed.service.upload(["index.html"])
    deployed.service.drain()
    later = _stamp(datetime.now(UTC) + timedelta(seconds=2))

    result = deployed.cfinv(["wait", "--stack", STACK, "--since", later, "--timeout", "1h"])

    assert result.returncode == 0
    assert result.stdout.startswith(f"nothing changed since {later}")


def test_invalidate_on_demand_reaches_the_batcher(deployed: Deployed) -> None:
    """Given the deployed stack,
    When cfinv invalidate sends /about/ and /css/*,
    Then the batcher creates an invalidation of exactly those paths on both distributions."""
    service = deployed.service

    result = deployed.cfinv(["invalidate", "--stack", STACK, "/about/", "/css/*"])
    service.drain()

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("accepted: request ")
    created = [c for c in service.cloudfront.calls if c.outcome == "created"]
    assert {c.distribution_id for c in created} == {service.site, service.preview}
    assert all(sorted(c.paths) == ["/about/", "/css/*"] for c in created)


def test_invalidate_refuses_a_bad_path(deployed: Deployed) -> None:
    result = deployed.cfinv(["invalidate", "--stack", STACK, "/café.html"])

    assert result.returncode == 2
    assert "'/café.html' must be URL-encoded as CloudFront expects it: '/caf%C3%A9.html'" in (
        result.stderr
    )
    assert depth(deployed.service.stack.outputs["QueueUrl"]) == 0


def test_plan_for_hostile_keys(deployed: Deployed) -> None:
    result = deployed.cfinv(["plan", "--stack", STACK, "docs/red flower.jpg", "a~b.txt"])

    assert result.returncode == 0, result.stderr
    assert "'docs/red flower.jpg' -> /docs/red%20flower.jpg" in result.stdout
    assert "'a~b.txt' -> /a*" in result.stdout
    assert deployed.service.cloudfront.invalidation_count == 0


def test_redrive_without_yes_asks_and_with_yes_moves(deployed: Deployed) -> None:
    """Given a dead-lettered message,
    When cfinv redrive is declined, then run with --yes,
    Then the first leaves it in the DLQ (exit 5), the second moves it back to the queue."""
    service = deployed.service
    dlq = service.stack.outputs["DeadLetterQueueUrl"]
    boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody="{}")

    declined = deployed.cfinv(["redrive", "--stack", STACK], stdin="n\n")
    assert declined.returncode == 5
    assert "Move 1 dead-lettered message(s)" in declined.stderr
    assert depth(dlq) == 1

    moved = deployed.cfinv(["redrive", "--stack", STACK, "--yes"])
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith("redrive started for 1 message(s)")
    assert depth(dlq) == 0
    assert depth(service.stack.outputs["QueueUrl"]) == 1


def test_status(deployed: Deployed) -> None:
    deployed.service.upload(["css/site.css"])  # one path: nothing to collapse
    deployed.service.drain()

    result = deployed.cfinv(["status", "--stack", STACK])

    assert result.returncode == 0, result.stderr
    assert f"stack {STACK}" in result.stdout
    assert "1 invalidation(s) in progress; quota left 2999 file paths, 15 wildcard paths" in (
        result.stdout
    )


def test_unknown_stack_is_one_line_and_exit_4(deployed: Deployed) -> None:
    result = deployed.cfinv(["wait", "--stack", "nope", "--since", "2026-01-01T00:00:00Z"])

    assert result.returncode == 4
    assert result.stderr == "cfinv: error: stack 'nope' not found in region us-east-1\n"
    assert BUCKET not in result.stderr
