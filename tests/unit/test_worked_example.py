"""README "The planner" worked example, computed: the table there is these results."""

from __future__ import annotations

import bisect

import pytest

from cfinvalidator.collapse import MANY, Budget, CollapsePolicy, Knowledge, select_paths
from cfinvalidator.paths import PathRules, decode_path, paths_for_key

RULES = PathRules()
IMAGES = [f"assets/img/2026/photo-{n:04d}.jpg" for n in range(1000)]
STYLES = [f"assets/css/s{n:02d}.css" for n in range(40)]
PAGES = [f"docs/page-{n:03d}.html" for n in range(200)]
MEDIA = [f"media/clip-{n:05d}.mp4" for n in range(18_000)]
BUCKET = sorted(["index.html", "about/index.html", *IMAGES, *STYLES, *PAGES, *MEDIA])
CHANGED = ["index.html", "about/index.html", *IMAGES[:240], *STYLES[:12], *PAGES[:3]]
NEEDED = {p for key in CHANGED for p in paths_for_key(key, RULES)}


UNCHANGED = sorted(set(BUCKET) - set(CHANGED))


def objects_under(directory: str) -> int:
    """As the batcher counts: unchanged objects of the listing; a listing of 10,000 keys or
    more is too many to count."""
    prefix = decode_path(directory[1:])
    start = bisect.bisect_left(BUCKET, prefix)
    if bisect.bisect_left(BUCKET, prefix + "\U0010ffff", lo=start) - start >= 10_000:
        return MANY
    start = bisect.bisect_left(UNCHANGED, prefix)
    return bisect.bisect_left(UNCHANGED, prefix + "\U0010ffff", lo=start) - start


def request(
    *, paths_left: int | None, counted: bool = True, per_path: int = 100
) -> tuple[str, ...]:
    knowledge = Knowledge(
        objects_under=objects_under if counted else None,
        paths_left=paths_left,
    )
    policy = CollapsePolicy(unchanged_per_path=per_path)
    return select_paths(NEEDED, policy, Budget(), knowledge).paths


def test_the_example_has_257_keys_and_260_paths() -> None:
    assert (len(CHANGED), len(NEEDED), len(BUCKET)) == (257, 260, 19_242)


def test_inside_the_budget_only_about_becomes_a_wildcard() -> None:
    """900 paths left: exact paths, but /about/* (its directory holds only the changed
    index document) saves a path and invalidates nothing else."""
    paths = request(paths_left=900)
    assert len(paths) == 259
    assert [p for p in paths if p.endswith("*")] == ["/about/*"]


def test_beyond_the_budget_the_default_allowance_gives_six_paths() -> None:
    """100 paths left, less than 260: /assets/* (788 unchanged objects for 251 saved paths),
    /docs/* (197 for 2), /about/*; never /* (more than 10,000 objects under it)."""
    assert request(paths_left=100) == (
        "/", "/about", "/about/*", "/assets/*", "/docs/*", "/index.html"
    )  # fmt: skip


def test_a_stricter_allowance_keeps_the_three_pages_exact() -> None:
    assert request(paths_left=100, per_path=10) == (
        "/", "/about", "/about/*", "/assets/*",
        "/docs/page-000.html", "/docs/page-001.html", "/docs/page-002.html", "/index.html",
    )  # fmt: skip


@pytest.mark.parametrize(("paths_left", "expected"), [(None, 1), (900, 260)])
def test_without_counts_the_threshold_rule_or_exact_paths(
    paths_left: int | None, expected: int
) -> None:
    """CountBucketObjects false: beyond the budget, CollapseThreshold climbs to /*; inside it,
    all 260 exact paths."""
    paths = request(paths_left=paths_left, counted=False)
    assert len(paths) == expected
    if expected == 1:
        assert paths == ("/*",)


def unchanged(paths: tuple[str, ...]) -> int:
    """Objects of the bucket that did not change and that a path of the request covers."""
    prefixes = [decode_path(p[1:-1]) for p in paths if p.endswith("*")]
    still = set(BUCKET) - set(CHANGED)
    return sum(1 for key in still if any(key.startswith(prefix) for prefix in prefixes))


@pytest.mark.parametrize(
    ("situation", "expected"),
    [
        ({"paths_left": 900}, 0),
        ({"paths_left": 100}, 985),
        ({"paths_left": 100, "per_path": 10}, 788),
        ({"paths_left": None, "counted": False}, 18_985),
        ({"paths_left": 900, "counted": False}, 0),
    ],
)
def test_the_unchanged_objects_each_row_invalidates(
    situation: dict[str, int | None], expected: int
) -> None:
    assert unchanged(request(**situation)) == expected  # type: ignore[arg-type]
