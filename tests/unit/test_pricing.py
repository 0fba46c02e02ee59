"""Pricing wildcards with what the planner knows: the bucket's objects and the month's budget."""

from __future__ import annotations

import bisect
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from cfinvalidator.collapse import (
    MANY,
    Budget,
    CollapsePolicy,
    Knowledge,
    Pricing,
    candidates,
    select_paths,
)
from cfinvalidator.paths import PathRules, decode_path, is_wildcard, paths_for_key

# Keys CloudFront can name exactly (no ``~``, no final ``*``): every wildcard is then a choice.
SEGMENT = st.sampled_from(["a", "b", "img", "x y", "é", "2026"])
FILE = st.sampled_from(["index.html", "a.css", "b.js", "logo.png"])
KEY = st.tuples(st.lists(SEGMENT, max_size=3), FILE).map(lambda t: "/".join([*t[0], t[1]]))
AMPLE = Budget(files=3000, wildcards=3000)  # no quota pressure: only the cost pass collapses
RULES = PathRules()


def bucket_counter(keys: set[str], changed: set[str] | None = None) -> Callable[[str], int]:
    """Unchanged objects under a viewer directory, as the batcher counts them from a listing."""
    ordered = sorted(keys - (changed or set()))

    def objects_under(directory: str) -> int:
        prefix = decode_path(directory[1:])
        start = bisect.bisect_left(ordered, prefix)
        return bisect.bisect_left(ordered, prefix + "\U0010ffff", lo=start) - start

    return objects_under


def unchanged_under(wildcard: str, bucket: set[str], changed: set[str]) -> int:
    prefix = decode_path(wildcard[1:-1])
    return sum(1 for key in bucket - changed if key.startswith(prefix))


def plan(
    changed: set[str],
    bucket: set[str],
    *,
    paths_left: int | None = None,
    policy: CollapsePolicy | None = None,
    budget: Budget = AMPLE,
    flushed: tuple[str, ...] = (),
    known: bool = True,
) -> tuple[set[str], dict[str, str], Pricing]:
    needed = {p for k in changed for p in paths_for_key(k, RULES)}
    knowledge = Knowledge(
        objects_under=bucket_counter(bucket, changed) if known else None,
        paths_left=paths_left,
        flushed=flushed,
    )
    selection = select_paths(needed, policy or CollapsePolicy(), budget, knowledge)
    return needed, dict(selection.cover), selection.pricing


@settings(max_examples=300, deadline=None)
@given(
    changed=st.sets(KEY, min_size=1, max_size=40),
    others=st.sets(KEY, max_size=40),
    per_path=st.sampled_from([0, 1, 3, 100]),
    depth=st.integers(0, 2),
)
def test_a_wildcard_chosen_for_cost_stays_within_the_allowance(
    changed: set[str], others: set[str], per_path: int, depth: int
) -> None:
    """Given any changed keys in a bucket holding others, beyond the budget, then every path is
    covered, no more paths are billed than exact ones, and each wildcard invalidates at most
    ``per_path`` unchanged objects for each billed path it saves."""
    bucket = changed | others
    policy = CollapsePolicy(broadest_depth=depth, unchanged_per_path=per_path)
    needed, cover, pricing = plan(changed, bucket, paths_left=0, policy=policy)
    assert pricing is Pricing.PAID
    assert set(cover) == needed
    chosen = set(cover.values())
    assert len(chosen) <= len(needed)
    for wildcard in chosen - needed:
        assert is_wildcard(wildcard)
        saved = sum(1 for c in cover.values() if c == wildcard) - 1
        assert unchanged_under(wildcard, bucket, changed) <= per_path * saved, wildcard
        for path in (p for p, c in cover.items() if c == wildcard):
            assert decode_path(path).startswith(decode_path(wildcard[:-1]))


@settings(max_examples=300, deadline=None)
@given(changed=st.sets(KEY, min_size=1, max_size=40), others=st.sets(KEY, max_size=40))
def test_inside_the_budget_no_wildcard_invalidates_an_unchanged_object(
    changed: set[str], others: set[str]
) -> None:
    """Given a budget that holds the request, then exact paths are kept except where a wildcard
    invalidates nothing unchanged (where it saves paths, and so budget)."""
    bucket = changed | others
    needed, cover, pricing = plan(changed, bucket, paths_left=10_000)
    assert pricing is Pricing.FREE
    assert set(cover) == needed
    for wildcard in set(cover.values()) - needed:
        assert unchanged_under(wildcard, bucket, changed) == 0, wildcard


def test_a_post_alone_in_its_directory_is_one_wildcard_inside_the_budget() -> None:
    """Given a blog post whose directory holds nothing else, then its index paths become
    ``/blog/p/*`` (it invalidates nothing else) and ``/blog/p`` stays exact."""
    bucket = {"blog/p/index.html", "blog/q/index.html", "about.html"}
    _, cover, _ = plan({"blog/p/index.html"}, bucket, paths_left=1000)
    assert set(cover.values()) == {"/blog/p/*", "/blog/p"}


def test_inside_the_budget_a_busy_directory_keeps_exact_paths() -> None:
    """Given 10 changed photos in a gallery of 400, inside the budget, then 10 exact paths."""
    bucket = {f"img/p{n:03d}.jpg" for n in range(400)}
    changed = {f"img/p{n:03d}.jpg" for n in range(10)}
    _, cover, pricing = plan(changed, bucket, paths_left=1000)
    assert pricing is Pricing.FREE
    assert set(cover.values()) == {f"/img/p{n:03d}.jpg" for n in range(10)}


def test_beyond_the_budget_the_allowance_decides() -> None:
    """Given the same gallery beyond the budget, then ``/img/*`` (390 unchanged objects for 9
    saved paths) is chosen with an allowance of 100 a path, and not with one of 10."""
    bucket = {f"img/p{n:03d}.jpg" for n in range(400)}
    changed = {f"img/p{n:03d}.jpg" for n in range(10)}
    _, cover, _ = plan(changed, bucket, paths_left=0)
    assert set(cover.values()) == {"/img/*"}
    strict = CollapsePolicy(unchanged_per_path=10)
    _, cover, _ = plan(changed, bucket, paths_left=0, policy=strict)
    assert len(set(cover.values())) == 10


def test_a_request_that_would_overspend_the_budget_is_priced_as_paid() -> None:
    """Given 10 exact paths and 5 paths left this month, then the allowance applies."""
    bucket = {f"img/p{n:03d}.jpg" for n in range(400)}
    changed = {f"img/p{n:03d}.jpg" for n in range(10)}
    _, cover, pricing = plan(changed, bucket, paths_left=5)
    assert pricing is Pricing.PAID
    assert set(cover.values()) == {"/img/*"}


def test_a_directory_with_too_many_objects_to_count_is_never_collapsed_for_cost() -> None:
    """Given a directory whose objects could not all be counted, then no wildcard on it for
    cost, whatever the threshold; the quota may still force one."""
    changed = {f"big/f{n}.html" for n in range(50)}
    needed = {p for k in changed for p in paths_for_key(k, RULES)}
    knowledge = Knowledge(objects_under=lambda _: MANY, paths_left=0)
    assert set(select_paths(needed, CollapsePolicy(), AMPLE, knowledge).paths) == needed
    tight = select_paths(needed, CollapsePolicy(), Budget(files=10, wildcards=15), knowledge)
    assert tight.paths == ("/big/*",)


def test_unknown_counts_follow_the_threshold_beyond_the_budget_and_exact_inside() -> None:
    """Given no counts, then beyond the budget the threshold rule collapses 12 changes into a
    wildcard; inside it they stay exact."""
    changed = {f"d/f{n}.css" for n in range(12)}
    _, cover, _ = plan(changed, set(), paths_left=None, known=False)
    assert set(cover.values()) == {"/d/*"}
    _, cover, pricing = plan(changed, set(), paths_left=1000, known=False)
    assert pricing is Pricing.FREE
    assert len(set(cover.values())) == 12


def test_a_directory_under_a_wildcard_in_progress_costs_the_cache_nothing() -> None:
    """Given ``/import/*`` still in progress and counts that say the directory is full of
    unchanged objects, then a new ``/import/*`` is chosen even inside the budget: the cache lost
    those objects seconds ago."""
    changed = {f"import/b{n % 50:02d}/i{n}.json" for n in range(400)}
    needed = {p for k in changed for p in paths_for_key(k, RULES)}
    knowledge = Knowledge(objects_under=lambda _: 5_000, paths_left=1000, flushed=("/import/",))
    selection = select_paths(needed, CollapsePolicy(broadest_depth=1), AMPLE, knowledge)
    assert selection.paths == ("/import/*",)


def test_explain_lists_each_directory_weighed() -> None:
    """Given ``explain``, then each directory the cost pass weighed is listed with its paths,
    the unchanged objects it would invalidate and whether it was chosen."""
    bucket = {f"img/p{n:03d}.jpg" for n in range(400)} | {"blog/p/index.html"}
    changed = {f"img/p{n:03d}.jpg" for n in range(10)} | {"blog/p/index.html"}
    needed = {p for k in changed for p in paths_for_key(k, RULES)}
    knowledge = Knowledge(
        objects_under=bucket_counter(bucket, changed),
        paths_left=1000,
    )
    weighed = {
        w.directory: w
        for w in candidates(needed, CollapsePolicy(), AMPLE, knowledge, explain=True)[0].weighed
    }
    assert weighed["/img/"].paths == 10
    assert weighed["/img/"].unchanged == 390
    assert not weighed["/img/"].chosen
    assert weighed["/blog/p/"].chosen
    assert weighed["/blog/p/"].unchanged == 0


def test_paths_requested_on_demand_are_never_merged_for_cost() -> None:
    """Given /index.html and /css/* asked for on demand in an empty bucket (where /* would
    invalidate nothing), then they are requested as written."""
    needed = {"/index.html", "/css/*"}
    knowledge = Knowledge(
        objects_under=lambda _: 0, paths_left=1000, requested=("/index.html", "/css/*")
    )
    assert set(select_paths(needed, CollapsePolicy(), AMPLE, knowledge).paths) == needed


def test_a_directory_another_origin_answers_in_is_never_collapsed_for_cost() -> None:
    """Given /api/ answered by another origin, then no /* for cost (it would drop the API's
    cache, which the bucket count cannot see), while /img/* may still be chosen."""
    changed = {f"img/p{n}.jpg" for n in range(20)} | {f"f{n}.html" for n in range(20)}
    needed = {p for k in changed for p in paths_for_key(k, RULES)}
    knowledge = Knowledge(
        objects_under=bucket_counter(changed, changed),
        paths_left=0,
        foreign=("/api/",),
    )
    paths = set(select_paths(needed, CollapsePolicy(), AMPLE, knowledge).paths)
    assert "/img/*" in paths
    assert "/*" not in paths
    assert len(paths) == 21
