"""``cfinv``'s completion rules (cfinv.completion) and its wait loop (cfinv.waiting).

A target (distribution, path of a change) is covered once a *completed* invalidation created
after the change covers the path: from the change's own time for the service's invalidations
(CallerReference ``cfinv-...``), from one second after it for anyone else's. Time is a fake
clock throughout; nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfinv.completion import (
    Change,
    Failure,
    Progress,
    Target,
    assess,
    dead_sources,
    targets_for_keys,
    targets_for_paths,
)
from cfinv.errors import Exit
from cfinv.waiting import Outcome, Result, Snapshot, wait_for
from cfinvalidator.ledger import KnownInvalidation
from cfinvalidator.on_demand import request_body
from cfinvalidator.origins import fixed_mapping
from cfinvalidator.paths import PathRules
from cfinvalidator.planning import CALLER_REFERENCE_PREFIX, execution_name
from tests.factories import s3_body, s3_record

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
OURS = CALLER_REFERENCE_PREFIX + "0123abcd"
THEIRS = "console-2026-12-03"


def invalidation(
    invalidation_id: str,
    paths: Iterable[str],
    *,
    at: datetime = T0 + timedelta(seconds=5),
    status: str = "Completed",
    caller_reference: str = OURS,
) -> KnownInvalidation:
    return KnownInvalidation(invalidation_id, at, status, tuple(paths), caller_reference)


def target(
    path: str, *, source: str | None = None, distribution: str = "E1", at: datetime = T0
) -> Target:
    return Target(distribution, source or path.lstrip("/"), path, at)


def assessed(
    targets: Sequence[Target],
    histories: Mapping[str, Sequence[KnownInvalidation]] | None = None,
    ended: Mapping[str, str] | None = None,
    dead: Mapping[str, str] | None = None,
) -> Progress:
    return assess(targets, histories or {}, ended or {}, dead or {})


# ---------------------------------------------------------------------------- targets


def test_targets_for_keys_map_each_key_on_each_distribution_as_the_batcher_does() -> None:
    """Given an index document, a key with a space and a key outside one distribution's
    KeyPrefix, then the targets are the batcher's paths for each on each distribution, and a
    key a distribution does not serve has none there."""
    changes = [Change("docs/index.html", T0), Change("site/a b.html", T0 + timedelta(seconds=1))]
    mappings = {
        "E1": fixed_mapping(PathRules()),
        "E2": fixed_mapping(PathRules(key_prefix="site/")),
    }
    assert targets_for_keys(changes, mappings) == (
        Target("E1", "docs/index.html", "/docs/index.html", T0),
        Target("E1", "docs/index.html", "/docs/", T0),
        Target("E1", "docs/index.html", "/docs", T0),
        Target("E1", "site/a b.html", "/site/a%20b.html", T0 + timedelta(seconds=1)),
        Target("E2", "site/a b.html", "/site/a%20b.html", T0 + timedelta(seconds=1)),
    )


def test_targets_for_paths_apply_each_path_as_it_is_on_every_distribution() -> None:
    """Given requested paths and two distributions, then each path is a target on both, its
    own source; with no distribution, there is none."""
    changes = [Change("/a", T0), Change("/b/*", T0)]
    assert targets_for_paths(changes, iter(["E1", "E2"])) == (
        Target("E1", "/a", "/a", T0),
        Target("E2", "/a", "/a", T0),
        Target("E1", "/b/*", "/b/*", T0),
        Target("E2", "/b/*", "/b/*", T0),
    )
    assert targets_for_paths(changes, []) == ()


# ---------------------------------------------------------------------------- assess


def test_a_completed_invalidation_after_the_change_covers_it() -> None:
    """Given a completed invalidation of the path created after the change, then the target
    is covered and the wait is done."""
    progress = assessed([target("/a.html")], {"E1": [invalidation("I1", ["/a.html"])]})
    assert progress == Progress(
        sources=1, covered_sources=1, pending=(), in_progress=frozenset(), failures=()
    )
    assert progress.done


def test_with_no_invalidation_a_target_is_pending() -> None:
    """Given no invalidation at all (and no history for the distribution), then the target is
    pending, nothing is in progress and nothing has failed."""
    wanted = target("/a.html")
    cases: list[dict[str, list[KnownInvalidation]]] = [
        {},
        {"E1": []},
        {"E2": [invalidation("I1", ["/a.html"])]},  # another distribution's
    ]
    for histories in cases:
        progress = assessed([wanted], histories)
        assert progress == Progress(1, 0, (wanted,), frozenset(), ())
        assert not progress.done


@pytest.mark.parametrize("status", ["InProgress", "Pending", "completed"])
def test_an_invalidation_not_yet_completed_is_in_progress(status: str) -> None:
    """Given the covering invalidation is in any state but exactly "Completed", then the
    target is pending and that invalidation is named as in progress."""
    wanted = target("/a.html")
    progress = assessed([wanted], {"E1": [invalidation("I1", ["/a.html"], status=status)]})
    assert progress == Progress(1, 0, (wanted,), frozenset({("E1", "I1")}), ())


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_a_tracker_that_ended_unsuccessfully_fails_its_invalidation(status: str) -> None:
    """Given the covering invalidation is in progress and its tracker execution ended without
    success, then the target has failed, with the invalidation and the status named."""
    wanted = target("/a.html")
    progress = assessed(
        [wanted],
        {"E1": [invalidation("I1", ["/a.html"], status="InProgress")]},
        ended={execution_name("E1", "I1"): status},
    )
    assert progress.pending == (wanted,)
    assert progress.in_progress == {("E1", "I1")}
    assert progress.failures == (
        Failure(
            "E1",
            "a.html",
            f"invalidation I1 is not complete and its tracker ended {status}",
        ),
    )


def test_an_ended_tracker_does_not_matter_once_the_invalidation_completed() -> None:
    """Given the tracker ended FAILED but CloudFront completed the invalidation since, and
    another invalidation's tracker failed, then the target is covered and nothing failed."""
    progress = assessed(
        [target("/a.html")],
        {"E1": [invalidation("I1", ["/a.html"])]},
        ended={execution_name("E1", "I1"): "FAILED", execution_name("E1", "I9"): "FAILED"},
    )
    assert progress.done
    assert progress.failures == ()


def test_another_invalidations_ended_tracker_fails_nothing() -> None:
    """Given the covering invalidation is in progress with its tracker still running, and
    another invalidation's (or distribution's) tracker ended FAILED, then nothing failed."""
    progress = assessed(
        [target("/a.html")],
        {"E1": [invalidation("I1", ["/a.html"], status="InProgress")]},
        ended={execution_name("E1", "I2"): "FAILED", execution_name("E2", "I1"): "FAILED"},
    )
    assert progress.failures == ()
    assert progress.in_progress == {("E1", "I1")}


def test_a_dead_lettered_source_with_no_covering_invalidation_fails() -> None:
    """Given the record of a change reached the dead-letter queue and no invalidation covers
    it, then it has failed on every distribution, once each, whatever its number of paths."""
    targets = [
        target("/docs/index.html", source="docs/index.html"),
        target("/docs/", source="docs/index.html"),
        target("/docs/index.html", source="docs/index.html", distribution="E2"),
        target("/b.html"),
    ]
    progress = assessed(targets, dead={"docs/index.html": "path is too long"})
    assert progress.failures == (
        Failure("E1", "docs/index.html", "dead-lettered: path is too long"),
        Failure("E2", "docs/index.html", "dead-lettered: path is too long"),
    )
    assert progress.pending == tuple(targets)


def test_a_dead_lettered_source_covered_since_is_not_failed() -> None:
    """Given a dead-lettered source that an invalidation created after the change covers
    (completed on one distribution, in progress on the other), then nothing failed."""
    progress = assessed(
        [target("/a.html"), target("/a.html", distribution="E2")],
        {
            "E1": [invalidation("I1", ["/a.html"])],
            "E2": [invalidation("I2", ["/*"], status="InProgress", caller_reference=THEIRS)],
        },
        dead={"a.html": "malformed"},
    )
    assert progress.failures == ()
    assert progress.pending == (target("/a.html", distribution="E2"),)
    assert progress.in_progress == {("E2", "I2")}


# One millisecond at a time around the change: the margin is to the microsecond.
offsets = st.integers(min_value=-3000, max_value=3000).map(lambda ms: timedelta(milliseconds=ms))


@given(offsets, st.sampled_from(["Completed", "InProgress"]))
def test_the_services_own_invalidations_count_from_the_change_itself(
    offset: timedelta, status: str
) -> None:
    """Given one of the service's invalidations (CallerReference cfinv-...) created ``offset``
    after the change, then it covers the change (or is in progress for it) exactly when
    ``offset`` is not negative: it answered the change's event."""
    made = invalidation("I1", ["/a.html"], at=T0 + offset, status=status)
    progress = assessed([target("/a.html")], {"E1": [made]})
    counts = offset >= timedelta(0)
    assert progress.done == (counts and status == "Completed")
    assert progress.in_progress == ({("E1", "I1")} if counts and status != "Completed" else set())


@given(
    offsets,
    st.sampled_from(["Completed", "InProgress"]),
    st.sampled_from([THEIRS, "", "cfinv", "CFINV-0123", "x-cfinv-0123"]),
)
def test_other_invalidations_count_from_one_second_after_the_change(
    offset: timedelta, status: str, caller_reference: str
) -> None:
    """Given an invalidation someone else made (a CallerReference not starting with cfinv-,
    some of them close to it) ``offset`` after the change, then it counts exactly when
    ``offset`` is at least the one-second margin, as in the batcher: S3's and CloudFront's
    clocks may differ."""
    made = invalidation(
        "I1", ["/a.html"], at=T0 + offset, status=status, caller_reference=caller_reference
    )
    progress = assessed([target("/a.html")], {"E1": [made]})
    counts = offset >= timedelta(seconds=1)
    assert progress.done == (counts and status == "Completed")
    assert progress.in_progress == ({("E1", "I1")} if counts and status != "Completed" else set())


def test_ours_within_the_margin_covers_though_a_newer_one_of_others_does_not() -> None:
    """Given the service's invalidation at the change's own time and someone else's 0.5 s
    after, then the service's covers the change."""
    progress = assessed(
        [target("/a.html")],
        {
            "E1": [
                invalidation("MINE", ["/a.html"], at=T0),
                invalidation(
                    "THEIRS",
                    ["/a.html"],
                    at=T0 + timedelta(milliseconds=500),
                    caller_reference=THEIRS,
                ),
            ]
        },
    )
    assert progress.done


@pytest.mark.parametrize("caller_reference", [OURS, THEIRS])
@pytest.mark.parametrize("status", ["Completed", "InProgress"])
def test_an_invalidation_created_before_the_change_never_covers_it(
    caller_reference: str, status: str
) -> None:
    """Given only an invalidation created (a microsecond, or an hour) before the change,
    whoever made it, then the target is pending, nothing is in progress for it, and a dead
    letter makes it fail."""
    history = [
        invalidation(
            f"I{n}",
            ["/a.html", "/*"],
            at=T0 - before,
            status=status,
            caller_reference=caller_reference,
        )
        for n, before in enumerate([timedelta(microseconds=1), timedelta(hours=1)])
    ]
    progress = assessed([target("/a.html")], {"E1": history}, dead={"a.html": "x"})
    assert progress.pending == (target("/a.html"),)
    assert progress.in_progress == frozenset()
    assert progress.failures == (Failure("E1", "a.html", "dead-lettered: x"),)


@pytest.mark.parametrize(
    ("invalidated", "wanted", "covered"),
    [
        ("/*", "/a.html", True),
        ("/*", "/deep/er/a.html", True),
        ("/docs/*", "/docs/a.html", True),
        ("/docs/*", "/docs/", True),
        ("/docs/*", "/docs", False),
        ("/docs*", "/docs", True),
        ("/docs/*", "/other/a.html", False),
        ("/d*", "/docs/a.html", True),
        ("/docs/a*", "/docs/a%20b.html", True),
        ("/docs/*", "/docs/sub/*", True),  # a requested wildcard, covered by a broader one
        ("/docs/sub/*", "/docs/*", False),
        ("/docs/", "/docs/*", False),
        ("/docs/a.html", "/docs/a.html", True),
        ("/docs/a.html", "/docs/a.htm", False),
    ],
)
def test_wildcards_cover_the_paths_under_them(invalidated: str, wanted: str, covered: bool) -> None:
    """Given a completed invalidation of one path, then a target is covered exactly when that
    path names it or is a wildcard whose prefix it starts with."""
    progress = assessed([target(wanted)], {"E1": [invalidation("I1", [invalidated])]})
    assert progress.done == covered


def test_a_source_is_covered_only_when_every_target_of_it_is() -> None:
    """Given an index document with its three paths on two distributions, all covered but one
    on the second, then the source counts as not covered; another fully covered one does."""
    targets = [
        *(target(p, source="docs/index.html") for p in ["/docs/index.html", "/docs/", "/docs"]),
        *(
            target(p, source="docs/index.html", distribution="E2")
            for p in ["/docs/index.html", "/docs/"]
        ),
        target("/docs", source="docs/index.html", distribution="E2"),
        target("/b.html", distribution="E2"),
    ]
    histories = {
        "E1": [invalidation("I1", ["/docs/*", "/docs"])],
        "E2": [invalidation("I2", ["/docs/*", "/b.html"])],
    }
    progress = assessed(targets, histories)
    assert progress.sources == 2
    assert progress.covered_sources == 1
    assert progress.pending == (target("/docs", source="docs/index.html", distribution="E2"),)


# ---------------------------------------------------------------------------- dead_sources


def _request(paths: Sequence[str], request_id: str) -> str:
    return request_body(paths, request_id, T0)


def test_dead_sources_names_the_keys_of_s3_bodies_sent_since() -> None:
    """Given dead letters sent before, exactly at and after ``since``, then the keys of those
    sent at or after it are named, with their reasons; a request's paths are not keys."""
    bodies = [
        (s3_body(s3_record("old.html")), T0 - timedelta(microseconds=1), "too old"),
        (s3_body(s3_record("a b.html"), s3_record("café.html")), T0, "r1"),
        (s3_body(s3_record("later.html")), T0 + timedelta(hours=1), "r2"),
        (_request(["/x"], "req1"), T0, "r3"),
    ]
    assert dead_sources(bodies, T0) == {"a b.html": "r1", "café.html": "r1", "later.html": "r2"}


def test_dead_sources_with_a_request_id_names_that_requests_paths_only() -> None:
    """Given dead-lettered requests and S3 bodies, then with a request ID only that request's
    paths are named (sent at or after ``since``)."""
    bodies = [
        (_request(["/x", "/y/*"], "req1"), T0, "quota"),
        (_request(["/z"], "req2"), T0, "other request"),
        (_request(["/early"], "req1"), T0 - timedelta(seconds=1), "before since"),
        (s3_body(s3_record("a.html")), T0, "a key"),
    ]
    assert dead_sources(bodies, T0, request_id="req1") == {"/x": "quota", "/y/*": "quota"}
    assert dead_sources(bodies, T0, request_id="req3") == {}


def test_dead_sources_ignores_bodies_the_batcher_could_not_read() -> None:
    """Given dead letters that are not JSON, have no records, or carry a refused request,
    then they name nothing, and the readable ones around them still count."""
    refused = json.loads(_request(["/x"], "req1"))
    refused["paths"] = ["/x", "no-slash"]
    bodies = [
        ("not json", T0, "unreadable"),
        ("", T0, "empty"),
        ('{"Records": []}', T0, "no records"),
        (json.dumps(refused), T0, "refused request"),
        (s3_body(s3_record("a.html")), T0, "served"),
        (_request(["/y"], "req1"), T0, "served request"),
    ]
    assert dead_sources(bodies, T0) == {"a.html": "served"}
    assert dead_sources(bodies, T0, "req1") == {"/y": "served request"}
    assert dead_sources([], T0) == {}


# ---------------------------------------------------------------------------- wait_for


@dataclass
class FakeTime:
    """A monotonic clock that only sleeping moves on."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        # A wait that sleeps nothing (or for ever) would spin: fail instead of hanging.
        assert seconds > 0, f"sleep({seconds}) after {self.sleeps}"
        assert len(self.sleeps) < 10_000, "the wait never ends"
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Script:
    """``read``: the snapshots to give, one per call (the last one repeated); records what it
    was asked for."""

    snapshots: list[Snapshot]
    asked: list[tuple[Target, ...]] = field(default_factory=list)

    def __call__(self, pending: Sequence[Target]) -> Snapshot:
        self.asked.append(tuple(pending))
        return self.snapshots[min(len(self.asked), len(self.snapshots)) - 1]


@dataclass
class Reports:
    seen: list[tuple[Progress, float]] = field(default_factory=list)

    def __call__(self, progress: Progress, elapsed: float) -> None:
        self.seen.append((progress, elapsed))


def snapshot(
    histories: Mapping[str, Sequence[KnownInvalidation]] | None = None,
    ended: Mapping[str, str] | None = None,
    dead: Mapping[str, str] | None = None,
) -> Snapshot:
    return Snapshot(histories or {}, ended or {}, dead or {})


NOTHING_YET = snapshot()
RUNNING = snapshot({"E1": [invalidation("I1", ["/a.html"], status="InProgress")]})
DONE = snapshot({"E1": [invalidation("I1", ["/a.html"])]})


def run(
    targets: Sequence[Target],
    read: Callable[[Sequence[Target]], Snapshot],
    time: FakeTime,
    *,
    timeout: float = 900.0,
    poll: float = 10.0,
    report: Callable[[Progress, float], None] | None = None,
) -> Outcome:
    return wait_for(
        targets,
        read,
        timeout=timeout,
        poll_seconds=poll,
        clock=time.clock,
        sleep=time.sleep,
        report=report or Reports(),
    )


def _never(*_: object) -> NoReturn:
    raise AssertionError("not to be called when there is nothing to wait for")


def test_no_target_is_nothing_changed_at_once() -> None:
    """Given no target, then the wait answers NOTHING_CHANGED (exit 0) without reading,
    reporting, looking at the clock or sleeping."""
    outcome = wait_for(
        [], _never, timeout=900, poll_seconds=10, clock=_never, sleep=_never, report=_never
    )
    assert outcome == Outcome(Result.NOTHING_CHANGED, None, 0.0)
    assert outcome.result.exit_code is Exit.OK


@given(st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=120))
def test_completed_after_the_reading_that_shows_it(readings: int, poll: int) -> None:
    """Given the invalidation completes at the ``readings``-th reading, then the wait answers
    COMPLETED (exit 0) then, having slept ``poll`` between readings and reported each one."""
    time = FakeTime()
    read = Script([RUNNING] * (readings - 1) + [DONE])
    reports = Reports()
    outcome = run([target("/a.html")], read, time, poll=poll, report=reports)
    assert outcome.result is Result.COMPLETED
    assert outcome.result.exit_code is Exit.OK
    assert outcome.elapsed == (readings - 1) * poll
    assert time.sleeps == [poll] * (readings - 1)
    assert len(read.asked) == readings
    assert [p.covered_sources for p, _ in reports.seen] == [0] * (readings - 1) + [1]
    assert [elapsed for _, elapsed in reports.seen] == [n * poll for n in range(readings)]
    assert outcome.progress == Progress(1, 1, (), frozenset(), ())


def test_failed_when_a_reading_shows_a_failure() -> None:
    """Given the invalidation is in progress, then its tracker ends FAILED, then the wait
    answers FAILED (exit 1) at that reading, with the failure, and stops reading."""
    time = FakeTime()
    failed = snapshot(RUNNING.histories, ended={execution_name("E1", "I1"): "FAILED"})
    read = Script([RUNNING, failed, DONE])
    outcome = run([target("/a.html")], read, time, poll=10)
    assert outcome.result is Result.FAILED
    assert outcome.result.exit_code is Exit.FAILED
    assert outcome.elapsed == 10
    assert time.sleeps == [10]
    assert len(read.asked) == 2
    assert outcome.progress is not None
    assert [f.reason for f in outcome.progress.failures] == [
        "invalidation I1 is not complete and its tracker ended FAILED"
    ]


def test_a_dead_letter_fails_the_wait() -> None:
    """Given the change's record is dead-lettered and nothing covers it, then FAILED at once."""
    outcome = run([target("/a.html")], Script([snapshot(dead={"a.html": "bad"})]), FakeTime())
    assert outcome.result is Result.FAILED
    assert outcome.elapsed == 0


def test_timed_out_exactly_at_the_timeout_with_the_last_sleep_cut_short() -> None:
    """Given a 25 s timeout, 10 s between readings and an invalidation that never completes,
    then the wait sleeps 10, 10 and the 5 s left, reads a last time at exactly 25 s and
    answers TIMED_OUT (exit 3) with what is still pending and in progress."""
    time = FakeTime()
    read = Script([RUNNING])
    outcome = run([target("/a.html")], read, time, timeout=25, poll=10)
    assert time.sleeps == [10, 10, 5]
    assert outcome.result is Result.TIMED_OUT
    assert outcome.result.exit_code is Exit.TIMED_OUT
    assert outcome.elapsed == 25
    assert len(read.asked) == 4
    assert outcome.progress == Progress(1, 0, (target("/a.html"),), frozenset({("E1", "I1")}), ())


@given(st.integers(min_value=0, max_value=600), st.integers(min_value=1, max_value=120))
def test_sleeps_never_pass_the_timeout(timeout: int, poll: int) -> None:
    """Given any timeout and interval and a change that is never covered, then every sleep is
    at most the interval and the time left, they add up to exactly the timeout, and the wait
    answers TIMED_OUT at the reading made then."""
    time = FakeTime()
    read = Script([NOTHING_YET])
    outcome = run([target("/a.html")], read, time, timeout=timeout, poll=poll)
    assert outcome.result is Result.TIMED_OUT
    assert outcome.elapsed == timeout
    assert sum(time.sleeps) == timeout
    assert all(0 < s <= poll for s in time.sleeps)
    assert time.sleeps[:-1] == [poll] * (len(time.sleeps) - 1)
    assert len(read.asked) == len(time.sleeps) + 1
    assert len(time.sleeps) == -(-timeout // poll)  # ceiling: the last one cut short


def test_read_is_given_only_the_targets_still_pending() -> None:
    """Given two changes, the first covered at the first reading, then the second reading is
    asked about the second change only, and the first stays counted as covered though the
    second reading shows nothing of it."""
    first, second = target("/a.html"), target("/b.html")
    read = Script(
        [
            snapshot({"E1": [invalidation("I1", ["/a.html"])]}),
            snapshot({"E1": [invalidation("I2", ["/b.html"], status="InProgress")]}),
            snapshot({"E1": [invalidation("I2", ["/b.html"])]}),
        ]
    )
    reports = Reports()
    outcome = run([first, second], read, FakeTime(), report=reports)
    assert read.asked == [(first, second), (second,), (second,)]
    assert [(p.sources, p.covered_sources) for p, _ in reports.seen] == [(2, 1), (2, 1), (2, 2)]
    assert reports.seen[1][0].in_progress == {("E1", "I2")}
    assert outcome.result is Result.COMPLETED
