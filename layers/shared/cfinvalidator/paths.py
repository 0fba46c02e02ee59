"""Map S3 object keys to the CloudFront paths that viewers request.

Rules (see shared aws-facts and README "Paths"):
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
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

MAX_PATH_LENGTH = 4000
WILDCARD = "*"
_UNSAFE = frozenset(' "<>#%{}|\\^[]`?')
_UNSUPPORTED = "~"
# Printable ASCII that needs no encoding (everything from ! to } except the unsafe set and ~).
_PLAIN = re.compile(r"[!$&'()*+,\-./0-9:;=@A-Z_a-z]*")


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


def decode_event_key(raw_key: str) -> str:
    """Decode a key as S3 puts it in event notifications (form encoding)."""
    return unquote_plus(raw_key, encoding="utf-8", errors="strict")


def _encode_char(char: str) -> str:
    code = ord(char)
    if code < 0x21 or code >= 0x7F or char in _UNSAFE:
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return char


def encode_viewer_key(viewer_key: str) -> str:
    """The CloudFront path naming ``viewer_key`` exactly, or a wildcard covering it."""
    if len(viewer_key) < MAX_PATH_LENGTH and _PLAIN.fullmatch(viewer_key):
        return "/" + viewer_key  # the common case: nothing to encode or cut
    cut = viewer_key.find(_UNSUPPORTED)
    literal = viewer_key if cut < 0 else viewer_key[:cut]
    encoded = [_encode_char(char) for char in literal]
    path = "/" + "".join(encoded)
    if cut >= 0:
        path += WILDCARD
    if len(path) <= MAX_PATH_LENGTH:
        return path
    # Too long: keep whole encoded characters up to the limit, then cover the rest with a wildcard.
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


def paths_for_key(key: str, rules: PathRules) -> tuple[str, ...]:
    """Every path viewers may request for the decoded S3 ``key``; empty when none can."""
    viewer_key = rules.viewer_key(key)
    if viewer_key is None:
        return ()
    candidates = [viewer_key]
    index = rules.index_document
    if index and (viewer_key == index or viewer_key.endswith("/" + index)):
        directory = viewer_key[: -len(index)]  # "" for the root, else "dir/"
        candidates.append(directory)
        if directory:
            candidates.append(directory[:-1])
    return tuple(dict.fromkeys(encode_viewer_key(candidate) for candidate in candidates))
