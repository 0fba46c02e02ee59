"""Planning one distribution's request: coverage, quota safety, deferral, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cfinvalidator.collapse import Budget, CollapsePolicy, count
from cfinvalidator.events import ParsedMessage, parse_message
from cfinvalidator.ledger import DistributionState, KnownInvalidation
from cfinvalidator.paths import PathRules, covers, decode_path, is_wildcard, scope_of
from cfinvalidator.planning import (
    Gathered,
    caller_reference,
    execution_name,
    gather,
    plan_distribution,
)
from tests.factories import BUCKET, s3_body, s3_record

D = "EDIST1AAAAAAA"
RULES = PathRules()
CHANGED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def message(message_id: str, *keys: str, bucket: str = BUCKET, seq: str = "01") -> ParsedMessage:
    records = [s3_record(k, bucket=bucket, sequencer=f"{seq}{i}") for i, k in enumerate(keys)]
    return parse_message(message_id, s3_body(*records))


def gathered(*messages: ParsedMessage, rules: PathRules = RULES) -> Gathered:
    return gather(messages, bucket_name=BUCKET, rules=rules)


def busy(files: int, wildcards: int, *, at: datetime = CHANGED) -> KnownInvalidation:
    """Someone else's in-progress invalidation occupying quota."""
    paths = tuple(f"/other/{i}" for i in range(files)) + tuple(f"/w{i}/*" for i in range(wildcards))
    return KnownInvalidation("IBUSY", at, "InProgress", paths, "someone-else")


def test_one_request_with_deduplicated_paths_serves_every_record() -> None:
    """Given two messages touching overlapping keys, then one request carries each path once."""
    g = gathered(message("m1", "docs/index.html", "a.css"), message("m2", "a.css", seq="02"))
    plan = plan_distribution(
        D, g.changes, DistributionState(), CollapsePolicy(), priority=["m1", "m2"]
    )
    assert plan.request is not None
    assert plan.request.paths == ("/a.css", "/docs", "/docs/", "/docs/index.html")
    assert plan.request.message_ids == {"m1", "m2"}
    assert plan.request.source_keys == ("a.css", "docs/index.html")
    assert plan.deferred == frozenset()


def test_paths_covered_by_a_later_invalidation_are_not_requested_again() -> None:
    """Given an invalidation of /* created after the change, then nothing is requested; one
    created before the change does not count."""
    g = gathered(message("m1", "a.css"))
    after = KnownInvalidation("I1", CHANGED + timedelta(seconds=1), "Completed", ("/*",))
    before = KnownInvalidation("I0", CHANGED - timedelta(seconds=1), "Completed", ("/*",))
    covered = plan_distribution(
        D, g.changes, DistributionState.of([after]), CollapsePolicy(), priority=["m1"]
    )
    assert covered.request is None
    assert covered.covered_paths == 1
    stale = plan_distribution(
        D, g.changes, DistributionState.of([before]), CollapsePolicy(), priority=["m1"]
    )
    assert stale.request is not None
    assert stale.request.paths == ("/a.css",)


def test_our_invalidation_covering_a_redelivery_is_reused_for_tracking() -> None:
    """Given a redelivered record covered by one of our invalidations, then it is reported as a
    reuse (so its tracker can be started) and nothing is requested."""
    g = gathered(message("m1", "a.css"))
    ours = KnownInvalidation(
        "I1", CHANGED + timedelta(seconds=5), "InProgress", ("/a.css",), "cfinv-x"
    )
    plan = plan_distribution(
        D,
        g.changes,
        DistributionState.of([ours]),
        CollapsePolicy(),
        priority=["m1"],
        redelivered=frozenset({"m1"}),
    )
    assert plan.request is None
    [reuse] = plan.reused
    assert reuse.invalidation.invalidation_id == "I1"
    assert reuse.message_ids == {"m1"}


def test_when_nothing_fits_the_oldest_deliveries_are_served_first() -> None:
    """Given room for one wildcard, two records each needing a different one, then the record
    listed first in priority is served and the other deferred."""
    g = gathered(message("m1", "a/x~1"), message("m2", "b/y~2", seq="02"))
    state = DistributionState.of([busy(3000, 14)])
    plan = plan_distribution(
        D, g.changes, state, CollapsePolicy(broadest_depth=1), priority=["m2", "m1"]
    )
    assert plan.request is not None
    assert plan.request.message_ids == {"m2"}
    assert plan.deferred == {"m1"}


def test_foreign_bucket_messages_are_rejected_and_out_of_scope_keys_reported() -> None:
    """Given an event from another bucket and a key outside the prefix, then the first is
    rejected with a reason and the second skipped."""
    g = gathered(
        message("m1", "site/a.html", bucket="other"),
        message("m2", "tmp/x", "site/b.html"),
        rules=PathRules(key_prefix="site/"),
    )
    assert "other" in g.rejected["m1"]
    assert g.out_of_scope_keys == ("tmp/x",)
    assert [c.paths for c in g.changes] == [("/site/b.html",)]


def test_scope_follows_key_prefix_and_origin_path() -> None:
    """Given KEY_PREFIX and ORIGIN_PATH, then the broadest wildcard stays inside what is served."""
    assert scope_of(PathRules()) == "/"
    assert scope_of(PathRules(key_prefix="site/")) == "/site/"
    assert scope_of(PathRules(key_prefix="site/blog/", origin_path="/site")) == "/blog/"
    assert scope_of(PathRules(key_prefix="si", origin_path="/site")) == "/"
    assert scope_of(PathRules(key_prefix="img-")) == "/img-"
    assert scope_of(PathRules(key_prefix="a b~c/")) == "/a%20b"


def test_caller_reference_is_order_independent_and_event_specific() -> None:
    """Given the same events in any order, then the reference is the same; a new event differs."""
    a = caller_reference("D", ["e1", "e2"], ["/a", "/b"])
    assert a == caller_reference("D", ["e2", "e1", "e1"], ["/b", "/a"])
    assert a != caller_reference("D", ["e1", "e3"], ["/a", "/b"])
    assert a != caller_reference("D", ["e1", "e2"], ["/a"])
    assert a != caller_reference("E", ["e1", "e2"], ["/a", "/b"])


def test_execution_names_are_deterministic_and_legal() -> None:
    """Given a distribution and invalidation ID, then the name is stable and uses legal chars."""
    assert execution_name("E2EXAMPLE12345", "I2J0I21PCUYOIK") == "E2EXAMPLE12345-I2J0I21PCUYOIK"
    assert execution_name("E:1", "x" * 100) == ("E_1-" + "x" * 100)[:80]


# ------------------------------------------------------------------------------- properties
KEY = st.text(alphabet="ab/ +%~*?#é", min_size=1, max_size=10) | st.just("x" * 1024)
BATCHES = st.lists(st.lists(KEY, min_size=1, max_size=4), min_size=1, max_size=25)
POLICIES = st.builds(
    CollapsePolicy,
    threshold=st.sampled_from([0, 2, 4, 10]),
    broadest_depth=st.integers(0, 2),
)
LATER = KnownInvalidation("IC", CHANGED + timedelta(seconds=2), "Completed", ("/a*",))
STATES = st.builds(
    lambda files, wildcards, covered: [busy(files, wildcards)] + ([LATER] if covered else []),
    st.sampled_from([0, 2990, 2999, 3000]),
    st.integers(0, 15),
    st.booleans(),
)


def covered_by(path: str, chosen: tuple[str, ...], earlier: list[KnownInvalidation]) -> bool:
    """Independent of the ledger: an exact path equal, or a wildcard whose prefix starts it,
    among the request's paths or those of an invalidation created after the change."""
    later = [p for inv in earlier if inv.create_time > CHANGED for p in inv.paths]
    probe = path[:-1] if is_wildcard(path) else path
    for candidate in (*chosen, *later):
        if is_wildcard(candidate) and probe.startswith(candidate[:-1]):
            return True
        if (
            not is_wildcard(candidate)
            and not is_wildcard(path)
            and covers(candidate, decode_path(path))
        ):
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(batch=BATCHES, policy=POLICIES, known=STATES)
def test_every_key_is_covered_or_its_record_deferred_and_no_plan_exceeds_the_free_quota(
    batch: list[list[str]], policy: CollapsePolicy, known: list[KnownInvalidation]
) -> None:
    """Given any keys, knobs and quota already in use, then every event of a record that is not
    deferred has each path covered by the request (or an invalidation created after it), and
    the request never needs more file or wildcard paths than are free."""
    messages = [message(f"m{i}", *keys, seq=f"{i:02d}") for i, keys in enumerate(batch)]
    g = gathered(*messages)
    priority = [m.message_id for m in messages]
    state = DistributionState.of(known)
    plan = plan_distribution(D, g.changes, state, policy, priority=priority)
    chosen = plan.request.paths if plan.request else ()
    for change in g.changes:
        assert change.event.event_time == CHANGED
        if change.event.message_id in plan.deferred:
            continue
        for path in change.paths:
            assert covered_by(path, chosen, known), (path, chosen)
    assert state.budget.admits(*count(chosen))
    if plan.request:
        assert plan.request.message_ids.isdisjoint(plan.deferred)


@settings(max_examples=100, deadline=None)
@given(batch=BATCHES, policy=POLICIES)
def test_a_plan_is_idempotent_once_its_request_exists(
    batch: list[list[str]], policy: CollapsePolicy
) -> None:
    """Given a plan whose request CloudFront accepted, when any subset of its records is planned
    again, then nothing new is requested."""
    messages = [message(f"m{i}", *keys, seq=f"{i:02d}") for i, keys in enumerate(batch)]
    g = gathered(*messages)
    priority = [m.message_id for m in messages]
    first = plan_distribution(D, g.changes, DistributionState(), policy, priority=priority)
    assert first.request is not None
    accepted = KnownInvalidation(
        "I1",
        CHANGED + timedelta(seconds=3),
        "InProgress",
        first.request.paths,
        first.request.caller_reference,
    )
    state = DistributionState.of([accepted])
    for subset in (priority[::2], priority[1::2], priority[::-1]):
        changes = [c for c in g.changes if c.event.message_id in subset]
        again = plan_distribution(D, changes, state, policy, priority=subset)
        assert again.request is None
        assert again.deferred == frozenset()


def test_budget_is_what_in_progress_invalidations_leave() -> None:
    """Given 2,990 files and 14 wildcards in progress, then 10 and 1 are free; completed ones
    hold nothing."""
    state = DistributionState.of(
        [busy(2990, 14), KnownInvalidation("I2", CHANGED, "Completed", ("/x", "/y/*"))]
    )
    assert state.budget == Budget(files=10, wildcards=1)
    assert DistributionState.of([], unread_in_progress=50).budget == Budget(files=2950)


def test_a_full_wildcard_quota_makes_fresh_records_wait_and_waited_ones_use_file_paths() -> None:
    """Given 20 changed files in one directory (normally `/img/*`) and no wildcard free, then
    fresh records wait for wildcard quota (20 paths would cost 19 more than the wildcard), while
    records already deferred twice are served with file paths, as many as the free files allow."""
    keys = [f"img/photo-{i:02d}.jpg" for i in range(20)]
    g = gathered(*(message(f"m{i:02d}", k, seq=f"{i:02d}") for i, k in enumerate(keys)))
    ids = [f"m{i:02d}" for i in range(20)]
    no_wildcard = DistributionState.of([busy(0, 15)])
    fresh = plan_distribution(D, g.changes, no_wildcard, CollapsePolicy(), priority=ids)
    assert fresh.request is None
    assert fresh.deferred == set(ids)
    waited = plan_distribution(
        D, g.changes, no_wildcard, CollapsePolicy(), priority=ids, impatient=frozenset(ids)
    )
    assert waited.request is not None
    assert len(waited.request.paths) == 20
    assert waited.deferred == frozenset()
    tight = plan_distribution(
        D,
        g.changes,
        DistributionState.of([busy(2990, 15)]),
        CollapsePolicy(),
        priority=ids,
        impatient=frozenset(ids[5:]),
    )
    assert tight.request is not None
    assert tight.request.message_ids == set(ids[5:15])
    assert tight.deferred == set(ids[:5]) | set(ids[15:])


def test_an_invalidation_created_within_a_second_of_the_change_does_not_count() -> None:
    """Given invalidations of /* created 0.5 s and 1 s after the change, then only the second
    covers it: a margin for the two AWS clocks, so skew cannot leave a key uncovered."""
    near = KnownInvalidation("I1", CHANGED + timedelta(milliseconds=500), "Completed", ("/*",))
    later = KnownInvalidation("I2", CHANGED + timedelta(seconds=1), "Completed", ("/*",))
    assert DistributionState.of([near]).covering("/a.css", CHANGED) is None
    assert DistributionState.of([near, later]).covering("/a.css", CHANGED) == later
