"""``cfinv``'s input parsing, and ``cfinv plan`` from template parameters through the entry
point, with no AWS at all: a Runtime whose session fails if used, output into io.StringIO.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NoReturn

import click
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cfinv.cli import DURATION, MOMENT, Runtime, main
from cfinv.errors import CliError, Exit
from cfinv.operations import PLAN_DISTRIBUTION, PlanParameters, keys_in

BUCKET = "my-site"

# ---------------------------------------------------------------------------- keys_in


def test_plain_keys_one_a_line() -> None:
    """Given keys one a line (spaces, non-ASCII, CRLF endings), then each is read as it is,
    without its line ending."""
    lines = ["a.html\n", "docs/red flower.jpg\n", "blog/café 日本.html\r\n", "last"]
    assert keys_in(lines, BUCKET) == [
        "a.html",
        "docs/red flower.jpg",
        "blog/café 日本.html",
        "last",
    ]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("upload: ./index.html to s3://my-site/index.html", "index.html"),
        ("upload: site/css/a.css to s3://my-site/css/a.css", "css/a.css"),
        ("copy: s3://my-site/a.html to s3://my-site/b/a.html", "b/a.html"),
        ("copy: s3://other-bucket/a.html to s3://my-site/a.html", "a.html"),  # source: any
        ("move: s3://my-site/a.html to s3://my-site/c.html", "c.html"),
        ("delete: s3://my-site/old/page.html", "old/page.html"),
        ("(dryrun) upload: ./a.html to s3://my-site/a.html", "a.html"),
        ("(dryrun) delete: s3://my-site/gone.html", "gone.html"),
        ("upload: ./my file.html to s3://my-site/my file.html", "my file.html"),
        ("upload: ./café.html to s3://my-site/blog/café.html", "blog/café.html"),
        ("delete: s3://my-site/with space/日本.html", "with space/日本.html"),
        ("upload: ./a.html to s3://my-site/a.html\r\n", "a.html"),
    ],
)
def test_sync_output_lines_give_the_key_they_name(line: str, key: str) -> None:
    """Given a line `aws s3 sync` or `aws s3 cp` prints, then the key of the bucket it writes
    (or deletes) is read from it."""
    assert keys_in([line], BUCKET) == [key]


@pytest.mark.parametrize(
    ("lines", "number", "bucket"),
    [
        (["upload: ./a.html to s3://other/a.html"], 1, "other"),
        (["a.html", "", "delete: s3://my-site-2/a.html"], 3, "my-site-2"),
        (["(dryrun) move: s3://my-site/a to s3://MY-SITE/a"], 1, "MY-SITE"),
    ],
)
def test_a_line_naming_another_bucket_is_refused(
    lines: list[str], number: int, bucket: str
) -> None:
    """Given a sync line writing to another bucket (a bucket name the stack's is a prefix of,
    or differs from in case, included), then the input is refused as bad usage (exit 2),
    naming the line and both buckets."""
    with pytest.raises(CliError) as raised:
        keys_in(lines, BUCKET)
    assert raised.value.code is Exit.USAGE
    assert raised.value.message == (
        f"line {number} names bucket {bucket!r}; the stack serves {BUCKET!r}"
    )


def test_blank_lines_are_skipped_and_duplicates_dropped_in_order() -> None:
    """Given keys one a line with blank and whitespace-only lines between, and a key named
    twice, then the blanks are skipped and each key is kept once, where it first appeared."""
    lines = ["\n", "b.html\n", "   \n", "\t\r\n", "a.html\n", "b.html\n", "c.html", ""]
    assert keys_in(lines, BUCKET) == ["b.html", "a.html", "c.html"]
    assert keys_in([], BUCKET) == []


def test_in_sync_output_other_lines_are_skipped_and_duplicates_dropped() -> None:
    """Given what `aws s3 sync` prints: progress (some overwritten with \\r on the line of
    the upload it preceded), a warning, blank lines, and a key uploaded then deleted, then
    only the keys of its upload, copy, move and delete lines are read, each once, in order."""
    lines = [
        "Completed 1.0 KiB/3.0 KiB (5.1 KiB/s) with 2 file(s) remaining\r"
        "upload: ./b.html to s3://my-site/b.html\n",
        "warning: Skipping file /site/link. File does not exist.\n",
        "\n",
        "Completed 2.0 KiB/3.0 KiB (5.3 KiB/s) with 1 file(s) remaining\r"
        "copy: s3://my-site/x.html to s3://my-site/a.html\r\n",
        "delete: s3://my-site/b.html\n",
        "(dryrun) move: s3://my-site/c.html to s3://my-site/d.html\n",
        "Completed 3.0 KiB/3.0 KiB (5.5 KiB/s) with 0 file(s) remaining\n",
    ]
    assert keys_in(lines, BUCKET) == ["b.html", "a.html", "d.html"]


def test_a_refused_piece_after_progress_names_its_line() -> None:
    """Given another bucket's upload line after progress it overwrote with \\r, then the
    refusal names the line the file has it on."""
    lines = ["upload: ./a to s3://my-site/a\n", "Completed 1 KiB/2 KiB\rupload: ./b to s3://b/b\n"]
    with pytest.raises(CliError, match=r"^line 2 names bucket 'b'"):
        keys_in(lines, BUCKET)


# Keys as S3 allows them (no surrogates), one line each: no line break in them, not blank.
line_keys = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    min_size=1,
    max_size=60,
).filter(lambda key: key.strip() != "")


@given(st.lists(line_keys, max_size=10))
def test_plain_keys_read_back_as_written(keys: list[str]) -> None:
    """Given any keys written one a line (none shaped like a sync line), then they read back
    as they were, each once, in order."""
    assume(not any(" to s3://" in key or key.startswith(("delete: ", "(dryrun) ")) for key in keys))
    assert keys_in([key + "\n" for key in keys], BUCKET) == list(dict.fromkeys(keys))


@given(
    st.lists(line_keys, max_size=10),
    st.sampled_from(["upload", "copy", "move", "delete"]),
    st.booleans(),
)
def test_sync_lines_read_back_as_the_keys_they_name(
    keys: list[str], verb: str, dry_run: bool
) -> None:
    """Given any keys, as sync lines of any kind (dry run or not), then the keys are read back
    as they were, each once, in order."""
    assume(not any(" to s3://" in key for key in keys))
    prefix = "(dryrun) " if dry_run else ""

    def line(key: str) -> str:
        if verb == "delete":
            return f"{prefix}delete: s3://{BUCKET}/{key}\n"
        return f"{prefix}{verb}: ./{key} to s3://{BUCKET}/{key}\n"

    assert keys_in([line(key) for key in keys], BUCKET) == list(dict.fromkeys(keys))


# ---------------------------------------------------------------------------- DurationType


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2h0m5s", 7205.0),
        ("1m30s", 90.0),
        ("90m", 5400.0),
        ("45", 45.0),
        ("0", 0.0),
        ("0s", 0.0),
        (" 10s ", 10.0),
        (12, 12.0),
        (1.5, 1.5),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    """Given a duration in hours, minutes and seconds (any of them), plain seconds or a number,
    then it reads as that many seconds."""
    assert DURATION.convert(value, None, None) == seconds


@pytest.mark.parametrize(
    "value",
    ["", "  ", "s", "1d", "abc", "1.5m", "-5s", "-5", "10 s", "1m1h", "1h30", "5sec", "1e3"],
)
def test_bad_durations_are_refused(value: str) -> None:
    """Given text that is no duration, then it is refused with the forms one can write."""
    with pytest.raises(click.BadParameter, match="is not a duration like 90s, 15m or 1h30m"):
        DURATION.convert(value, None, None)


@given(
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=9999),
    st.sets(st.sampled_from("hms"), min_size=1),
)
def test_any_combination_of_hours_minutes_and_seconds(
    hours: int, minutes: int, seconds: int, units: set[str]
) -> None:
    """Given hours, minutes and seconds, some of them written, in that order, then the
    duration is the sum of those written."""
    amounts = {"h": hours, "m": minutes, "s": seconds}
    text = "".join(f"{amounts[unit]}{unit}" for unit in "hms" if unit in units)
    expected = sum({"h": 3600, "m": 60, "s": 1}[unit] * amounts[unit] for unit in units)
    assert DURATION.convert(text, None, None) == expected


def test_a_superscript_digit_is_refused_as_a_duration() -> None:
    """Given a digit float() cannot read, then it is refused like any bad duration."""
    with pytest.raises(click.BadParameter):
        DURATION.convert("²", None, None)


# ---------------------------------------------------------------------------- MomentType


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2026-12-03T10:00:00Z", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("2026-12-03T10:00:00+00:00", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("2026-12-03T11:30:00+01:30", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("2026-12-03T05:00:00-05:00", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("2026-12-03T10:00:00.250Z", datetime(2026, 12, 3, 10, 0, 0, 250000, tzinfo=UTC)),
        (" 2026-12-03T10:00:00Z ", datetime(2026, 12, 3, 10, tzinfo=UTC)),
        ("1764756000", datetime(2025, 12, 3, 10, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_moments(value: str, moment: datetime) -> None:
    """Given an ISO 8601 time with a zone, or epoch seconds, then it reads as that moment, in
    UTC."""
    converted = MOMENT.convert(value, None, None)
    assert converted == moment
    assert converted.tzinfo is UTC


@pytest.mark.parametrize("value", ["2026-12-03T10:00:00", "2026-12-03", "2026-12-03 10:00"])
def test_a_time_without_a_zone_is_refused(value: str) -> None:
    """Given a time without a zone (whose meaning depends on the machine), then it is refused,
    saying how to write UTC."""
    with pytest.raises(click.BadParameter, match="has no time zone: add Z for UTC"):
        MOMENT.convert(value, None, None)


@pytest.mark.parametrize("value", ["", "yesterday", "-5", "1.5", "2026-13-01T00:00:00Z", "10:00Z"])
def test_bad_moments_are_refused(value: str) -> None:
    """Given text that is neither an ISO 8601 time nor epoch seconds, then it is refused with
    an example of the form."""
    with pytest.raises(click.BadParameter, match="is not an ISO 8601 time like"):
        MOMENT.convert(value, None, None)


@given(st.integers(min_value=0, max_value=253402300799))
def test_epoch_seconds(seconds: int) -> None:
    """Given whole epoch seconds up to the end of year 9999, then they read as that moment in
    UTC."""
    converted = MOMENT.convert(str(seconds), None, None)
    assert converted.tzinfo is UTC
    assert converted - datetime(1970, 1, 1, tzinfo=UTC) == timedelta(seconds=seconds)


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.integers(min_value=-23 * 60, max_value=23 * 60).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        ),
    )
)
def test_iso_times_round_trip(moment: datetime) -> None:
    """Given any aware time written in ISO 8601, then it reads as the same moment, in UTC."""
    converted = MOMENT.convert(moment.isoformat(), None, None)
    assert converted == moment
    assert converted.tzinfo is UTC


def test_a_datetime_is_taken_as_it_is() -> None:
    """Given a datetime already (a default given as one), then it is kept."""
    moment = datetime(2026, 12, 3, tzinfo=UTC)
    assert MOMENT.convert(moment, None, None) is moment


@pytest.mark.parametrize("value", ["999999999999", "²"])
def test_epoch_seconds_no_time_can_hold_are_refused(value: str) -> None:
    """Given epoch seconds past year 9999, or a digit int() cannot read, then they are refused
    like any bad time."""
    with pytest.raises(click.BadParameter):
        MOMENT.convert(value, None, None)


# ---------------------------------------------------------------------------- the entry point


def _no_aws(region: str | None, profile: str | None) -> NoReturn:
    raise AssertionError("this command must not reach AWS")


def _never(*_: object) -> NoReturn:
    raise AssertionError("this command must not wait")


def cfinv(*args: str) -> tuple[int, str, str]:
    """Run ``cfinv`` with ``args``: exit code, standard output, standard error."""
    out, err = io.StringIO(), io.StringIO()
    runtime = Runtime(
        session=_no_aws,
        clock=_never,
        sleep=_never,
        now=lambda: datetime(2026, 12, 3, 10, tzinfo=UTC),
        terminal=False,
        stdout=out,
        stderr=err,
    )
    code = main(list(args), runtime)
    return code, out.getvalue(), err.getvalue()


def plan_json(*args: str) -> dict[str, Any]:
    code, out, err = cfinv("plan", "--json", *args)
    assert (code, err) == (0, "")
    document: dict[str, Any] = json.loads(out)
    return document


def only(document: dict[str, Any]) -> dict[str, Any]:
    (distribution,) = document["distributions"]
    assert isinstance(distribution, dict)
    return distribution


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--since", "2026-12-03T10:00:00"], "'--since': '2026-12-03T10:00:00' has no time zone"),
        (["--since", "soon"], "'--since': 'soon' is not an ISO 8601 time"),
        (["--since", "0", "--timeout", "1d"], "'--timeout': '1d' is not a duration"),
        (["--since", "0", "--poll", "-1s"], "'--poll': '-1s' is not a duration"),
    ],
)
def test_bad_times_and_durations_exit_2_before_any_aws_call(args: list[str], option: str) -> None:
    """Given `cfinv wait` with a time or duration it cannot read, then it exits 2 (usage) with
    click's message naming the option, having made no AWS call."""
    code, out, err = cfinv("wait", "--stack", "site", *args)
    assert code == Exit.USAGE
    assert out == ""
    assert f"Invalid value for {option}" in err


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (
            ["/a b.html"],
            "cfinv: error: refused: path '/a b.html' must be URL-encoded as "
            "CloudFront expects it: '/a%20b.html'\n",
        ),
        (["/ok", "no-slash"], "cfinv: error: refused: path 'no-slash' must start with /\n"),
        (["/a*b"], "cfinv: error: refused: path '/a*b' has * before its end"),
        (["--all", "/a"], "cfinv: error: give PATHS or --all, not both and not neither\n"),
        ([], "cfinv: error: give PATHS or --all, not both and not neither\n"),
    ],
)
def test_invalidate_refuses_bad_paths_before_any_aws_call(paths: list[str], message: str) -> None:
    """Given `cfinv invalidate` with a path CloudFront would refuse or misread (or neither or
    both of PATHS and --all), then it exits 2 with one line saying why, having made no AWS
    call."""
    code, out, err = cfinv("invalidate", "--stack", "site", *paths)
    assert (code, out) == (Exit.USAGE, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


PRICING = (
    "  pricing: beyond the budget: a wildcard may invalidate up to 100 unchanged objects per "
    "billed path it saves (this month's budget unknown; bucket not counted: CollapseThreshold)"
)


def test_plan_maps_index_documents_to_every_form_viewers_request() -> None:
    """Given the root and a directory index document, then plan lists each key's paths (the
    document, the directory with and without /, the root as /) and requests all of them."""
    code, out, err = cfinv("plan", "index.html", "docs/index.html", "docs/other.html")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"distribution {PLAN_DISTRIBUTION}",
        "  'index.html' -> /index.html, /",
        "      index document: also served as /",
        "  'docs/index.html' -> /docs/index.html, /docs/, /docs",
        "      index document: also served as /docs/, /docs",
        "  'docs/other.html' -> /docs/other.html",
        "  request: 6 path(s), 0 wildcard(s), 6 billed",
        "    /",
        "    /docs",
        "    /docs/",
        "    /docs/index.html",
        "    /docs/other.html",
        "    /index.html",
        PRICING,
        "    /* instead of 6 path(s): objects not counted -> not chosen",
        "    /docs/* instead of 3 path(s): objects not counted -> not chosen",
    ]


def test_plan_follows_another_index_document() -> None:
    """Given --index-document default.htm, then that document gets the directory forms and
    index.html is a key like any other."""
    keys = {
        k["key"]: k["paths"]
        for k in only(
            plan_json("--index-document", "default.htm", "a/default.htm", "b/index.html")
        )["keys"]
    }
    assert keys == {
        "a/default.htm": ["/a/default.htm", "/a/", "/a"],
        "b/index.html": ["/b/index.html"],
    }


def test_plan_encodes_paths_for_cloudfront_and_says_so() -> None:
    """Given keys with a space, non-ASCII, ? and ~, then plan encodes them as CloudFront
    expects, covers the ~ key with a wildcard, and notes both."""
    keys = {
        k["key"]: (k["paths"], k["notes"])
        for k in only(plan_json("a b.html", "café.html", "q?.html", "x/a~b.html"))["keys"]
    }
    assert keys == {
        "a b.html": (["/a%20b.html"], ["encoded for CloudFront: /a%20b.html"]),
        "café.html": (["/caf%C3%A9.html"], ["encoded for CloudFront: /caf%C3%A9.html"]),
        "q?.html": (["/q%3F.html"], ["encoded for CloudFront: /q%3F.html"]),
        "x/a~b.html": (
            ["/x/a*"],
            [
                "CloudFront cannot name this path exactly (~ or over 4,000 characters): "
                "covered by the wildcard /x/a*"
            ],
        ),
    }


@pytest.mark.parametrize(
    ("threshold", "request_paths", "collapsed"),
    [
        ("3", ["/d/*"], {"/d/*": ["/d/a", "/d/b", "/d/c"]}),
        ("4", ["/d/a", "/d/b", "/d/c"], {}),
        ("0", ["/d/a", "/d/b", "/d/c"], {}),  # never collapse
    ],
)
def test_plan_collapses_a_directory_at_the_threshold(
    threshold: str, request_paths: list[str], collapsed: dict[str, list[str]]
) -> None:
    """Given three changed files in one directory, then with --collapse-threshold 3 they are
    requested as one wildcard (and the request says what it collapses); with 4, or 0 (never),
    as themselves."""
    distribution = only(plan_json("--collapse-threshold", threshold, "d/a", "d/b", "d/c"))
    assert distribution["request"] == request_paths
    assert distribution["collapsed"] == collapsed
    assert distribution["billedPaths"] == len(request_paths)
    assert distribution["wildcards"] == sum(p.endswith("*") for p in request_paths)


def test_plan_text_shows_what_a_wildcard_collapses() -> None:
    """Given a collapsed directory, then the text output lists the wildcard with what it
    collapses."""
    code, out, _ = cfinv("plan", "--collapse-threshold", "2", "d/a", "d/b", "d/c")
    assert code == 0
    assert out.splitlines()[-4:] == [
        "  request: 1 path(s), 1 wildcard(s), 1 billed",
        "    /d/*   collapses 3: /d/a, /d/b, /d/c",
        PRICING,
        "    /d/* instead of 3 path(s): objects not counted -> chosen",
    ]


def test_plan_prices_with_the_paths_left_given() -> None:
    """Given --paths-left, then the request is priced inside the budget: with the bucket not
    counted, exact paths even past CollapseThreshold."""
    keys = [f"d/f{n}.css" for n in range(12)]
    document = only(plan_json("--paths-left", "500", *keys))
    assert document["pricing"] == "FREE"
    assert document["monthlyPathsLeft"] == 500
    assert document["billedPaths"] == 12
    beyond = only(plan_json(*keys))
    assert (beyond["pricing"], beyond["request"]) == ("PAID", ["/d/*"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "1",
            "cfinv: error: invalid configuration: COLLAPSE_THRESHOLD must be 0 (never collapse) "
            "or at least 2: 1 would turn every single change into a wildcard\n",
        ),
        ("-1", "cfinv: error: invalid configuration: COLLAPSE_THRESHOLD"),
    ],
)
def test_a_bad_collapse_threshold_exits_2_with_the_reason(value: str, message: str) -> None:
    """Given --collapse-threshold 1 (or below 0), then plan exits 2 with one line saying why,
    as the batcher checks its environment, and prints nothing on standard output."""
    code, out, err = cfinv("plan", "--collapse-threshold", value, "a.html")
    assert code == Exit.USAGE
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_a_collapse_threshold_that_is_no_number_is_a_usage_error() -> None:
    """Given --collapse-threshold x, then click refuses it: exit 2, naming the option."""
    code, out, err = cfinv("plan", "--collapse-threshold", "x", "a.html")
    assert (code, out) == (Exit.USAGE, "")
    assert "Invalid value for '--collapse-threshold': 'x' is not a valid integer" in err


def test_plan_needs_a_key() -> None:
    """Given no key, then plan exits 2 saying KEYS is missing."""
    code, out, err = cfinv("plan")
    assert (code, out) == (Exit.USAGE, "")
    assert "Missing argument 'KEYS...'" in err


def test_plan_json_document_shape() -> None:
    """Given a plan with --json, then standard output is one JSON document: one distribution
    (the placeholder of a parameters-only plan) with its request, billing, collapsing,
    deferred keys, free quota and every key's paths and notes."""
    document = plan_json("--key-prefix", "site/", "site/a.html", "other/b.html")
    assert document == {
        "distributions": [
            {
                "distributionId": PLAN_DISTRIBUTION,
                "request": ["/site/a.html"],
                "billedPaths": 1,
                "wildcards": 0,
                "collapsed": {},
                "deferredKeys": [],
                "freeQuota": {"files": 3000, "wildcards": 15},
                "pricing": "PAID",
                "monthlyPathsLeft": None,
                "unchangedPerSavedPath": 100,
                "bucketCounted": False,
                "weighed": [],
                "keys": [
                    {"key": "site/a.html", "paths": ["/site/a.html"], "notes": []},
                    {
                        "key": "other/b.html",
                        "paths": [],
                        "notes": ["outside KeyPrefix 'site/': not invalidated"],
                    },
                ],
            }
        ],
        "unread": [],
    }


def test_plan_removes_the_origin_path() -> None:
    """Given --origin-path /site, then keys under site/ are served from the root and others
    by no viewer; with nothing to invalidate, the text says so."""
    keys = {
        k["key"]: (k["paths"], k["notes"])
        for k in only(plan_json("--origin-path", "/site", "site/a.html", "b.html"))["keys"]
    }
    assert keys == {
        "site/a.html": (["/a.html"], []),
        "b.html": ([], ["outside the origin path /site: no viewer can request it"]),
    }
    code, out, _ = cfinv("plan", "--origin-path", "/site", "b.html")
    assert code == 0
    assert out.splitlines()[-1] == "  request: none (nothing to invalidate)"


def test_plan_parameters_make_a_config_with_the_service_settings_as_placeholders() -> None:
    """Given plan parameters, then the config carries them, checked as the batcher checks its
    environment, and a bad one is a usage error."""
    config = PlanParameters(key_prefix="site/", origin_path="/site", collapse_threshold=2).config()
    assert (config.key_prefix, config.origin_path, config.collapse_threshold) == (
        "site/",
        "/site",
        2,
    )
    assert config.distribution_ids == (PLAN_DISTRIBUTION,)
    with pytest.raises(CliError) as raised:
        PlanParameters(broadest_wildcard_depth=-1).config()
    assert raised.value.code is Exit.USAGE
    assert "BROADEST_WILDCARD_DEPTH" in raised.value.message
