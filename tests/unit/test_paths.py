"""Key-to-path mapping: examples from CloudFront's documented rules, then properties."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfinvalidator.paths import (
    PathRules,
    covers,
    decode_event_key,
    decode_path,
    encode_viewer_key,
    is_wildcard,
    paths_for_key,
)
from cfinvalidator.quotas import MAX_PATH_LENGTH

DEFAULT = PathRules()
ALLOWED_LITERALS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._!$&'()*+,;=:@"
)

# S3 keys: up to 1,024 UTF-8 bytes of any character but surrogates.
keys = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=400).filter(
    lambda k: len(k.encode()) <= 1024
)
hostile_keys = st.lists(
    st.sampled_from([" ", "+", "%", "~", "*", "?", "#", "é", "日", "/", "a", "index.html", "\x7f"]),
    min_size=1,
    max_size=60,
).map("".join)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("red+flower.jpg", "red flower.jpg"),
        ("a%2Bb.jpg", "a+b.jpg"),
        ("docs%2Fguide.html", "docs/guide.html"),
        ("caf%C3%A9.html", "café.html"),
        ("100%25.txt", "100%.txt"),
    ],
)
def test_event_keys_are_form_decoded(raw: str, expected: str) -> None:
    """Given a key as S3 writes it in an event, when decoded, then form rules apply."""
    assert decode_event_key(raw) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("css/site.css", ("/css/site.css",)),
        ("docs/red flower.jpg", ("/docs/red%20flower.jpg",)),
        ("blog/café.html", ("/blog/caf%C3%A9.html",)),
        ("a+b.txt", ("/a+b.txt",)),
        ("q?x=1#frag", ("/q%3Fx=1%23frag",)),
        ('x"<>{}|\\^[]`%.txt', ("/x%22%3C%3E%7B%7D%7C%5C%5E%5B%5D%60%25.txt",)),
        ("tab\there", ("/tab%09here",)),
        ("dir/a~b.html", ("/dir/a*",)),
        ("~home", ("/*",)),
        ("star*middle.txt", ("/star*middle.txt",)),
        ("ends-with*", ("/ends-with*",)),
        ("index.html", ("/index.html", "/")),
        ("docs/index.html", ("/docs/index.html", "/docs/", "/docs")),
        ("docs/myindex.html", ("/docs/myindex.html",)),
        ("folder/", ("/folder/",)),
    ],
)
def test_paths_for_key_examples(key: str, expected: tuple[str, ...]) -> None:
    """Given a decoded key, when mapped with default rules, then exactly these paths result."""
    assert paths_for_key(key, DEFAULT) == expected


def test_origin_path_is_removed_and_keys_outside_it_are_dropped() -> None:
    """Given origin path /site, when keys are mapped, then only site/ keys yield paths."""
    rules = PathRules(origin_path="/site")
    assert paths_for_key("site/a.html", rules) == ("/a.html",)
    assert paths_for_key("site/index.html", rules) == ("/index.html", "/")
    assert paths_for_key("other/a.html", rules) == ()
    assert paths_for_key("sitemap.xml", rules) == ()


def test_key_prefix_filters_and_is_kept_in_the_path() -> None:
    """Given KEY_PREFIX assets/, when mapped, then other keys are dropped and the prefix stays."""
    rules = PathRules(key_prefix="assets/")
    assert paths_for_key("assets/app.js", rules) == ("/assets/app.js",)
    assert paths_for_key("index.html", rules) == ()


def test_empty_index_document_disables_directory_paths() -> None:
    """Given IndexDocument empty, when an index page changes, then only its own path results."""
    assert paths_for_key("docs/index.html", PathRules(index_document="")) == ("/docs/index.html",)


def test_overlong_path_becomes_a_covering_wildcard() -> None:
    """Given a key whose encoding exceeds 4,000 chars, when encoded, then a wildcard covers it."""
    key = "é" * 1400  # 2,800 bytes -> 8,400 encoded characters
    path = encode_viewer_key(key)
    assert len(path) <= MAX_PATH_LENGTH
    assert is_wildcard(path)
    assert covers(path, "/" + key)
    assert "%" not in path[-3:-1]  # never cut inside a %XX escape


@given(keys)
def test_form_encoding_round_trips(key: str) -> None:
    """Given any key, when S3 form-encodes it and we decode it, then the key comes back."""
    assert decode_event_key(quote_plus(key, safe="/")) == key


@given(st.one_of(keys, hostile_keys), st.sampled_from(["", "index.html", "default.htm"]))
def test_every_path_is_valid_and_the_first_covers_the_key(key: str, index: str) -> None:
    """Given any key, when mapped, then every path is well-formed and the key is covered."""
    paths = paths_for_key(key, PathRules(index_document=index))
    assert paths, "every in-scope key yields at least one path"
    assert len(set(paths)) == len(paths)
    for path in paths:
        assert path.startswith("/")
        assert len(path) <= MAX_PATH_LENGTH
        assert "~" not in path
        assert all(c in ALLOWED_LITERALS or c == "%" for c in path)
    first = paths[0]
    assert covers(first, "/" + key)
    if not is_wildcard(first):
        assert decode_path(first) == "/" + key


@given(st.one_of(keys, hostile_keys))
def test_paths_are_exact_unless_a_wildcard_is_unavoidable(key: str) -> None:
    """Given any key, then its path decodes back to it, or is a wildcard for a stated reason."""
    path = encode_viewer_key(key)
    if is_wildcard(path):
        overlong = len("/" + key) > MAX_PATH_LENGTH // 3
        assert "~" in key or key.endswith("*") or overlong
        assert covers(path, "/" + key)
    else:
        assert decode_path(path) == "/" + key


@given(st.lists(st.text(alphabet="abc", min_size=1, max_size=3), min_size=1, max_size=4))
def test_index_documents_cover_their_directory(parts: list[str]) -> None:
    """Given dir/index.html at any depth, then /dir/ and /dir are invalidated too."""
    directory = "/".join(parts)
    paths = paths_for_key(f"{directory}/index.html", DEFAULT)
    assert paths == (f"/{directory}/index.html", f"/{directory}/", f"/{directory}")


@given(st.text(alphabet="abc/", max_size=20))
def test_safe_ascii_keys_map_to_themselves(key: str) -> None:
    """Given a key of unreserved characters, then the path is the key with a leading slash."""
    assert encode_viewer_key(key) == "/" + key
