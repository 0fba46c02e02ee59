"""Faster forms of key decoding, path encoding and digests give what the plain forms give.

Each reference below is the straightforward implementation the module used before it was
made faster for 10,000-record batches; the properties hold the fast one to it.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from urllib.parse import quote_plus, unquote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cfinvalidator.collapse import _drop_redundant
from cfinvalidator.paths import (
    WILDCARD,
    PathRules,
    _encode_char,
    decode_event_key,
    encode_viewer_key,
    is_wildcard,
    paths_for_key,
)
from cfinvalidator.planning import CALLER_REFERENCE_PREFIX, caller_reference
from cfinvalidator.quotas import MAX_PATH_LENGTH


def outcome[T](function: Callable[[str], T], argument: str) -> T | str:
    """The result, or the type of the exception raised."""
    try:
        return function(argument)
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        return type(exc).__name__


# ------------------------------------------------------------------------- key decoding
escape_pieces = st.sampled_from(
    [
        *("%", "+", "2", "B", "b", "C", "c", "3", "A", "a", "9", "F", "f", "0", "z", "E", "7"),
        *("%2B", "%C3%A9", "%E6%97%A5", "%FF", "%C3", "%5C", "\\", "\\x", "x", "é", "日"),
        *(" ", "/", "\ud800", "\x00"),
    ]
)
raw_keys = st.one_of(st.lists(escape_pieces, max_size=30).map("".join), st.text(max_size=30))


@settings(max_examples=1000)
@given(raw_keys)
@example("%C3%A9")
@example("%C3é%A9")  # escapes on both sides of a non-ASCII character: not UTF-8 to unquote
@example("a\\x41%41")
@example("%%41")
@example("%4%41")
def test_decode_event_key_is_unquote_plus(raw_key: str) -> None:
    """Given any raw key, then the key (or the UnicodeDecodeError) is unquote_plus's."""

    def reference(raw: str) -> str:
        return unquote_plus(raw, encoding="utf-8", errors="strict")

    assert outcome(decode_event_key, raw_key) == outcome(reference, raw_key)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200))
def test_decode_event_key_reads_what_s3_writes(key: str) -> None:
    """Given any key S3 form-encodes, then it comes back."""
    assert decode_event_key(quote_plus(key, safe="/")) == key


# ------------------------------------------------------------------------- path encoding
def reference_encode(viewer_key: str) -> str:
    """``encode_viewer_key`` one character at a time."""
    cut = viewer_key.find("~")
    literal = viewer_key if cut < 0 else viewer_key[:cut]
    encoded = [_encode_char(char) for char in literal]
    path = "/" + "".join(encoded) + (WILDCARD if cut >= 0 else "")
    if len(path) <= MAX_PATH_LENGTH:
        return path
    length = 1
    kept: list[str] = []
    for piece in encoded:
        if length + len(piece) > MAX_PATH_LENGTH - 1:
            break
        kept.append(piece)
        length += len(piece)
    return "/" + "".join(kept) + WILDCARD


def reference_paths(key: str, rules: PathRules) -> tuple[str, ...]:
    viewer_key = rules.viewer_key(key)
    if viewer_key is None:
        return ()
    candidates = [viewer_key]
    index = rules.index_document
    if index and (viewer_key == index or viewer_key.endswith("/" + index)):
        directory = viewer_key[: -len(index)]
        candidates.append(directory)
        if directory:
            candidates.append(directory[:-1])
    return tuple(dict.fromkeys(reference_encode(candidate) for candidate in candidates))


key_pieces = st.sampled_from(
    [
        *("a", "/", " ", "+", "%", "~", "*", "?", "#", '"', "\\", "\x7f", "\t", "é", "日"),
        *("😀", "index.html", "é" * 70, "日" * 300, "a" * 1000),
    ]
)
viewer_keys = st.one_of(
    st.lists(key_pieces, max_size=12).map("".join),
    st.text(max_size=80),  # lone surrogates included: both forms must refuse them
)


@settings(max_examples=1000)
@given(viewer_keys)
@example("é" * 1400)  # cut to the length limit
@example("a" * 63 + "é")  # either side of the table/run boundary
@example("a" * 64 + "é")
@example("a\ud800b")
@example("a~\ud800")
def test_encode_viewer_key_is_the_per_character_encoding(viewer_key: str) -> None:
    """Given any viewer key, then its path (or the UnicodeEncodeError) is the one the
    per-character encoding gives."""
    assert outcome(encode_viewer_key, viewer_key) == outcome(reference_encode, viewer_key)


@given(viewer_keys, st.sampled_from(["", "index.html", "a"]), st.sampled_from(["", "a/"]))
def test_paths_for_key_is_unchanged(key: str, index: str, prefix: str) -> None:
    """Given any key and rules, then the paths are the ones the plain form gives."""
    rules = PathRules(key_prefix=prefix, index_document=index)
    assert outcome(lambda k: paths_for_key(k, rules), key) == outcome(
        lambda k: reference_paths(k, rules), key
    )


# ---------------------------------------------------------------------------- digests
def reference_caller_reference(
    distribution_id: str, identities: Iterable[str], paths: Iterable[str]
) -> str:
    digest = hashlib.sha256()
    digest.update(distribution_id.encode())
    for part in (*sorted(set(identities)), "", *sorted(set(paths))):
        digest.update(b"\n" + part.encode("utf-8", "surrogatepass"))
    return CALLER_REFERENCE_PREFIX + digest.hexdigest()


@given(st.lists(st.text(max_size=8)), st.lists(st.text(max_size=8)))
@example(["\ud83d", "\ude00"], ["\ud83d\ude00"])  # surrogates never pair across parts
def test_caller_reference_is_unchanged(identities: list[str], paths: list[str]) -> None:
    """Given any identities and paths, then the reference is the one hashed part by part."""
    assert caller_reference("E1", identities, paths) == reference_caller_reference(
        "E1", identities, paths
    )


# ------------------------------------------------------------------------ collapsing
def reference_drop_redundant(cover: dict[str, str]) -> dict[str, str]:
    prefixes: list[str] = []
    for path in sorted({p[:-1] for p in cover.values() if is_wildcard(p)}):
        if not prefixes or not path.startswith(prefixes[-1]):
            prefixes.append(path)
    if not prefixes:
        return cover
    result: dict[str, str] = {}
    for needed, chosen in cover.items():
        probe = chosen[:-1] if is_wildcard(chosen) else chosen
        index = bisect.bisect_right(prefixes, probe) - 1
        if index >= 0 and probe.startswith(prefixes[index]):
            chosen = prefixes[index] + WILDCARD
        result[needed] = chosen
    return result


paths = st.lists(st.sampled_from(["a", "b", "/", "*"]), min_size=1, max_size=6).map(
    lambda parts: "/" + "".join(parts)
)


@given(st.dictionaries(paths, paths, max_size=12))
def test_drop_redundant_is_unchanged(cover: dict[str, str]) -> None:
    """Given any cover, then the remapped cover is the one looked up path by path."""
    assert _drop_redundant(cover) == reference_drop_redundant(cover)
