"""Map S3 object keys to the CloudFront paths that viewers request.

Rules (see docs/aws-behaviour.md and README "Paths"):
- S3 event keys are form-encoded: decode with form rules first (``+`` is a space).
- A path starts with ``/``, is relative to the distribution's origin path, and is encoded the way
  CloudFront expects: non-ASCII bytes, control characters and RFC 1738's unsafe characters are
  percent-encoded, plus ``?`` (it would start a query string); nothing else is, or the path would
  no longer match the cached object.
- ``~`` cannot appear in an invalidation path at all, so a key containing it is covered by a
  wildcard on the part before it. A path longer than 4,000 characters is cut to a wildcard too.
- ``*`` is a wildcard only as the last character: a key ending in ``*`` yields a wildcard path
  that covers it (and counts against the wildcard quota); elsewhere ``*`` is literal.
- ``dir/<index document>`` is also served as ``/dir/`` and ``/dir``; the root index as ``/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from cfinvalidator.quotas import MAX_PATH_LENGTH

WILDCARD = "*"
_UNSAFE = frozenset(' "<>#%{}|\\^[]`?')
_UNSUPPORTED = "~"
# Printable ASCII that needs no encoding (everything from ! to } except the unsafe set and ~).
_PLAIN_CHARS = r"!$&'()*+,\-./0-9:;=@A-Z_a-z"
_PLAIN = re.compile(f"[{_PLAIN_CHARS}]*")
# A run of characters that need encoding (``~`` is left out: keys are cut before it).
_TO_ENCODE = re.compile(f"[^{_PLAIN_CHARS}~]+")


@dataclass(frozen=True, slots=True)
class PathRules:
    """How keys become viewer paths for one distribution."""

    key_prefix: str = ""
    origin_path: str = ""  # "" or "/a/b", as Config normalises it
    index_document: str = "index.html"

    def viewer_key(self, key: str) -> str | None:
        """The key relative to the origin path, or None when no viewer can request it."""
        if not key.startswith(self.key_prefix):
            return None
        origin = self.origin_path.strip("/")
        if not origin:
            return key
        if not key.startswith(origin + "/"):
            return None
        return key[len(origin) + 1 :]

    def paths_for(self, key: str) -> tuple[str, ...]:
        """``paths_for_key`` with these rules (a ``KeyMapper``, as ``origins.KeyMapping`` is)."""
        return paths_for_key(key, self)


def decode_event_key(raw_key: str) -> str:
    """Decode a key as S3 puts it in event notifications (form encoding): the result (or the
    UnicodeDecodeError) of ``unquote_plus(raw_key, encoding="utf-8", errors="strict")``."""
    text = raw_key.replace("+", " ")
    if "%" not in text:
        return text
    if text.isascii() and "\\" not in text:
        # The usual key: C codecs instead of unquote's Python loop. With no backslash of its
        # own, every backslash is one of these \xXX escapes: unicode_escape turns each into
        # code point XX, latin-1 into byte XX, and the other characters stay as they are.
        # An invalid escape or bytes that are not UTF-8 raise; unquote_plus then decides.
        escaped = text.replace("%", "\\x").encode("ascii")
        try:
            return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            pass
    return unquote_plus(raw_key, encoding="utf-8", errors="strict")


def _encode_char(char: str) -> str:
    code = ord(char)
    if code < 0x21 or code >= 0x7F or char in _UNSAFE:
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return char


# Every byte as ``_encode_char`` writes it (UTF-8 bytes of non-ASCII characters all escaped),
# for str.translate on UTF-8 read as latin-1: one character per byte.
_BYTE_ESCAPES = tuple(
    _encode_char(chr(byte)) if byte < 0x80 else f"%{byte:02X}" for byte in range(256)
)
# Up to this length a table lookup per byte is fastest; beyond, a key is mostly long runs of
# non-ASCII characters, escaped a run at a time.
_SHORT = 64


def _escape(run: re.Match[str]) -> str:
    """Every UTF-8 byte of the run as %XX, as ``_encode_char`` writes it."""
    return "%" + run.group().encode("utf-8").hex("%").upper()


def _encode(literal: str) -> str:
    """``_encode_char`` applied to every character of ``literal`` (which holds no ``~``)."""
    if len(literal) <= _SHORT:
        return literal.encode("utf-8").decode("latin-1").translate(_BYTE_ESCAPES)
    return _TO_ENCODE.sub(_escape, literal)


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def as_cloudfront_path(path: str) -> str:
    """``path`` with every character CloudFront needs encoded written as ``%XX``, the way
    ``encode_viewer_key`` writes them; ``%XX`` escapes already there, a final ``*`` (the
    wildcard) and ``~`` (which no path can name, encoded or not) are kept. A path already
    written for CloudFront comes back unchanged."""
    wildcard = path.endswith(WILDCARD)
    body = path[:-1] if wildcard else path
    pieces: list[str] = []
    position = 0
    for escape in _ESCAPE.finditer(body):
        pieces.append(_encode(body[position : escape.start()]))
        pieces.append(escape.group())
        position = escape.end()
    pieces.append(_encode(body[position:]))
    return "".join(pieces) + (WILDCARD if wildcard else "")


def encode_viewer_key(viewer_key: str) -> str:
    """The CloudFront path naming ``viewer_key`` exactly, or a wildcard covering it."""
    if len(viewer_key) < MAX_PATH_LENGTH and _PLAIN.fullmatch(viewer_key):
        return "/" + viewer_key  # the common case: nothing to encode or cut
    cut = viewer_key.find(_UNSUPPORTED)
    literal = viewer_key if cut < 0 else viewer_key[:cut]
    path = "/" + _encode(literal)
    if cut >= 0:
        path += WILDCARD
    if len(path) <= MAX_PATH_LENGTH:
        return path
    return _cut_to_length(literal)


def _cut_to_length(literal: str) -> str:
    """Too long: keep whole encoded characters up to the limit, then cover the rest with a
    wildcard."""
    encoded = [_encode_char(char) for char in literal]
    length = 1
    kept: list[str] = []
    for piece in encoded:
        if length + len(piece) > MAX_PATH_LENGTH - 1:
            break
        kept.append(piece)
        length += len(piece)
    return "/" + "".join(kept) + WILDCARD


def is_wildcard(path: str) -> bool:
    """CloudFront treats a trailing ``*`` as a wildcard (a literal ``*`` elsewhere)."""
    return path.endswith(WILDCARD)


def decode_path(path: str) -> str:
    """The viewer key a (non-wildcard part of a) path names: the inverse of the encoding."""
    return unquote(path, encoding="utf-8", errors="strict")


def covers(path: str, viewer_path: str) -> bool:
    """Does invalidation ``path`` cover the (decoded) ``viewer_path``?"""
    if is_wildcard(path):
        return viewer_path.startswith(decode_path(path[:-1]))
    return decode_path(path) == viewer_path


def paths_for_key(
    key: str, rules: PathRules, routed: Callable[[str], bool] | None = None
) -> tuple[str, ...]:
    """Every path viewers may request for the decoded S3 ``key``; empty when none can.

    ``routed``, when given, is asked about each viewer path (decoded, with its leading ``/``):
    a path whose requests CloudFront sends to another origin is left out.
    """
    viewer_key = rules.viewer_key(key)
    if viewer_key is None:
        return ()
    index = rules.index_document
    if not (index and (viewer_key == index or viewer_key.endswith("/" + index))):
        if routed is not None and not routed("/" + viewer_key):
            return ()
        return (encode_viewer_key(viewer_key),)  # the common case: one path
    directory = viewer_key[: -len(index)]  # "" for the root, else "dir/"
    candidates = [viewer_key, directory, directory[:-1]] if directory else [viewer_key, ""]
    if routed is not None:
        candidates = [candidate for candidate in candidates if routed("/" + candidate)]
    return tuple(dict.fromkeys(encode_viewer_key(candidate) for candidate in candidates))


def scope_of(rules: PathRules) -> str:
    """The path prefix every served key maps under: no collapsed wildcard reaches above it."""
    viewer_prefix = rules.viewer_key(rules.key_prefix) or ""
    paths = paths_for_key(viewer_prefix, PathRules(index_document="")) if viewer_prefix else ()
    scope = paths[0] if paths else "/"
    return scope.removesuffix("*")
