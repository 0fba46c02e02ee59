"""`make bench` in miniature: every workload and strategy at 1/100 scale, the figures it
computes, the targets it judges and the files it writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cfinvalidator.config import Config
from cfinvalidator.paths import paths_for_key
from cfinvalidator.planning import rules_from
from emulator.benchmark.conditions import CONDITIONS
from emulator.benchmark.handler_figures import (
    ENVIRONMENT,
    BatchFigures,
    ImportFigures,
    measure_batch,
    measure_cold_import,
)
from emulator.benchmark.report import markdown, text_table
from emulator.benchmark.runner import (
    ASYNC_RETRY_SECONDS,
    STRATEGIES,
    CaseResult,
    Latency,
    StrategySpec,
    dollars,
    run_case,
)
from emulator.benchmark.targets import HandlerFigures, targets
from emulator.benchmark.workloads import Workload, workloads
from emulator.simulation.engine import Simulation
from emulator.simulation.settings import Upload
from scripts.bench import BenchRun, handler_bodies, run

SCALE = 0.01
RULES = rules_from(Config.from_env(ENVIRONMENT))
BY_NAME = {strategy.name: strategy for strategy in STRATEGIES}
PER_OBJECT, EVERYTHING, SERVICE = BY_NAME["per-object"], BY_NAME["everything"], BY_NAME["service"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchRun]:
    """The whole benchmark at 1/100 scale, written to a temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        # run() sets fake credentials in os.environ; keep them from leaking to other tests.
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            patch.setenv(name, "testing" if name != "AWS_DEFAULT_REGION" else "us-east-1")
        patch.delenv("AWS_REGION", raising=False)
        yield run(SCALE, tmp_path_factory.mktemp("bench"), repeats=1)


def result(bench: BenchRun, workload: str, strategy: StrategySpec) -> CaseResult:
    (found,) = [
        r
        for r in bench.results
        if (r.workload, r.strategy, r.condition) == (workload, strategy.name, "ideal")
    ]
    return found


# ---------------------------------------------------------------------------- workloads
def test_the_published_workloads_have_the_shapes_the_issue_names() -> None:
    deploy, busy, trickle, hot, burst, hostile, month = workloads(1.0)
    assert max(u.at for u in month.uploads) > 29 * 86_400
    assert month.horizon_seconds is not None
    assert month.horizon_seconds > max(u.at for u in month.uploads)
    assert len(deploy.uploads) == 10_000
    assert busy.uploads == deploy.uploads
    assert busy.occupied is not None
    assert (busy.occupied.files, busy.occupied.wildcards) == (2_500, 10)
    assert deploy.occupied is None
    assert max(u.at for u in deploy.uploads) <= 60
    assert len(trickle.uploads) == 720
    assert {
        round(b.at - a.at, 6) for a, b in zip(trickle.uploads, trickle.uploads[1:], strict=False)
    } == {5}
    assert len(hot.uploads) == 1_000
    assert len({u.key for u in hot.uploads}) == 1
    assert len(burst.uploads) == len({u.key for u in burst.uploads}) == 100_000
    assert len(hostile.uploads) == 10_000
    keys = [u.key for u in hostile.uploads]
    for piece in (" ", "+", "%", "~"):
        assert any(piece in key for key in keys), piece
    assert any(not key.isascii() for key in keys)
    assert max(len(key.encode()) for key in keys) == 1024
    assert len(deploy.existing) == 50_001


def test_workloads_are_seeded() -> None:
    assert workloads(SCALE) == workloads(SCALE)


def test_scale_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="scale"):
        workloads(1.5)


# ---------------------------------------------------------------------------- strategies
def test_every_case_ran_to_the_end_and_this_service_lost_no_key(small_run: BenchRun) -> None:
    """Every workload x strategy x condition, plus the rate-sensitivity rows (two rates for
    two strategies); the peers may lose keys (they keep no queue), this service never."""
    expected = len(workloads(SCALE)) * len(STRATEGIES) * len(CONDITIONS) + 2 * 2
    assert len(small_run.results) == expected
    for case in small_run.results:
        assert not case.truncated, case
        if case.strategy.startswith("service"):
            assert case.keys_lost == case.dead_lettered == 0, case


def test_one_invalidation_per_object_bills_every_path_of_every_upload(
    small_run: BenchRun,
) -> None:
    for workload in workloads(SCALE):
        case = result(small_run, workload.name, PER_OBJECT)
        paths = sum(len(paths_for_key(u.key, RULES)) for u in workload.uploads)
        assert case.create_invalidation_calls == len(workload.uploads), workload.name
        assert case.billed_paths == paths, workload.name


def test_always_everything_invalidates_every_unchanged_object(small_run: BenchRun) -> None:
    for workload in workloads(SCALE):
        case = result(small_run, workload.name, EVERYTHING)
        assert case.billed_paths == case.create_invalidation_calls
        assert case.over_invalidated == len(workload.unchanged), workload.name


def test_this_service_notifies_and_never_bills_more_than_every_path_per_batch(
    small_run: BenchRun,
) -> None:
    """SST-style asks for every path of each batch (chunked): collapsing never bills more."""
    for workload in workloads(SCALE):
        service = result(small_run, workload.name, SERVICE)
        every_path = result(small_run, workload.name, BY_NAME["sst"])
        assert service.quota_errors == 0
        assert service.notified is not None
        assert service.notified.p50 is not None
        assert service.billed_paths <= every_path.billed_paths, workload.name
    hot = result(small_run, "hot-key", SERVICE)
    assert hot.billed_paths == 1  # one window: the key's ten uploads are one path


def test_the_one_per_object_strategy_meets_the_quota_and_this_service_does_not() -> None:
    """4,000 new keys at once: the 3,000 in-progress file paths refuse 1,000 per-object
    requests, which Lambda's asynchronous retry sends again about 90 s later (accepted then:
    the first 3,000 have completed), while this service collapses and is never refused."""
    keys = tuple(Upload(i * 0.001, f"drop/item-{i:05d}.json") for i in range(4_000))
    workload = Workload("quota", "4,000 keys at once", keys, ())
    per_object = run_case(workload, PER_OBJECT)
    service = run_case(workload, SERVICE)
    assert per_object.quota_errors == 1_000
    assert per_object.keys_lost == per_object.dead_lettered == 0
    assert per_object.requested.worst is not None
    assert per_object.requested.worst >= ASYNC_RETRY_SECONDS
    assert service.quota_errors == 0
    assert service.billed_paths == 1
    assert service.requested.worst is not None
    assert service.requested.worst <= 32


def test_over_invalidation_counts_unchanged_objects_under_a_wildcard() -> None:
    existing = ("a/x.html", "a/y.html", "b/z.html")
    workload = Workload("tiny", "one change", (Upload(0.0, "a/x.html"),), existing)
    everything = run_case(workload, EVERYTHING)
    per_object = run_case(workload, PER_OBJECT)
    assert (everything.over_invalidated, per_object.over_invalidated) == (2, 0)


def test_a_refused_per_object_request_is_retried_then_dropped() -> None:
    """Given a key whose request CloudFront refuses for the whole run (15 wildcards already in
    progress), per object retries it as Lambda's asynchronous invocation does (three attempts)
    and then drops it; always-/* keeps no queue: its refused key is lost at once."""
    key = "dir/~tilde.txt"  # needs a wildcard
    workload = Workload("refused", "refused", (Upload(0.0, key),), ())

    def occupied(sim: Simulation) -> object:
        return sim.occupy(wildcards=15, completes_in_seconds=10_000)

    per_object = run_case(workload, PER_OBJECT, prepare=occupied)
    everything = run_case(workload, EVERYTHING, prepare=occupied)

    assert (per_object.dead_lettered, per_object.billed_paths) == (1, 0)
    assert per_object.quota_errors == 3
    assert (everything.keys_lost, everything.dead_lettered, everything.billed_paths) == (1, 0, 0)


def test_dollars_start_after_the_free_thousand_paths() -> None:
    assert dollars(1_000) == 0
    assert dollars(1_200) == pytest.approx(1.0)


# ------------------------------------------------------------------------------ handler
def test_handler_figures_measure_a_real_batch() -> None:
    bodies = handler_bodies(50)
    site = measure_batch(bodies["site deploy"], repeats=1)
    assert site.records == 50
    assert site.invalidations == 1
    assert 0 < site.cpu_ms_min <= site.cpu_ms_median
    assert site.records_per_second > 0
    assert 0 < site.after_import_mib <= site.peak_mib
    hostile = measure_batch(bodies["hostile keys"], repeats=1)
    assert hostile.billed_paths >= 1
    imports = measure_cold_import(runs=1)
    assert imports.boto3_ms > 0
    assert imports.handler_ms > 0


# ------------------------------------------------------------------------------ targets
def handler_figures(
    cpu_ms: float, boto3_ms: float, handler_ms: float, source_only_ms: float | None = None
) -> HandlerFigures:
    batch = BatchFigures(10_000, cpu_ms, cpu_ms, cpu_ms, 70.0, 90.0, 1.0, 1, 1)
    return HandlerFigures(
        batches={"site deploy": batch},
        imports=ImportFigures(3, boto3_ms, handler_ms, source_only_ms),
        memory_size_mib=256,
    )


def case(strategy: str, billed: int, *, worst: float = 30.0, lost: int = 0) -> CaseResult:
    latency = Latency(15.0, worst, worst)
    return CaseResult(
        workload="deploy",
        strategy=strategy,
        uploads=10,
        create_invalidation_calls=1,
        billed_paths=billed,
        wildcard_paths=0,
        over_invalidated=0,
        quota_errors=0,
        throttled_calls=0,
        keys_lost=lost,
        dead_lettered=0,
        deferrals=0,
        requested=latency,
        completed=latency,
        notified=None,
        finished_at=100.0,
        truncated=False,
        wall_seconds=0.1,
    )


@pytest.mark.parametrize(
    ("service_billed", "worst", "cpu_ms", "handler_ms", "source_only_ms", "met"),
    [
        (100, 32.0, 149.0, 130.0, 260.0, [True, True, True, True, True, True, True, True]),
        (101, 32.5, 150.0, 131.0, 261.0, [False, False, False, False, True, False, True, True]),
        (100, 32.0, 149.0, 130.0, None, [True, True, False, True, True, True, True, True]),
    ],
)
def test_targets_are_judged_at_their_limits(
    service_billed: int,
    worst: float,
    cpu_ms: float,
    handler_ms: float,
    source_only_ms: float | None,
    met: list[bool],
) -> None:
    """Cold import: at most 1.3x a precompiled boto3, at least 2x faster than without the
    bytecode (not met when that was not measured)."""
    results = [case("per-object", 10_000), case("service", service_billed, worst=worst)]
    figures = handler_figures(cpu_ms, 100.0, handler_ms, source_only_ms)
    found = targets(results, figures, 30.0)
    assert [t.met for t in found] == met


def test_a_dominating_peer_misses_the_pareto_target() -> None:
    """Given s3deploy billing fewer paths than the service on the deploy, with equal
    over-invalidation and latency, then the Pareto target names it and is not met."""
    results = [case("per-object", 10_000), case("s3deploy", 3), case("service", 22)]
    (pareto,) = [t for t in targets(results, handler_figures(100.0, 100.0, 100.0), 30.0)
                 if t.goal.startswith("no peer strategy dominates")]  # fmt: skip
    assert not pareto.met
    assert "by s3deploy" in pareto.measured


def test_a_lost_key_misses_the_no_loss_target() -> None:
    results = [case("per-object", 10_000), case("service", 1, lost=1)]
    found = targets(results, handler_figures(100.0, 100.0, 100.0), 30.0)
    assert [t.met for t in found][-1] is False


# -------------------------------------------------------------------------------- files
def test_the_report_files_hold_every_case(small_run: BenchRun) -> None:
    text = small_run.document.read_text(encoding="utf-8")
    for heading in ("## Targets", "## Cost, quota and loss", "## Handler", "## Reading"):
        assert heading in text
    for strategy in STRATEGIES:
        sensitivity = 2 if strategy.name in {"per-object", "service"} else 0
        rows = len(workloads(SCALE)) * len(CONDITIONS) + sensitivity
        assert text.count(f"| {strategy.title} |") == 2 * rows, strategy.name
    assert f"]({small_run.chart.name})" in text
    assert small_run.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert small_run.table == text_table(small_run.results, small_run.handler, small_run.targets)


def test_markdown_tables_are_well_formed(small_run: BenchRun, tmp_path: Path) -> None:
    document = markdown(
        small_run.results,
        small_run.handler,
        small_run.targets,
        workloads(SCALE),
        chart="chart.png",
        environment="test",
    )
    rows = [line for line in document.splitlines() if line.startswith("|")]
    assert rows
    for line in rows:
        assert line.endswith("|")
    header_cells = {line.count("|") for line in rows if "---" in line}
    assert header_cells <= {line.count("|") for line in rows}
    assert BY_NAME["service-depth-1"].title in document
