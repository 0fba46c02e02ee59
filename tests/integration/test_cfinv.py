"""``cfinv`` against the real template deployed into moto, through its Python entry point.

The pipeline runs as in test_pipeline (local event source, real batcher, faithful CloudFront on a
ManualClock, moto running the tracker). ``cfinv`` is given a clock it controls: its sleep runs the
event source once and moves CloudFront's clock on, so a wait sees InProgress, then Completed,
however slowly the machine runs. tests/integration/test_cfinv_subprocess.py runs the installed
command the way CI does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.integration.cfinv_service import (
    BUCKET,
    DEPLOY,
    STACK,
    FakeTime,
    Service,
    deployed_service,
    depth,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def service() -> Iterator[Service]:
    with deployed_service() as deployed:
        yield deployed


def _since() -> str:
    """A --since just before now (whole seconds, as CI writes it with date -u +%FT%TZ)."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return moment.isoformat().replace("+00:00", "Z")


def test_wait_ends_once_every_change_is_covered_by_a_completed_invalidation(
    service: Service,
) -> None:
    """Given a deploy served by the batcher on two distributions (one with /blog/* on another
    origin) whose invalidations are still InProgress,
    When cfinv wait runs, and CloudFront's clock moves while it sleeps,
    Then it reports progress lines, exits 0 and says every key is covered, only once the
    invalidations have completed."""
    since = _since()
    service.upload(list(DEPLOY))
    service.drain()
    fake = FakeTime(on_sleep=service.step)

    code, out, err = service.run(
        ["wait", "--stack", STACK, "--since", since, "--poll", "10s", "--timeout", "5m"],
        time_=fake,
    )

    assert code == 0, (out, err, service.logs.getvalue())
    assert out.strip() == f"completed: {len(DEPLOY)} keys covered by completed invalidations (20s)"
    assert fake.sleeps == [10.0, 10.0]  # InProgress twice, Completed on the third reading
    lines = err.splitlines()
    assert f"0/{len(DEPLOY)} keys covered, 2 invalidation(s) in progress" in lines[0]
    assert f"{len(DEPLOY)}/{len(DEPLOY)} keys covered, 0 invalidation(s)" in lines[-1]


def test_wait_fails_when_a_record_is_dead_lettered(service: Service) -> None:
    """Given CloudFront refusing the distribution with AccessDenied (the batcher dead-letters
    those records),
    When cfinv wait runs,
    Then it exits 1 at once and names the keys and the reason."""
    since = _since()
    service.cloudfront.inject("CreateInvalidation", "AccessDenied", times=10)
    service.upload(["css/site.css"])
    service.drain()

    code, out, _ = service.run(["wait", "--stack", STACK, "--since", since, "--json"])

    assert code == 1
    document = json.loads(out)
    assert document["result"] == "failed"
    assert {f["source"] for f in document["failures"]} == {"css/site.css"}
    assert all("dead-lettered: AccessDenied" in f["reason"] for f in document["failures"])


def test_wait_times_out_while_invalidations_stay_in_progress(service: Service) -> None:
    """Given invalidations that never complete (CloudFront's clock stands still),
    When cfinv wait runs with --timeout 30s,
    Then it exits 3 after 30 s of its clock, naming what is not covered and what is running."""
    since = _since()
    service.upload(["index.html"])
    service.drain()
    fake = FakeTime()

    code, out, _ = service.run(
        ["wait", "--stack", STACK, "--since", since, "--timeout", "30s", "--poll", "10s"],
        time_=fake,
    )

    assert code == 3
    assert out.startswith("timed out after 30s: 1 of 1 keys not covered yet")
    assert "'index.html'" in out
    assert "invalidations still in progress" in out
    assert fake.now == 30.0


def test_wait_returns_at_once_when_nothing_changed(service: Service) -> None:
    """Given a deploy that was served before --since (a sync that changed nothing),
    When cfinv wait runs,
    Then it exits 0 without sleeping."""
    service.upload(["index.html"])
    service.drain()
    later = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    fake = FakeTime()

    code, out, _ = service.run(["wait", "--stack", STACK, "--since", later], time_=fake)

    assert code == 0
    assert out.startswith("nothing changed since")
    assert fake.sleeps == []


def test_wait_covers_deleted_keys_given_in_sync_output(service: Service) -> None:
    """Given a key deleted by `aws s3 sync --delete` (no longer listed in the bucket),
    When cfinv wait reads the sync output with --keys-from -,
    Then it waits for the deletion's invalidation too."""
    service.upload(["css/site.css"])
    service.drain()
    service.complete_everything()
    since = datetime.now(UTC).isoformat()  # after that invalidation was created
    boto3.client("s3").delete_object(Bucket=BUCKET, Key="css/site.css")
    sync_output = f"delete: s3://{BUCKET}/css/site.css\n"
    fake = FakeTime(on_sleep=service.step)

    code, out, err = service.run(
        ["wait", "--stack", STACK, "--since", since, "--keys-from", "-", "--json"],
        time_=fake,
        stdin=sync_output,
    )

    document = json.loads(out)
    assert code == 0, (out, err, service.logs.getvalue())
    assert document["result"] == "completed"
    assert document["total"] == 1
    assert fake.sleeps  # the deletion was not yet invalidated when the wait began


def test_on_a_stack_that_ignores_deletions_deleted_keys_are_not_waited_for() -> None:
    """Given a stack deployed with InvalidateDeletes false and a deploy that deleted a key,
    When cfinv wait reads the sync output,
    Then the deleted key is left out with a line saying why, and the upload is waited for."""
    with deployed_service(invalidate_deletes=False) as service:
        since = _since()
        service.upload(["index.html"])
        service.drain()
        sync_output = (
            f"upload: site/index.html to s3://{BUCKET}/index.html\ndelete: s3://{BUCKET}/old.html\n"
        )
        fake = FakeTime(on_sleep=service.step)

        code, out, err = service.run(
            ["wait", "--stack", STACK, "--since", since, "--keys-from", "-"],
            time_=fake,
            stdin=sync_output,
        )

    assert code == 0, (out, err)
    assert "1 deleted key(s) not waited for" in err
    assert "InvalidateDeletes false" in err
    assert out.startswith("completed: 1 keys covered")


def test_invalidate_on_demand_is_served_and_waited_for(service: Service) -> None:
    """Given the deployed stack,
    When cfinv invalidate --wait asks for /index.html and /css/*,
    Then the batcher creates one invalidation of exactly those paths on each distribution, and
    the command exits 0 once they have completed."""
    fake = FakeTime(on_sleep=service.step)

    code, out, err = service.run(
        ["invalidate", "--stack", STACK, "/index.html", "/css/*", "--wait", "--json"],
        time_=fake,
    )

    assert code == 0, (out, err, service.logs.getvalue())
    document = json.loads(out)
    assert document["result"] == "completed"
    assert document["paths"] == ["/index.html", "/css/*"]
    created = [c for c in service.cloudfront.calls if c.outcome == "created"]
    assert {c.distribution_id for c in created} == {service.site, service.preview}
    assert all(sorted(c.paths) == ["/css/*", "/index.html"] for c in created), created


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("index.html", "must start with /"),
        ("/a*b", "* before its end"),
        ("/red flower.jpg", "'/red%20flower.jpg'"),
        ("/a~b", "~"),
    ],
)
def test_invalidate_refuses_bad_paths_and_sends_nothing(
    service: Service, path: str, problem: str
) -> None:
    """Given a path CloudFront would refuse or misread,
    When cfinv invalidate is asked for it,
    Then it exits 2 with a message naming the path, and nothing reaches the queue."""
    code, _, err = service.run(["invalidate", "--stack", STACK, path])

    assert code == 2
    assert repr(path) in err
    assert problem in err
    assert depth(service.stack.outputs["QueueUrl"]) == 0


def test_plan_shows_the_request_and_the_reasons_for_a_deploy(service: Service) -> None:
    """Given the stack (two distributions: one at the bucket root, one with origin path
    /preview and /blog/* on a second origin at the root),
    When cfinv plan is asked about a deploy and hostile keys,
    Then it shows each distribution's request and why each key maps as it does, and creates
    no invalidation."""
    keys = ["index.html", "docs/red flower.jpg", "blog/café.html", "a~b.txt", "preview/x.css"]

    code, out, _ = service.run(["plan", "--stack", STACK, *keys, "--json"])

    assert code == 0
    document = json.loads(out)
    by_id = {d["distributionId"]: d for d in document["distributions"]}
    site = {k["key"]: k for k in by_id[service.site]["keys"]}
    assert site["index.html"]["paths"] == ["/index.html", "/"]
    assert site["docs/red flower.jpg"]["paths"] == ["/docs/red%20flower.jpg"]
    assert site["blog/café.html"]["paths"] == ["/blog/caf%C3%A9.html"]
    assert site["a~b.txt"]["paths"] == ["/a*"]
    assert any("cannot name" in note for note in site["a~b.txt"]["notes"])
    preview = {k["key"]: k for k in by_id[service.preview]["keys"]}
    assert preview["preview/x.css"]["paths"] == ["/x.css"]
    assert preview["blog/café.html"]["paths"] == ["/blog/caf%C3%A9.html"]
    assert preview["index.html"]["paths"] == []
    assert service.cloudfront.invalidation_count == 0


def test_plan_from_parameters_needs_no_stack(service: Service) -> None:
    """Given no stack, only parameters (KeyPrefix site/, origin path /site),
    When cfinv plan runs,
    Then it maps keys under the origin path and refuses keys outside the prefix, in text."""
    code, out, _ = service.run(
        ["plan", "--key-prefix", "site/", "--origin-path", "/site", "site/a.html", "other/b.html"]
    )

    assert code == 0
    assert "'site/a.html' -> /a.html" in out
    assert "outside KeyPrefix 'site/'" in out


def _dead_letter_one(service: Service) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=service.stack.outputs["DeadLetterQueueUrl"], MessageBody="{}")


def test_redrive_asks_first_and_does_nothing_when_declined(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a dead-lettered message,
    When cfinv redrive runs and the answer is no,
    Then it exits 5 and the message stays in the DLQ."""
    _dead_letter_one(service)

    code, _, err = service.run(["redrive", "--stack", STACK], stdin="n\n")

    assert code == 5
    assert "Move 1 dead-lettered message(s)" in capsys.readouterr().err  # click's prompt
    assert "aborted: nothing was changed" in err
    assert depth(service.stack.outputs["DeadLetterQueueUrl"]) == 1


def test_redrive_moves_the_dead_letters_back_with_yes(service: Service) -> None:
    """Given a dead-lettered message,
    When cfinv redrive --yes runs,
    Then an SQS message move task puts it back on the service's queue."""
    _dead_letter_one(service)

    code, out, _ = service.run(["redrive", "--stack", STACK, "--yes", "--json"])

    assert code == 0
    assert json.loads(out)["result"] == "started"
    assert depth(service.stack.outputs["DeadLetterQueueUrl"]) == 0
    assert depth(service.stack.outputs["QueueUrl"]) == 1


def test_status_shows_queues_quota_and_billed_paths(service: Service) -> None:
    """Given invalidations in progress and the BilledPaths metric of this month (which Lambda's
    embedded metric format puts in CloudWatch; the emulator does not, so it is put here),
    When cfinv status runs,
    Then it reports the queue depths, each distribution's invalidations in progress and quota
    left, and the billed paths."""
    service.upload(["css/site.css"])  # one path: nothing to collapse
    service.drain()
    boto3.client("cloudwatch").put_metric_data(
        Namespace="CloudFrontInvalidator",
        MetricData=[
            {
                "MetricName": "BilledPaths",
                "Dimensions": [{"Name": "service", "Value": _service_name(service)}],
                "Value": 2,
            }
        ],
    )

    code, out, _ = service.run(["status", "--stack", STACK, "--json"])

    assert code == 0, out
    document = json.loads(out)
    assert document["queue"] == {"visible": 0, "inFlight": 0, "delayed": 0}
    by_id = {d["distributionId"]: d for d in document["distributions"]}
    assert len(by_id[service.site]["inProgress"]) == 1
    assert by_id[service.site]["freeFilePaths"] == 3000 - 1  # /css/site.css
    assert by_id[service.preview]["inProgress"] == []
    assert document["billedPathsThisMonth"] == 2


def test_an_unknown_stack_is_one_clear_line(service: Service) -> None:
    code, _, err = service.run(["status", "--stack", "no-such-stack"])

    assert code == 4
    assert err.strip() == "cfinv: error: stack 'no-such-stack' not found in region us-east-1"


def _service_name(service: Service) -> str:
    return str(service.stack.function.environment["POWERTOOLS_SERVICE_NAME"])
