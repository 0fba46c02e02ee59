"""Choosing request paths: collapsing for cost, then for quota, never broader than allowed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cfinvalidator.collapse import Budget, CollapsePolicy, count, depth, select_paths
from cfinvalidator.paths import PathRules, is_wildcard, paths_for_key

SEGMENT = st.sampled_from(["a", "b", "img", "css", "x y", "~t", "é", "2026"])
FILE = st.sampled_from(["index.html", "a.css", "b.js", "logo.png", "c~d.txt", "e*"])


@st.composite
def key_sets(draw: st.DrawFn) -> list[str]:
    return draw(
        st.lists(
            st.tuples(st.lists(SEGMENT, max_size=4), FILE).map(lambda t: "/".join([*t[0], t[1]])),
            min_size=1,
            max_size=60,
        )
    )


def needed_paths(keys: list[str]) -> set[str]:
    return {p for k in keys for p in paths_for_key(k, PathRules())}


def covered(chosen: str, needed: str) -> bool:
    if is_wildcard(chosen):
        probe = needed[:-1] if is_wildcard(needed) else needed
        return probe.startswith(chosen[:-1])
    return chosen == needed


POLICIES = st.builds(
    CollapsePolicy,
    threshold=st.sampled_from([0, 2, 3, 5, 10, 40]),
    broadest_depth=st.integers(0, 3),
    scope=st.sampled_from(["/", "/a/", "/img"]),
)
BUDGETS = st.builds(Budget, files=st.integers(0, 80), wildcards=st.integers(0, 15))


@settings(max_examples=300, deadline=None)
@given(keys=key_sets(), policy=POLICIES, budget=BUDGETS)
def test_every_needed_path_is_covered_and_a_fitting_plan_fits(
    keys: list[str], policy: CollapsePolicy, budget: Budget
) -> None:
    """Given any keys, knobs and free quota, then every needed path maps to a chosen path that
    covers it, no collapsed wildcard is broader than allowed, collapsing never costs more paths,
    and a selection that says it fits uses no more than the free quota."""
    needed = needed_paths(keys)
    selection = select_paths(needed, policy, budget)
    assert set(selection.cover) == needed
    for path, chosen in selection.cover.items():
        assert covered(chosen, path), (path, chosen)
    for chosen in selection.paths:
        if chosen not in needed:  # a wildcard made by collapsing
            assert is_wildcard(chosen)
            assert chosen.startswith(policy.scope) or chosen[:-1] == policy.scope
            assert depth(chosen[:-1]) >= policy.broadest_depth
    assert len(selection.paths) <= len(needed)
    if selection.fits:
        assert budget.admits(*count(selection.paths))


@given(keys=key_sets(), threshold=st.sampled_from([0, 2, 10]))
def test_with_the_whole_quota_free_and_slash_star_allowed_everything_fits(
    keys: list[str], threshold: int
) -> None:
    """Given the whole quota free and `/*` allowed, then any batch fits in one request."""
    assert select_paths(needed_paths(keys), CollapsePolicy(threshold=threshold), Budget()).fits


def test_one_request_never_carries_more_than_3000_paths() -> None:
    """Given 3,000 changed files in 3,000 directories plus 15 keys that force wildcards, with
    collapsing off, then the request still holds at most 3,000 paths, wildcards included."""
    needed = {f"/d{i:04d}/f.html" for i in range(3000)} | {f"/w{i:02d}/a*" for i in range(15)}
    selection = select_paths(needed, CollapsePolicy(threshold=0), Budget())
    assert selection.fits
    assert len(selection.paths) <= 3000


@given(key=st.tuples(st.lists(SEGMENT, max_size=5), FILE).map(lambda t: "/".join([*t[0], t[1]])))
def test_a_single_changed_file_keeps_exactly_its_own_paths(key: str) -> None:
    """Given one changed key and the default knobs, then the request is exactly its paths."""
    needed = set(paths_for_key(key, PathRules()))
    assert set(select_paths(needed, CollapsePolicy(), Budget()).paths) == needed


def test_a_directory_at_the_threshold_becomes_one_wildcard() -> None:
    """Given 10 changed files in one directory and 9 in another, then the first is collapsed
    and the second is not (default threshold 10), and the root stays below the threshold."""
    needed = {f"/a/{i}.css" for i in range(10)} | {f"/b/{i}.css" for i in range(8)}
    selection = select_paths(needed, CollapsePolicy(threshold=10), Budget())
    assert selection.paths == ("/a/*", *sorted(f"/b/{i}.css" for i in range(8)))


def test_a_site_deploy_climbs_until_a_handful_of_paths_remain() -> None:
    """Given 10,000 files over 4 top-level directories, then each becomes one wildcard (4 paths
    stay below the threshold at the root); over 12 directories the root collapses to `/*`
    unless BroadestWildcardDepth is 1; a scope keeps wildcards under KEY_PREFIX."""
    four = {f"/d{d}/s{s}/f{f}.html" for d in range(4) for s in range(10) for f in range(250)}
    assert select_paths(four, CollapsePolicy(), Budget()).paths == tuple(
        f"/d{d}/*" for d in range(4)
    )
    twelve = {f"/d{d:02d}/s{s}/f{f}.html" for d in range(12) for s in range(4) for f in range(200)}
    assert select_paths(twelve, CollapsePolicy(), Budget()).paths == ("/*",)
    assert select_paths(twelve, CollapsePolicy(broadest_depth=1), Budget()).paths == tuple(
        f"/d{d:02d}/*" for d in range(12)
    )
    scoped = select_paths(twelve, CollapsePolicy(scope="/d00/"), Budget()).paths
    assert scoped[0] == "/d00/*"
    assert "/*" not in scoped


def test_no_collapsing_when_the_threshold_is_zero_unless_the_quota_forces_it() -> None:
    """Given threshold 0, then 100 files stay files; with only 50 file paths free, the
    directory is collapsed anyway to fit."""
    needed = {f"/a/{i}.css" for i in range(100)}
    assert len(select_paths(needed, CollapsePolicy(threshold=0), Budget()).paths) == 100
    tight = select_paths(needed, CollapsePolicy(threshold=0), Budget(files=50, wildcards=15))
    assert tight.paths == ("/a/*",)
    assert tight.fits


def test_quota_collapse_goes_deepest_first() -> None:
    """Given room for 5 files, then the two subdirectories are collapsed, not `/*`."""
    needed = {f"/a/x/{i}.css" for i in range(6)} | {f"/a/y/{i}.css" for i in range(6)} | {"/b.css"}
    selection = select_paths(needed, CollapsePolicy(threshold=0), Budget(files=5, wildcards=15))
    assert selection.paths == ("/a/x/*", "/a/y/*", "/b.css")


def test_too_many_wildcards_are_merged_upwards() -> None:
    """Given 20 forced wildcards in 20 directories under /a/ and 15 free, then they merge."""
    needed = {f"/a/d{i}/x~y" for i in range(20)}
    forced = {p for k in needed for p in paths_for_key(k.lstrip("/"), PathRules())}
    selection = select_paths(forced, CollapsePolicy(threshold=0), Budget(files=0, wildcards=15))
    assert selection.fits
    assert count(selection.paths)[1] <= 15


def test_nothing_fits_when_no_quota_is_free() -> None:
    """Given no free wildcard and no free file path, then the selection does not fit."""
    assert not select_paths({"/a.css"}, CollapsePolicy(), Budget(files=0, wildcards=0)).fits


def test_wildcards_the_keys_force_absorb_the_paths_they_cover() -> None:
    """Given /a/fo* (from a key with ~) and /a/foo.html, then only the wildcard is requested."""
    selection = select_paths({"/a/fo*", "/a/foo.html", "/b"}, CollapsePolicy(), Budget())
    assert selection.paths == ("/a/fo*", "/b")


def test_deep_keys_do_not_exhaust_the_stack() -> None:
    """Given a key with 1,000 directory levels, then planning still works."""
    path = "/" + "d/" * 1000 + "x"
    assert select_paths({path}, CollapsePolicy(), Budget()).paths == (path,)
