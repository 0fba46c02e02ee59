"""`make demo`: every template parameter is a flag, and a failure shows its real cause."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from emulator.local_aws.poller import BatchRecord
from scripts.demo import DemoError, raise_for_batcher_failure, report_invalidations
from scripts.demo_options import (
    DEMO_POLL_INTERVAL_SECONDS,
    flag_name,
    parse_options,
    template_parameters,
)
from tests.template.cfn import ROOT


def test_every_template_parameter_is_a_demo_flag() -> None:
    """Given each parameter of template.yaml, when its flag is passed, then the value reaches
    the deploy unchanged, over the demo's own value for it."""
    parameters = template_parameters()
    argv = [arg for name in parameters for arg in (flag_name(name), f"value-of-{name}")]
    options = parse_options(argv)
    assert dict(options.parameters) == {name: f"value-of-{name}" for name in parameters}
    demo_own = {"BucketName": "demo-bucket", "IndexDocument": "index.html"}
    deployed = options.deploy_parameters(demo_own)
    assert deployed == {name: f"value-of-{name}" for name in parameters}


def test_flags_left_out_keep_the_demo_values() -> None:
    """Given no template flag, then the deploy gets the demo's values and its poll interval,
    and nothing else (the template's defaults apply)."""
    options = parse_options(["--verbose"])
    assert options.verbose
    assert options.deploy_parameters({"BucketName": "b"}) == {
        "BucketName": "b",
        "PollIntervalSeconds": DEMO_POLL_INTERVAL_SECONDS,
    }


def test_flag_names_follow_the_parameter_names() -> None:
    assert flag_name("KeyPrefix") == "--key-prefix"
    assert flag_name("DistributionIds") == "--distribution-ids"
    assert flag_name("UnchangedObjectsPerSavedPath") == "--unchanged-objects-per-saved-path"


def test_the_makefile_passes_args_to_the_demo() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(PY) -m scripts.demo --mode $(MODE) $(ARGS)" in makefile


def _batch(outcome: str, error: str | None) -> BatchRecord:
    return BatchRecord(
        number=1,
        first_record_at=0.0,
        invoked_at=0.0,
        finished_at=0.0,
        closed_by="batching window",
        event={"Records": []},
        outcome=outcome,  # type: ignore[arg-type]
        response=None,
        error=error,
        deleted=(),
        left_for_redelivery=(),
    )


def _log(level: str, message: str, **extra: str) -> str:
    return json.dumps({"level": level, "message": message, **extra})


def test_a_batcher_that_raised_is_reported_with_its_error_and_log() -> None:
    """Given an invocation that raised (a configuration error, say), then the demo's error is
    Lambda's error with the batcher's ERROR and WARNING lines, not 'no invalidation'."""
    logs = io.StringIO(
        "\n".join(
            [
                _log("INFO", "ignored"),
                "not json",
                _log("ERROR", "boom", error="ConfigError", cause="KEY_PREFIX is wrong"),
            ]
        )
    )
    with pytest.raises(DemoError) as raised:
        raise_for_batcher_failure(
            [_batch("success", None), _batch("error", "ConfigError: invalid configuration")], logs
        )
    text = str(raised.value)
    assert "the batcher failed on batch 1: ConfigError: invalid configuration" in text
    assert "ERROR boom (ConfigError: KEY_PREFIX is wrong)" in text
    assert "ignored" not in text


def test_no_invalidation_names_what_the_batcher_logged() -> None:
    """Given a batch served without an invalidation, then the error lists the batcher's
    warnings and errors, each distinct line once."""

    class NoCalls:
        calls: tuple[object, ...] = ()

    line = _log("ERROR", "record dead-lettered", error="NoSuchDistribution", cause="gone")
    with pytest.raises(DemoError) as raised:
        report_invalidations(
            NoCalls(),  # type: ignore[arg-type]
            None,
            None,  # type: ignore[arg-type]
            [],
            io.StringIO(f"{line}\n{line}\n"),
        )
    assert str(raised.value) == (
        "the batcher created no invalidation\nthe batcher logged:\n"
        "  ERROR record dead-lettered (NoSuchDistribution: gone)"
    )


@pytest.mark.slow
def test_the_demo_prints_the_real_cause_of_a_failure() -> None:
    """Given the demo deployed for a distribution that does not exist, when it runs, then it
    exits 1 and its error names CloudFront's answer (NoSuchDistribution), as the batcher logged
    it, instead of only 'the batcher created no invalidation'."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.demo",
            "--distribution-ids",
            "E2NOSUCHDIST01",
            "--timeout-seconds",
            "60",
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # as make runs it
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "demo FAILED: the batcher created no invalidation" in result.stderr
    assert "ERROR record dead-lettered (NoSuchDistribution:" in result.stderr
