"""The batcher's own figures: CPU and throughput for one batch with AWS stubbed, peak memory,
and the cold import of the handler module next to a bare ``import boto3``.

- CPU: a fresh interpreter imports the handler module (functions/batcher/app.py) and builds
  its dependencies as the first invocation does (the boto3 clients, then ``gc.freeze()``),
  reads a batch of S3 event messages from a file and serves it with ``process_batch`` (parse,
  plan, create, settle) and in-process stubs for CloudFront, Step Functions, SQS and SNS: one
  warm-up, then repeats timed with ``time.process_time``; the minimum and median.
- Memory: that interpreter's peak resident set after the imports and after serving, what the
  function's MemorySize must hold; ``tracemalloc`` gives the batch's own peak Python
  allocation.
- Cold import, the way Lambda runs it: fresh interpreters over a read-only copy of the built
  layer and function, writing nothing (``-B``), alternating, each timing only its import
  statement (interpreter start-up excluded). Three imports: the handler as built (the layer
  ships precompiled bytecode, layers/shared/Makefile), the handler from the same layer with its
  bytecode removed (what the layer shipped before: every cold start compiled from source), and a
  bare ``import boto3`` from the built layer, precompiled, as the floor.

Every measuring interpreter runs in ``runtime()``: the layer and function as ``sam build``
left them, without site-packages, so the packages are Lambda's rather than the dev tools'.

This module imports nothing heavy at import time: the measuring child process runs it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final

from cfinvalidator.config import Config
from cfinvalidator.knowledge import MonthlySpend, ObjectCounts
from cfinvalidator.observability import metrics
from cfinvalidator.service import BatchOutcome, Ports, SqsMessage, process_batch
from emulator.benchmark.workloads import inventory
from emulator.local_aws.memory import FakeInvalidations, FakeNotifier, FakeQueue, FakeTracker
from emulator.simulation.bucket import SimBucket

__all__ = [
    "BatchFigures",
    "ImportFigures",
    "Runtime",
    "measure_batch",
    "measure_cold_import",
    "runtime",
    "stub_ports",
]

ROOT: Final = Path(__file__).resolve().parents[2]
BUILD: Final = ROOT / ".aws-sam" / "build"
NOW: Final = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
ENVIRONMENT: Final = {
    "DISTRIBUTION_IDS": "E2EXAMPLE12345",
    "BUCKET_NAME": "sim-origin-bucket",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-tracker",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-queue",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-notifications",
}
_IMPORT_SNIPPET: Final = (
    "import time\nstarted = time.perf_counter()\nimport {module}\n"
    "print(time.perf_counter() - started)\n"
)


def _serving_fake() -> FakeInvalidations:
    fake = FakeInvalidations(now=NOW)
    fake.serve_bucket(ENVIRONMENT["BUCKET_NAME"], *ENVIRONMENT["DISTRIBUTION_IDS"].split(","))
    return fake


class _Spent:
    """The month's BilledPaths as the metric would answer: none yet."""

    def billed_paths_since(self, start: datetime) -> int:
        return 0


@cache
def _warm_knowledge() -> tuple[SimBucket, ObjectCounts, MonthlySpend]:
    """The benchmark's bucket (inventory) and the caches a warm environment keeps: the first
    (warm-up) batch fills them, the timed ones plan from them, as batches do within the 10
    minutes a listing is kept."""
    return SimBucket(inventory()), ObjectCounts(), MonthlySpend()


def stub_ports() -> Ports:
    """The in-memory ports (emulator.local_aws.memory): CloudFront idle, every start and send
    accepted, no time passing; the bucket counted and the month read as deployed."""
    bucket, counts, month = _warm_knowledge()
    return Ports(
        invalidations=_serving_fake(),
        tracker=FakeTracker(),
        queue=FakeQueue(),
        notifier=FakeNotifier(),
        now=lambda: NOW,
        sleep=lambda _: None,
        counts=bucket,
        spend=_Spent(),
        object_counts=counts,
        month=month,
    )


def _serve(messages: Sequence[SqsMessage], config: Config) -> BatchOutcome:
    try:
        return process_batch(messages, config, stub_ports())
    finally:
        metrics.clear_metrics()


# ------------------------------------------------------------------------- CPU and memory
@dataclass(frozen=True, slots=True)
class BatchFigures:
    """One batch served by a fresh interpreter that imported the handler module."""

    records: int
    cpu_ms_min: float
    cpu_ms_median: float
    wall_ms_median: float
    after_import_mib: float  # peak RSS once the handler module is imported
    peak_mib: float  # peak RSS after serving the batch (repeatedly)
    peak_python_mib: float  # tracemalloc peak while serving the batch once
    invalidations: int
    billed_paths: int

    @property
    def records_per_second(self) -> float:
        """Throughput by the median wall-clock time of one batch."""
        return self.records / (self.wall_ms_median / 1000) if self.wall_ms_median else 0.0


def messages_from(bodies: Sequence[str]) -> list[SqsMessage]:
    return [SqsMessage(f"bench-{n:06d}", body, f"receipt-{n:06d}") for n, body in enumerate(bodies)]


def measure_batch(bodies: Sequence[str], repeats: int = 7) -> BatchFigures:
    """Serve the batch in a fresh interpreter (as a new Lambda environment would): one
    warm-up, then ``repeats`` timed runs; memory as described in the module."""
    with tempfile.TemporaryDirectory() as folder:
        batch = Path(folder) / "batch.json"
        batch.write_text(json.dumps(list(bodies)), encoding="utf-8")
        output = _python(
            ["-m", "emulator.benchmark.handler_figures", str(batch), str(max(1, repeats))]
        )
    figures = json.loads(output)
    cpu, wall = figures["cpu_ms"], figures["wall_ms"]
    return BatchFigures(
        records=len(bodies),
        cpu_ms_min=min(cpu),
        cpu_ms_median=statistics.median(cpu),
        wall_ms_median=statistics.median(wall),
        after_import_mib=figures["after_import_mib"],
        peak_mib=figures["peak_mib"],
        peak_python_mib=figures["peak_python_mib"],
        invalidations=figures["invalidations"],
        billed_paths=figures["billed_paths"],
    )


def _rss_mib() -> float:
    """This process's peak resident set. VmHWM is kept per address space, so it starts afresh
    at exec; ru_maxrss (the fallback off Linux) can carry the forking parent's peak over."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _batch_child(batch_file: str, repeats: int) -> None:
    """The child of ``measure_batch``: import the handler, serve the batch, print figures."""
    os.environ.update(ENVIRONMENT)
    import app

    # As the first invocation does: the real clients (boto3 builds them offline), then the
    # handler's gc.freeze(); the batch itself is served with the stubs.
    app.dependencies()
    after_import = _rss_mib()
    config = Config.from_env(ENVIRONMENT)
    messages = messages_from(json.loads(Path(batch_file).read_text(encoding="utf-8")))
    outcome = _serve(messages, config)
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(repeats):
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        _serve(messages, config)
        cpu.append((time.process_time() - cpu_started) * 1000)
        wall.append((time.perf_counter() - wall_started) * 1000)
    peak = _rss_mib()
    tracemalloc.start()
    try:
        _serve(messages, config)
        _, peak_python = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    figures = {
        "cpu_ms": cpu,
        "wall_ms": wall,
        "after_import_mib": after_import,
        "peak_mib": peak,
        "peak_python_mib": peak_python / 2**20,
        "invalidations": len(outcome.created),
        "billed_paths": sum(len(created.request.paths) for created in outcome.created),
    }
    print(json.dumps(figures))


# ----------------------------------------------------------------------------- runtime
@dataclass(frozen=True, slots=True)
class Runtime:
    """Where the measuring interpreters import from, and how to describe it."""

    paths: tuple[Path, ...]
    isolated: bool  # True: no site-packages (``python -S``), as in Lambda
    description: str


def runtime() -> Runtime:
    """The layer and function as ``sam build`` left them, without site-packages: the packages
    Lambda loads (the layer's boto3 first). Without a build, the development virtualenv, whose
    extra packages (awscrt, pyOpenSSL...) also slow a bare ``import boto3`` down."""
    layer, function = BUILD / "SharedLayer" / "python", BUILD / "BatcherFunction"
    if (layer / "boto3").is_dir() and (function / "app.py").is_file():
        return Runtime(
            (layer, function, ROOT),
            isolated=True,
            description="the built layer and function (.aws-sam/build), no site-packages",
        )
    return Runtime(
        (ROOT / "layers" / "shared", ROOT / "functions" / "batcher", ROOT),
        isolated=False,
        description="the development virtualenv (no sam build found)",
    )


# ---------------------------------------------------------------------------- cold import
@dataclass(frozen=True, slots=True)
class ImportFigures:
    runs: int
    boto3_ms: float  # median, precompiled
    handler_ms: float  # median, as built
    source_only_ms: float | None = None  # median, the built layer without its bytecode
    environment: str = ""

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.boto3_ms

    @property
    def speedup(self) -> float | None:
        """How many times faster the handler imports with the shipped bytecode."""
        return self.source_only_ms / self.handler_ms if self.source_only_ms else None


def measure_cold_import(runs: int = 7) -> ImportFigures:
    """Median import times in fresh interpreters, alternating so all see the same machine load
    (see the module docstring). Without a build, the development virtualenv, warm caches."""
    place = runtime()
    if not place.isolated:
        return _measured({"boto3": place, "app": place}, runs, place.description, None)
    with tempfile.TemporaryDirectory() as folder:
        built = _read_only_copy(place, Path(folder) / "built", keep_bytecode=True)
        source = _read_only_copy(place, Path(folder) / "source", keep_bytecode=False)
        try:
            return _measured(
                {"boto3": built, "app": built, "source": source},
                runs,
                "read-only copies of the built layer and function, nothing written (-B), "
                "no site-packages",
                source,
            )
        finally:
            for copy in (built, source):
                _writable(copy)


def _measured(
    places: dict[str, Runtime], runs: int, description: str, source: Runtime | None
) -> ImportFigures:
    samples: dict[str, list[float]] = {name: [] for name in places}
    for _ in range(max(1, runs)):
        for name, place in places.items():
            module = "app" if name == "source" else name
            samples[name].append(_import_seconds(module, place))
    return ImportFigures(
        runs=max(1, runs),
        boto3_ms=statistics.median(samples["boto3"]) * 1000,
        handler_ms=statistics.median(samples["app"]) * 1000,
        source_only_ms=statistics.median(samples["source"]) * 1000 if source else None,
        environment=description,
    )


def _read_only_copy(place: Runtime, target: Path, *, keep_bytecode: bool) -> Runtime:
    """The layer and function folders copied under ``target``, then made read-only (as /opt
    and /var/task are); without bytecode when ``keep_bytecode`` is False."""
    layer, function, *rest = place.paths
    ignore = None if keep_bytecode else shutil.ignore_patterns("__pycache__", "*.pyc")
    copies = (target / "layer", target / "function")
    for origin, copy in zip((layer, function), copies, strict=True):
        shutil.copytree(origin, copy, ignore=ignore)
        for path in (copy, *copy.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o222)
    return Runtime((*copies, *rest), isolated=True, description=place.description)


def _writable(place: Runtime) -> None:
    """Writable again, so the temporary folder can be removed."""
    for folder in place.paths[:2]:
        for path in (folder, *folder.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)


def _import_seconds(module: str, place: Runtime) -> float:
    return float(_python(["-c", _IMPORT_SNIPPET.format(module=module)], place).strip())


def _python(arguments: Sequence[str], place: Runtime | None = None) -> str:
    """Run this interpreter in ``place`` (default: the ``runtime()``, the layer and the
    handler); its stdout. An isolated place writes no bytecode (``-B``), as on Lambda."""
    place = place or runtime()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(path) for path in place.paths),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "Benchmark",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    completed = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, *(["-S", "-B"] if place.isolated else []), *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


if __name__ == "__main__":
    _batch_child(sys.argv[1], int(sys.argv[2]))
