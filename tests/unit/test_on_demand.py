"""On-demand invalidation requests: which paths may be asked for, the message that carries
them, and how the batcher reads it back.

A request names CloudFront paths as they are (written the way CloudFront expects them), so
every refusal below is one ``cfinv`` gives before sending and the batcher gives again to a
message that slipped past it (cfinvalidator.on_demand).
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cfinvalidator.errors import MalformedEventError
from cfinvalidator.events import (
    ParsedMessage,
    _plain_document,
    _plain_eventbridge,
    _plain_s3_body,
    parse_message,
)
from cfinvalidator.on_demand import (
    REQUEST_TYPE,
    REQUEST_VERSION,
    PathError,
    RequestedPath,
    checked_paths,
    parse_request,
    path_problem,
    request_body,
)
from cfinvalidator.paths import as_cloudfront_path
from cfinvalidator.quotas import MAX_IN_PROGRESS_WILDCARDS, MAX_PATH_LENGTH, MAX_PATHS_PER_REQUEST
from tests.factories import s3_record
from tests.unit.test_events_fast_paths import (
    MISSING,
    Fields,
    assert_fast_readers_agree,
    put,
    serialised,
)

REQUESTED_AT = datetime(2026, 12, 3, 10, 0, 0, 123000, tzinfo=UTC)

# Text CloudFront paths are made of: any character but lone surrogates (no UTF-8 bytes), with
# the ones that matter here drawn more often than chance would.
_TRICKY_TEXT = st.sampled_from(
    [" ", "?", "#", "%", "%20", "%7e", "%zz", "%4", "é", "日", "😀", "\x7f", "\t", '"', "\\", "+"]
)
_ANY_CHARACTER = st.characters(exclude_categories=["Cs"])


def _text(alphabet: st.SearchStrategy[str], *, max_size: int) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(alphabet, _TRICKY_TEXT), max_size=max_size).map("".join)


any_text = _text(st.one_of(_ANY_CHARACTER, st.sampled_from(["~", "*", "/"])), max_size=80)
# What a user may type as a path: a leading /, no ~, * (if any) only last. At most 12 output
# characters per input character (4 UTF-8 bytes as %XX), so the result fits CloudFront's limit.
_BODY_CHARACTER = st.characters(exclude_categories=["Cs"], exclude_characters="~*")
typed_paths = st.builds(
    lambda body, wildcard: "/" + body.replace("~", "").replace("*", "") + ("*" if wildcard else ""),
    _text(_BODY_CHARACTER, max_size=(MAX_PATH_LENGTH - 2) // 12 // 3),
    st.booleans(),
)
# Long bodies too: past 64 characters as_cloudfront_path escapes a run at a time.
long_typed_paths = st.builds(
    lambda body: "/" + body,
    st.text(alphabet=_BODY_CHARACTER, min_size=65, max_size=(MAX_PATH_LENGTH - 1) // 12),
)
# A typed "%7e" stays an escape, and names ~: refused like ~ itself.
valid_paths = (
    st.one_of(typed_paths, long_typed_paths)
    .map(as_cloudfront_path)
    .filter(lambda path: "%7e" not in path.lower())
)
request_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
# Aware times, in UTC or a whole-minute offset (as ISO 8601 writes them).
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
request_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)


def _document(**fields: Any) -> dict[str, Any]:
    """A well-formed request document, with ``fields`` replaced (MISSING: left out)."""
    document: dict[str, Any] = {
        "type": REQUEST_TYPE,
        "version": REQUEST_VERSION,
        "requestId": "3f1c9a",
        "requestedAt": "2026-12-03T10:00:00.123Z",
        "paths": ["/index.html", "/css/*"],
    }
    for name, value in fields.items():
        if value is MISSING:
            del document[name]
        else:
            document[name] = value
    return document


# ---------------------------------------------------------------------------- path_problem


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/*",
        "/index.html",
        "/css/*",
        "/a%20b.html",
        "/caf%C3%A9.html",
        "/q%3Fx=1%23frag",
        "/a+b,c;d=e:f@g!$&'()",
        "/" + "a" * (MAX_PATH_LENGTH - 1),  # exactly the limit
        "/" + "a" * (MAX_PATH_LENGTH - 2) + "*",
    ],
)
def test_paths_written_for_cloudfront_are_accepted(path: str) -> None:
    """Given a path already written the way CloudFront expects it, then nothing is wrong."""
    assert path_problem(path) is None


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (None, "path None is not a string"),
        (5, "path 5 is not a string"),
        (["/a"], "path ['/a'] is not a string"),
        ("", "path '' must start with /"),
        ("index.html", "path 'index.html' must start with /"),
        ("*", "path '*' must start with /"),
        (
            "/" + "a" * MAX_PATH_LENGTH,
            f"is {MAX_PATH_LENGTH + 1} characters; CloudFront allows {MAX_PATH_LENGTH}",
        ),
        ("/a*b", "has * before its end; * is a wildcard only as the last character"),
        ("/**", "has * before its end"),
        ("/a*~", "has * before its end"),
        ("/a~b", "contains ~, which no invalidation path can name"),
        ("/a~b", "request '/a*' instead"),
        ("/~", "request '/*' instead"),
        ("/a\ud800b", "is not valid Unicode text"),
        ("/\udfff", "is not valid Unicode text"),
    ],
)
def test_each_refusal_names_its_problem(path: object, problem: str) -> None:
    """Given a path CloudFront would refuse or misread, then path_problem says why, naming it,
    and checked_paths refuses it with that same message."""
    found = path_problem(path)
    assert found is not None
    assert problem in found
    with pytest.raises(PathError) as raised:
        checked_paths(["/fine.html", path])
    assert str(raised.value) == found


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("/a b.html", "/a%20b.html"),
        ("/café.html", "/caf%C3%A9.html"),
        ("/日本/*", "/%E6%97%A5%E6%9C%AC/*"),
        ("/q?x=1", "/q%3Fx=1"),
        ("/a#b", "/a%23b"),
        ("/100%.txt", "/100%25.txt"),
        ("/%zz", "/%25zz"),
        ("/tab\there", "/tab%09here"),
        ('/x"<>{}|\\^[]`', "/x%22%3C%3E%7B%7D%7C%5C%5E%5B%5D%60"),
        ("/del\x7f", "/del%7F"),
        ("/a%20b c", "/a%20b%20c"),  # escapes already there are kept
    ],
)
def test_a_path_needing_encoding_is_refused_with_its_encoded_form(path: str, encoded: str) -> None:
    """Given a path with characters CloudFront needs percent-encoded, then it is refused, the
    message suggests the encoded form, and that form is accepted."""
    problem = path_problem(path)
    assert problem == (f"path {path!r} must be URL-encoded as CloudFront expects it: {encoded!r}")
    assert path_problem(encoded) is None


def test_the_path_suggested_for_a_tilde_is_itself_accepted() -> None:
    """Given a path with ~ after a character that needs encoding,
    When it is refused,
    Then the wildcard it suggests instead is one path_problem accepts."""
    problem = path_problem("/a b/~x")
    assert problem is not None
    suggested = re.search(r"request (.+) instead$", problem)
    assert suggested is not None
    assert path_problem(ast.literal_eval(suggested.group(1))) is None


@pytest.mark.parametrize("path", ["/a%7Eb.html", "/a%7eb.html"])
def test_an_encoded_tilde_is_refused_too(path: str) -> None:
    """Given a path naming ~ as %7E (which CloudFront accepts and matches nothing with),
    Then it is refused like ~ itself, so a request never silently invalidates nothing."""
    assert path_problem(path) is not None


# Anything a JSON body can carry as a path, lone surrogates included ("\\ud800" is valid JSON).
hostile_paths = st.lists(
    st.sampled_from(["/", "a", "~", "%7E", "%7e", "*", "\ud800", "\udfff", " ", "é", "%"]),
    max_size=8,
).map("".join)


@example("/\ud800~x")
@example("/a\udfff%7Eb")
@given(hostile_paths)
def test_path_problem_answers_for_any_text(path: str) -> None:
    """Given any text a request body can carry, then path_problem answers (never raises):
    None only for a path written for CloudFront as it is."""
    problem = path_problem(path)
    if problem is None:
        assert as_cloudfront_path(path) == path
    else:
        assert repr(path[:60])[:-1] in problem


@pytest.mark.parametrize("path", ["/\ud800~x", "/\ud800%7Ex"])
def test_a_lone_surrogate_before_a_tilde_dead_letters_the_request(path: str) -> None:
    """Given a request whose path has a lone surrogate before a ~ (or %7E),
    Then parsing it raises MalformedEventError (the batcher dead-letters that one message),
    naming the path as not valid Unicode text."""
    with pytest.raises(MalformedEventError, match=r"refused: path .* is not valid Unicode text"):
        parse_message("m1", json.dumps(_document(paths=[path])))


# ---------------------------------------------------------------------------- checked_paths


def test_no_path_is_refused() -> None:
    """Given an empty list, then it is refused: a request must name something."""
    with pytest.raises(PathError, match=r"^no path given$"):
        checked_paths([])


def test_duplicates_are_dropped_in_order() -> None:
    """Given paths with repeats, then each is kept once, where it first appeared."""
    assert checked_paths(["/b", "/a", "/b", "/c*", "/a", "/c*"]) == ("/b", "/a", "/c*")


def test_the_first_bad_path_is_named() -> None:
    """Given several bad paths, then the refusal names the first one."""
    with pytest.raises(PathError, match="'first' must start with /"):
        checked_paths(["/ok", "first", "/second bad"])


def test_at_most_3000_distinct_paths() -> None:
    """Given 3,000 distinct paths (and repeats of them), then they are accepted; given 3,001,
    then the request is refused, saying how many there are and the most allowed."""
    paths = [f"/p{n}" for n in range(MAX_PATHS_PER_REQUEST)]
    assert checked_paths(paths + paths[:10]) == tuple(paths)
    with pytest.raises(
        PathError,
        match=f"^{MAX_PATHS_PER_REQUEST + 1} paths; one request may hold at most "
        f"{MAX_PATHS_PER_REQUEST}$",
    ):
        checked_paths([*paths, "/one-more"])


def test_at_most_15_distinct_wildcards() -> None:
    """Given 15 distinct wildcards (one repeated), then they are accepted; given 16, then the
    request is refused, saying it is the in-progress wildcard quota."""
    wildcards = [f"/d{n}/*" for n in range(MAX_IN_PROGRESS_WILDCARDS)]
    assert checked_paths([*wildcards, wildcards[0], "/file"]) == (*wildcards, "/file")
    with pytest.raises(PathError, match=r"^16 wildcard paths; a distribution may have at most 15"):
        checked_paths([*wildcards, "/more/*"])


# ---------------------------------------------------------------------------- as_cloudfront_path


@given(any_text)
def test_as_cloudfront_path_is_idempotent(text: str) -> None:
    """Given any text, then writing it for CloudFront twice gives what writing it once did."""
    once = as_cloudfront_path(text)
    assert as_cloudfront_path(once) == once


@given(any_text)
def test_as_cloudfront_path_writes_only_plain_characters_and_escapes(text: str) -> None:
    """Given any text, then the result is printable ASCII CloudFront takes as it is (~ and an
    inner * kept as they were), every % starting a %XX escape."""
    written = as_cloudfront_path(text)
    assert re.fullmatch(r"(?:[!$&'()*+,\-./0-9:;=@A-Z_a-z~]|%[0-9A-Fa-f]{2})*", written)


@settings(max_examples=300)
@given(st.one_of(typed_paths, long_typed_paths))
def test_what_as_cloudfront_path_writes_can_be_requested(path: str) -> None:
    """Given a path as a user may type it (leading /, no ~, * only last),
    When it is written for CloudFront,
    Then the result is accepted as it is."""
    # Excluded: an escape of ~ typed by hand (see test_an_encoded_tilde_is_refused_too).
    assume("%7e" not in path.lower())
    assert path_problem(as_cloudfront_path(path)) is None


@given(st.one_of(any_text, long_typed_paths).filter(lambda text: "%" not in text))
def test_decoding_what_as_cloudfront_path_writes_gives_the_text_back(text: str) -> None:
    """Given text without %, then URL-decoding what as_cloudfront_path writes gives it back."""
    assert unquote(as_cloudfront_path(text), encoding="utf-8", errors="strict") == text


@pytest.mark.parametrize(
    ("path", "written"),
    [
        ("/a b/*", "/a%20b/*"),
        ("/a~b", "/a~b"),  # kept: path_problem refuses it with its own reason
        ("/a*b", "/a*b"),
        ("/caf%c3%a9", "/caf%c3%a9"),
        ("/%", "/%25"),
        ("/" + "é" * 70, "/" + "%C3%A9" * 70),  # the long form
    ],
)
def test_as_cloudfront_path_examples(path: str, written: str) -> None:
    """Given paths with escapes, ~, an inner * or a long run to encode, then each is written
    exactly so."""
    assert as_cloudfront_path(path) == written


# ---------------------------------------------------------------------------- request_body


@settings(max_examples=300)
@given(
    st.lists(valid_paths, min_size=1, max_size=20),
    request_ids,
    request_times,
    st.text(min_size=1, max_size=20),
)
def test_a_request_body_reads_back_as_its_requested_paths(
    paths: list[str], request_id: str, requested_at: datetime, message_id: str
) -> None:
    """Given checked paths, a request ID and an aware time,
    When the request body is parsed as an SQS message,
    Then it carries one RequestedPath per distinct path, in order, with the request ID and
    the time (to the millisecond), and no S3 event."""
    parsed = parse_message(message_id, request_body(paths, request_id, requested_at))
    moment = requested_at.replace(microsecond=requested_at.microsecond // 1000 * 1000)
    unique = list(dict.fromkeys(paths))
    assert parsed == ParsedMessage(
        message_id,
        events=(),
        requested=tuple(
            RequestedPath(message_id, index, path, request_id, moment)
            for index, path in enumerate(unique)
        ),
    )
    assert all(r.event_time.utcoffset() == timedelta(0) for r in parsed.requested)


def test_a_request_body_is_the_documented_message() -> None:
    """Given paths, an ID and a time in another zone, then the body is the documented JSON:
    type, version, ID, the time in UTC to the millisecond with Z, the paths deduplicated."""
    requested_at = datetime(2026, 12, 3, 11, 0, 0, 123999, tzinfo=timezone(timedelta(hours=1)))
    body = request_body(["/index.html", "/css/*", "/index.html"], "3f1c", requested_at)
    assert json.loads(body) == {
        "type": "cfinvalidator.InvalidationRequested",
        "version": 1,
        "requestId": "3f1c",
        "requestedAt": "2026-12-03T10:00:00.123Z",
        "paths": ["/index.html", "/css/*"],
    }


def test_a_request_path_identity_survives_redelivery_and_differs_between_requests() -> None:
    """Given one request delivered twice and another request of the same path, then the
    redelivery keeps the identity and the other request gets its own; the path stands where
    an object key would."""
    first = parse_message("m1", request_body(["/a"], "r1", REQUESTED_AT)).requested[0]
    again = parse_message("m2", request_body(["/a"], "r1", REQUESTED_AT)).requested[0]
    other = parse_message("m3", request_body(["/a"], "r2", REQUESTED_AT)).requested[0]
    assert first.identity == again.identity == "request:r1#/a"
    assert other.identity == "request:r2#/a"
    assert first.key == "/a"


@pytest.mark.parametrize("request_id", ["", "a b", "a/b", "é", "a" * 65])
def test_request_body_refuses_a_bad_request_id(request_id: str) -> None:
    """Given a request ID that is not 1 to 64 letters, digits, - or _, then no body is made."""
    with pytest.raises(PathError, match="must be 1 to 64 letters, digits, - or _"):
        request_body(["/a"], request_id, REQUESTED_AT)


def test_a_request_id_with_a_final_newline_is_refused() -> None:
    """Given a request ID ending in a newline, then it is refused, on both sides."""
    with pytest.raises(PathError):
        request_body(["/a"], "abc\n", REQUESTED_AT)
    with pytest.raises(MalformedEventError, match="malformed requestId"):
        parse_request("m1", _document(requestId="abc\n"))


def test_request_body_checks_the_paths() -> None:
    """Given a bad path, then request_body refuses it as checked_paths does."""
    with pytest.raises(PathError, match="must start with /"):
        request_body(["/a", "b"], "r1", REQUESTED_AT)


# ---------------------------------------------------------------------------- malformed requests


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"type": "cfinvalidator.Other"},
            "message of type 'cfinvalidator.Other' version 1: this batcher reads S3 events and "
            "'cfinvalidator.InvalidationRequested' version 1",
        ),
        ({"type": None}, "message of type None version 1"),
        ({"type": 5}, "message of type 5 version 1"),
        ({"version": 2}, "version 2: this batcher reads"),
        ({"version": "1"}, "version '1': this batcher reads"),
        ({"version": MISSING}, "version None: this batcher reads"),
        ({"requestId": MISSING}, "on-demand request has a malformed requestId: None"),
        ({"requestId": ""}, "malformed requestId: ''"),
        ({"requestId": 7}, "malformed requestId: 7"),
        ({"requestId": "a b"}, "malformed requestId: 'a b'"),
        ({"requestId": "x" * 65}, "malformed requestId: 'xxxx"),
        ({"requestedAt": MISSING}, "on-demand request has a malformed requestedAt: None"),
        ({"requestedAt": "2026-12-03T10:00:00"}, "malformed requestedAt: '2026-12-03T10:00:00'"),
        ({"requestedAt": "2026-12-03"}, "malformed requestedAt: '2026-12-03'"),
        ({"requestedAt": "yesterday"}, "malformed requestedAt: 'yesterday'"),
        ({"requestedAt": 1764756000}, "malformed requestedAt: 1764756000"),
        ({"paths": MISSING}, "on-demand request 3f1c9a has no list of paths"),
        ({"paths": "/a"}, "on-demand request 3f1c9a has no list of paths"),
        ({"paths": []}, "on-demand request 3f1c9a refused: no path given"),
        ({"paths": ["/a", "b"]}, "on-demand request 3f1c9a refused: path 'b' must start with /"),
        ({"paths": [5]}, "refused: path 5 is not a string"),
        ({"paths": ["/a b"]}, "refused: path '/a b' must be URL-encoded"),
        ({"paths": ["/a~"]}, "refused: path '/a~' contains ~"),
        ({"paths": [f"/{n}/*" for n in range(16)]}, "refused: 16 wildcard paths"),
    ],
)
def test_a_malformed_request_is_rejected_naming_the_problem(
    fields: dict[str, Any], message: str
) -> None:
    """Given a request body with one field wrong, then parsing it raises MalformedEventError
    whose message names the problem (the batcher dead-letters it with that reason)."""
    body = json.dumps(_document(**fields))
    with pytest.raises(MalformedEventError) as raised:
        parse_message("m1", body)
    assert message in str(raised.value)


def test_a_request_in_an_sns_envelope_is_read() -> None:
    """Given a request wrapped in an SNS envelope, then its paths are read as without one."""
    body = request_body(["/a"], "r1", REQUESTED_AT)
    enveloped = json.dumps({"Type": "Notification", "Message": body})
    assert parse_message("m1", enveloped) == parse_message("m1", body)


def test_a_request_body_is_left_to_the_walk() -> None:
    """Given a request body, then every fast reader gives up on it (they read S3 shapes only)
    and the walk reads it."""
    body = request_body(["/a", "/b*"], "r1", REQUESTED_AT)
    document = json.loads(body)
    assert _plain_s3_body("m1", body) is None
    assert _plain_document("m1", document) is None
    assert _plain_eventbridge("m1", document) is None
    assert [r.path for r in parse_message("m1", body).requested] == ["/a", "/b*"]


# ---------------------------------------------------------------------------- fast readers
# The strategies of tests/unit/test_events_fast_paths.py, for request-shaped bodies: the fast
# readers must give the walk's answer on these too (here, give up and leave it to the walk).

_REQUEST_PATHS = st.sampled_from(
    ["/index.html", "/css/*", "/*", "/a%20b", "/caf%C3%A9", "a", "/a b", "/a~b", "/a*b", "/\ud800"]
)


@st.composite
def request_documents(draw: st.DrawFn, *, odd: bool = True) -> Any:
    """Requests; with ``odd``, half of them spoiled, and now and then carrying a field of
    another body (Records, detail, Event, Type) or wrapped in an SNS envelope."""
    field = Fields(draw, spoiled=odd and draw(st.booleans()))

    def pick(good: list[Any], near_misses: list[Any]) -> st.SearchStrategy[Any]:
        return st.sampled_from(good * 5 + near_misses if odd else good)

    document: dict[str, Any] = {}
    put(document, "type", field(pick([REQUEST_TYPE], ["cfinvalidator.Other"])))
    put(document, "version", field(pick([1], [2, "1", 1.0])))
    put(document, "requestId", field(pick(["3f1c", "a" * 64], ["a" * 65, "a b"])))
    times = ["2026-12-03T10:00:00.000Z", "2026-12-03T11:00:00+01:00"]
    put(document, "requestedAt", field(pick(times, ["2026-12-03T10:00", "x"])))
    put(document, "paths", field(st.lists(_REQUEST_PATHS, max_size=4)))
    if odd:
        extra = draw(
            st.sampled_from([None] * 8 + ["Records", "detail", "Event", "Type", "envelope"])
        )
        if extra == "Records":
            document["Records"] = draw(st.sampled_from([[], [s3_record("a.html")]]))
        elif extra == "detail":
            document["detail"] = {"bucket": {"name": "b"}, "object": {"key": "k"}}
        elif extra == "Event":
            document["Event"] = draw(st.sampled_from(["s3:TestEvent", "other"]))
        elif extra == "Type":
            document["Type"] = "Notification"
        elif extra == "envelope":
            document = {"Type": "Notification", "Message": json.dumps(document)}
    return field(st.just(document), may_be_missing=False)


request_bodies = st.one_of(
    st.builds(serialised, request_documents(), st.sampled_from(["s3", "compact ascii", "spaced"])),
    st.builds(serialised, request_documents(odd=False), st.just("compact ascii")),
)


@settings(max_examples=1000)
@given(request_bodies)
def test_fast_readers_agree_with_the_validating_walk_on_request_bodies(body: str) -> None:
    """Given any generated request-shaped body, then parsing it answers what the validating
    walk answers, and the S3 text reader gives up on it."""
    assert_fast_readers_agree(body)
    assert _plain_s3_body("m1", body) is None


@given(request_documents(odd=False))
def test_a_well_formed_generated_request_names_its_paths(document: Any) -> None:
    """Given a generated request left unspoiled, then it reads as its paths, or is refused
    because one of them is bad (the strategy mixes bad paths in)."""
    body = json.dumps(document)
    paths = document["paths"]
    if paths and all(path_problem(path) is None for path in paths):
        parsed = parse_message("m1", body)
        assert [r.path for r in parsed.requested] == list(dict.fromkeys(paths))
    else:
        with pytest.raises(MalformedEventError, match="refused"):
            parse_message("m1", body)
