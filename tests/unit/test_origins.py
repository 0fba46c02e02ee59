"""Origins discovered from distribution configurations: which paths each distribution serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfinvalidator.errors import CloudFrontError
from cfinvalidator.origins import (
    KeyMapping,
    OriginDirectory,
    bucket_of,
    fixed_mapping,
    mapping_for,
)
from cfinvalidator.paths import PathRules, paths_for_key
from cfinvalidator.ports import Behaviour, DistributionLayout, Origin

BUCKET = "my.site-bucket"
BASE = PathRules(index_document="index.html")


def layout(
    *origins: Origin,
    default: str = "main",
    behaviours: tuple[Behaviour, ...] = (),
    groups: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> DistributionLayout:
    return DistributionLayout("EDIST1AAAAAAA", origins, default, behaviours, groups)


def bucket_and_app(*behaviours: Behaviour, default: str = "main") -> KeyMapping:
    """The mapping of a distribution with the bucket ("main") and an application origin
    ("other"), routed by these behaviours."""
    origins = (Origin("main", f"{BUCKET}.s3.amazonaws.com"), Origin("other", "app.example.com"))
    return mapping_for(layout(*origins, default=default, behaviours=behaviours), BUCKET, BASE)


@pytest.mark.parametrize(
    "domain",
    [
        f"{BUCKET}.s3.amazonaws.com",
        f"{BUCKET}.s3.eu-west-1.amazonaws.com",
        f"{BUCKET}.s3-eu-west-1.amazonaws.com",
        f"{BUCKET}.s3.dualstack.eu-west-1.amazonaws.com",
        f"{BUCKET}.s3-website-us-east-1.amazonaws.com",
        f"{BUCKET}.s3-website.eu-central-1.amazonaws.com",
        f"{BUCKET}.s3.cn-north-1.amazonaws.com.cn",
        f"{BUCKET.upper()}.S3.AMAZONAWS.COM",
    ],
)
def test_every_s3_endpoint_names_its_bucket(domain: str) -> None:
    """Given the global, regional, dual-stack and website endpoints, then each names the bucket."""
    assert bucket_of(domain) == BUCKET


@pytest.mark.parametrize(
    "domain",
    ["www.example.com", "my.site-bucket.example.com", "s3.amazonaws.com", "x.cloudfront.net"],
)
def test_other_origins_name_no_bucket(domain: str) -> None:
    """Given a custom origin, then it names no bucket."""
    assert bucket_of(domain) is None


def test_each_origin_maps_through_its_own_origin_path() -> None:
    """Given two origins of the bucket with different origin paths, and /blog/* routed to the
    second, then a key is mapped through each and kept where the behaviour routes it."""
    mapping = mapping_for(
        layout(
            Origin("main", f"{BUCKET}.s3.amazonaws.com", "/site"),
            Origin("blog", f"{BUCKET}.s3.us-east-1.amazonaws.com", "/blog-src"),
            behaviours=(Behaviour("/blog/*", "blog"),),
        ),
        BUCKET,
        BASE,
    )
    assert mapping.paths_for("site/about.html") == ("/about.html",)
    # Through the blog origin: viewer path /blog/post.html reads blog-src/blog/post.html.
    assert mapping.paths_for("blog-src/blog/post.html") == ("/blog/post.html",)
    # Under the blog origin path but not routed there (/notes.html goes to the main origin).
    assert mapping.paths_for("blog-src/notes.html") == ()
    # Under the main origin path, but /blog/* is answered by the blog origin.
    assert mapping.paths_for("site/blog/post.html") == ()
    # Index document: /blog/ and /blog/index.html go to the blog origin, /blog does not.
    assert mapping.paths_for("blog-src/blog/index.html") == ("/blog/index.html", "/blog/")
    assert mapping.paths_for("site/blog/index.html") == ("/blog",)
    assert mapping.scope == "/"


def test_behaviour_to_another_origin_removes_its_paths() -> None:
    """Given a root origin and /blog/* on a second (non-S3) origin, then keys under blog/ are
    not invalidated on this distribution, and others are."""
    mapping = mapping_for(
        layout(
            Origin("main", f"{BUCKET}.s3.amazonaws.com"),
            Origin("wordpress", "blog.example.com"),
            behaviours=(Behaviour("blog/*", "wordpress"),),  # leading / optional
        ),
        BUCKET,
        BASE,
    )
    assert [r.origin_id for r in mapping.routes] == ["main"]
    assert mapping.paths_for("blog/post.html") == ()
    assert mapping.paths_for("blogs/post.html") == ("/blogs/post.html",)
    assert mapping.paths_for("img/a b.png") == ("/img/a%20b.png",)


def test_patterns_follow_cloudfront_wildcards() -> None:
    """Given * (any characters, / included) and ? (exactly one), then paths route as
    CloudFront routes them, and the first matching behaviour wins."""
    mapping = bucket_and_app(
        Behaviour("/keep/*.html", "main"),
        Behaviour("/keep/*", "other"),
        Behaviour("/v?/*", "other"),
        Behaviour("*.php", "other"),
    )
    assert mapping.paths_for("keep/deep/a.html") == ("/keep/deep/a.html",)
    assert mapping.paths_for("keep/a.css") == ()
    assert mapping.paths_for("v1/a.js") == ()
    assert mapping.paths_for("v10/a.js") == ("/v10/a.js",)
    assert mapping.paths_for("x/index.php") == ()
    assert mapping.paths_for("x/index.PHP") == ("/x/index.PHP",)  # case-sensitive


def test_origin_groups_reach_their_members() -> None:
    """Given a default behaviour targeting a failover group whose primary reads the bucket,
    then keys map through that member."""
    mapping = mapping_for(
        layout(
            Origin("primary", f"{BUCKET}.s3.amazonaws.com", "/live"),
            Origin("secondary", "backup-bucket.s3.amazonaws.com", "/live"),
            default="failover",
            groups=(("failover", ("primary", "secondary")),),
        ),
        BUCKET,
        BASE,
    )
    assert mapping.paths_for("live/a.html") == ("/a.html",)


def test_a_distribution_that_no_longer_reads_the_bucket_serves_nothing() -> None:
    """Given origins of other buckets, or an origin of ours that no behaviour reaches, then the
    mapping serves nothing (the service warns instead of invalidating blindly)."""
    elsewhere = mapping_for(layout(Origin("main", "other.s3.amazonaws.com")), BUCKET, BASE)
    unreachable = mapping_for(
        layout(
            Origin("main", "other.s3.amazonaws.com"), Origin("old", f"{BUCKET}.s3.amazonaws.com")
        ),
        BUCKET,
        BASE,
    )
    assert not elsewhere.serves_anything
    assert not unreachable.serves_anything
    assert elsewhere.paths_for("a.html") == ()


def test_key_prefix_and_scope_follow_each_origin() -> None:
    """Given KEY_PREFIX site/blog/ and origins at /site and at the root, then the scope is
    their common directory and keys outside the prefix map to nothing."""
    base = PathRules(key_prefix="site/blog/", index_document="index.html")
    mapping = mapping_for(
        layout(
            Origin("main", f"{BUCKET}.s3.amazonaws.com", "/site"),
            Origin("raw", f"{BUCKET}.s3.amazonaws.com"),
            behaviours=(Behaviour("/site/*", "raw"),),
        ),
        BUCKET,
        base,
    )
    assert mapping.paths_for("site/blog/a.html") == ("/blog/a.html", "/site/blog/a.html")
    assert mapping.paths_for("site/a.html") == ()
    assert mapping.scope == "/"
    single = mapping_for(
        layout(Origin("main", f"{BUCKET}.s3.amazonaws.com", "/site")), BUCKET, base
    )
    assert single.scope == "/blog/"


def test_equal_layouts_give_equal_mappings() -> None:
    """Given two distributions with the same origins, then their mappings are equal (mapped once
    per batch) and differ from another origin path's."""
    a = mapping_for(layout(Origin("main", f"{BUCKET}.s3.amazonaws.com", "/a")), BUCKET, BASE)
    again = mapping_for(layout(Origin("main", f"{BUCKET}.s3.amazonaws.com", "/a/")), BUCKET, BASE)
    other = mapping_for(layout(Origin("main", f"{BUCKET}.s3.amazonaws.com", "/b")), BUCKET, BASE)
    assert a == again
    assert hash(a) == hash(again)
    assert a != other


# Keys built from hostile pieces, index documents included.
KEYS = st.lists(
    st.sampled_from([*"ab/.-_ ~*?#%+:é日", "index.html", "a/", "/"]), min_size=1, max_size=12
).map("".join)


@given(key=KEYS, origin_path=st.sampled_from(["", "/a", "/a/b"]))
def test_a_single_origin_maps_as_the_override_does(key: str, origin_path: str) -> None:
    """Given one origin of the bucket and no behaviours, then the discovered mapping gives the
    paths the same ORIGIN_PATH override gives."""
    rules = PathRules(origin_path=origin_path, index_document="index.html")
    discovered = mapping_for(
        layout(Origin("main", f"{BUCKET}.s3.amazonaws.com", origin_path)), BUCKET, BASE
    )
    assert discovered.paths_for(key) == fixed_mapping(rules).paths_for(key)
    assert discovered.paths_for(key) == paths_for_key(key, rules)


@given(key=KEYS)
def test_routed_paths_are_a_subset_split_between_origins(key: str) -> None:
    """Given two root origins of the bucket split by a behaviour, then each path of the key goes
    through exactly one of them: together they give the unrouted paths, with no duplicate."""
    split = mapping_for(
        layout(
            Origin("main", f"{BUCKET}.s3.amazonaws.com"),
            Origin("alt", f"{BUCKET}.s3-website-us-east-1.amazonaws.com"),
            behaviours=(Behaviour("/a*", "alt"),),
        ),
        BUCKET,
        BASE,
    )
    unrouted = paths_for_key(key, BASE)
    assert sorted(split.paths_for(key)) == sorted(unrouted)


NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
REFRESH = timedelta(minutes=5)


def test_directory_reads_once_then_refreshes() -> None:
    """Given a cached mapping, then it is reused until the refresh interval passes, then read
    again; a failed refresh keeps the old mapping and reports the error."""
    directory = OriginDirectory()
    first = fixed_mapping(PathRules(origin_path="/a"))
    second = fixed_mapping(PathRules(origin_path="/b"))
    reads: list[KeyMapping] = [first, second]
    stale: list[str] = []

    def read() -> KeyMapping:
        return reads.pop(0)

    def failing() -> KeyMapping:
        raise CloudFrontError("Throttling", "Rate exceeded", 400)

    assert directory.mapping("D", NOW, REFRESH, read) is first
    assert directory.mapping("D", NOW + REFRESH - timedelta(seconds=1), REFRESH, read) is first
    assert directory.mapping("D", NOW + REFRESH, REFRESH, read) is second
    later = NOW + 3 * REFRESH
    kept = directory.mapping("D", later, REFRESH, failing, lambda e: stale.append(e.code))
    assert kept is second
    assert stale == ["Throttling"]


def test_directory_without_a_reading_raises() -> None:
    """Given nothing read yet, when the read fails, then the error propagates (the records wait
    rather than being served with a guessed mapping)."""

    def failing() -> KeyMapping:
        raise CloudFrontError("AccessDenied", "not allowed", 403)

    with pytest.raises(CloudFrontError, match="not allowed"):
        OriginDirectory().mapping("D", NOW, REFRESH, failing)


def test_foreign_prefixes_are_where_another_origin_may_answer() -> None:
    """Given behaviours routing to an application origin, then their patterns up to the first
    wildcard character are foreign (a bucket count cannot price a wildcard there); behaviours
    reaching the bucket are not; a default behaviour elsewhere makes everything foreign."""
    mapping = bucket_and_app(
        Behaviour("/keep/*.html", "main"),
        Behaviour("api/*", "other"),
        Behaviour("/v?/*", "other"),
        Behaviour("*.php", "other"),
    )
    assert mapping.foreign_prefixes == ("/api/", "/v", "/")
    elsewhere = bucket_and_app(Behaviour("/static/*", "main"), default="other")
    assert elsewhere.foreign_prefixes == ("/",)
    alone = mapping_for(layout(Origin("main", f"{BUCKET}.s3.amazonaws.com")), BUCKET, BASE)
    assert alone.foreign_prefixes == ()
