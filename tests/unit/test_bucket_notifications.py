"""The notification document and stateless ownership (cfinvalidator.bucket_notifications)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfinvalidator.bucket_notifications import (
    EVENTBRIDGE_KEY,
    OTHER_KEYS,
    Change,
    Ownership,
    RequestType,
    ResourceId,
    bucket_to_read,
    changed_entries,
    decide,
    eventbridge_enabled,
    failed_create_id,
    response_data,
    valid_bucket_name,
    with_eventbridge,
    without_eventbridge,
)

BUCKET = "my-site-origin-example"
OTHER_BUCKET = "another-origin-example"

# ------------------------------------------------------------------------------ strategies
_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_EVENTS = st.lists(
    st.sampled_from(
        ["s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectRemoved:*", "s3:ObjectRestore:*"]
    ),
    min_size=1,
    max_size=3,
    unique=True,
)
_FILTER = st.fixed_dictionaries(
    {
        "Key": st.fixed_dictionaries(
            {
                "FilterRules": st.lists(
                    st.fixed_dictionaries(
                        {"Name": st.sampled_from(["Prefix", "Suffix"]), "Value": _TEXT}
                    ),
                    max_size=2,
                )
            }
        )
    }
)


def _entries(arn_key: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    entry = st.fixed_dictionaries(
        {"Id": _TEXT, arn_key: _TEXT, "Events": _EVENTS}, optional={"Filter": _FILTER}
    )
    return st.lists(entry, min_size=1, max_size=4)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=8,
)


@st.composite
def documents(draw: st.DrawFn, *, eventbridge: bool | None = None) -> dict[str, Any]:
    """A GetBucketNotificationConfiguration document: the three kinds of entries, each absent
    when empty (as boto3 returns them), sometimes a key S3 may add one day, and EventBridge on
    or off (``eventbridge``; drawn when None)."""
    document: dict[str, Any] = {}
    for key, arn_key in zip(OTHER_KEYS, ("TopicArn", "QueueArn", "LambdaFunctionArn"), strict=True):
        if draw(st.booleans()):
            document[key] = draw(_entries(arn_key))
    future = draw(st.dictionaries(_TEXT.filter(lambda k: k != EVENTBRIDGE_KEY), _JSON, max_size=2))
    document.update({k: v for k, v in future.items() if k not in document})
    if eventbridge if eventbridge is not None else draw(st.booleans()):
        document[EVENTBRIDGE_KEY] = {}
    return document


def _others(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """The entries other than EventBridge's, in order."""
    return [(k, v) for k, v in document.items() if k != EVENTBRIDGE_KEY]


# ------------------------------------------------------------------------------ the document
@given(documents())
def test_switching_on_keeps_every_other_entry_exactly(document: dict[str, Any]) -> None:
    """Given any document, when EventBridge is switched on, then it is on and every other
    entry (ids, events, filters, order of entries and of keys) is exactly as it was."""
    switched_on = with_eventbridge(document)
    assert eventbridge_enabled(switched_on)
    assert _others(switched_on) == _others(document)


@given(documents())
def test_switching_off_keeps_every_other_entry_exactly(document: dict[str, Any]) -> None:
    """Given any document, when EventBridge is switched off, then it is off and nothing else
    changed."""
    switched_off = without_eventbridge(document)
    assert not eventbridge_enabled(switched_off)
    assert EVENTBRIDGE_KEY not in switched_off
    assert _others(switched_off) == _others(document)


@given(documents(eventbridge=False))
def test_off_after_on_is_the_document_read(document: dict[str, Any]) -> None:
    """Given a document without EventBridge, when it is switched on and then off again, then
    the result is the original document: Delete undoes exactly what Create did."""
    assert without_eventbridge(with_eventbridge(document)) == document


@given(documents())
def test_both_operations_are_idempotent(document: dict[str, Any]) -> None:
    """Given any document, when an operation is applied twice, then the second changes nothing
    (a repeated CloudFormation request writes the same document)."""
    assert with_eventbridge(with_eventbridge(document)) == with_eventbridge(document)
    assert without_eventbridge(without_eventbridge(document)) == without_eventbridge(document)


@given(documents())
def test_the_input_is_neither_changed_nor_shared(document: dict[str, Any]) -> None:
    """Given any document, when both operations run and their results are then altered, the
    document read is untouched (the results are deep copies)."""
    before = copy.deepcopy(document)
    for result in (with_eventbridge(document), without_eventbridge(document)):
        for value in result.values():
            if isinstance(value, list):
                value.append("altered")
            elif isinstance(value, dict):
                value["altered"] = True
    assert document == before


def test_an_eventbridge_configuration_already_there_is_kept_as_it_is() -> None:
    """Given EventBridge already on (with a field S3 may add one day), when switched on again,
    then its value is kept, not reset."""
    document = {EVENTBRIDGE_KEY: {"SomeFutureField": "x"}}
    assert with_eventbridge(document) == document


def test_empty_configuration_round_trips_to_empty() -> None:
    """Given a bucket with no notification at all (boto3 returns no key), when switched on, then
    only EventBridge is set; switched off again, the document is empty."""
    assert with_eventbridge({}) == {EVENTBRIDGE_KEY: {}}
    assert without_eventbridge({EVENTBRIDGE_KEY: {}}) == {}


@given(documents(), documents())
def test_changed_entries_names_exactly_the_differing_keys(
    expected: dict[str, Any], actual: dict[str, Any]
) -> None:
    changed = changed_entries(expected, actual)
    assert changed == sorted(changed)
    for key in set(expected) | set(actual):
        assert (key in changed) == (expected.get(key) != actual.get(key))


# --------------------------------------------------------------------- physical resource id
_BUCKET_NAMES = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True)


@given(_BUCKET_NAMES, st.sampled_from(Ownership))
def test_a_physical_id_parses_back_to_what_it_was_made_of(
    bucket: str, ownership: Ownership
) -> None:
    resource_id = ResourceId(bucket, ownership)
    assert ResourceId.parse(str(resource_id)) == resource_id


@given(st.text(max_size=80))
def test_parsing_any_string_never_fails_and_never_invents(physical_id: str) -> None:
    """Given any string (CloudFormation invents ids after a failed Create), parsing returns
    None or an id that prints as exactly that string."""
    parsed = ResourceId.parse(physical_id)
    assert parsed is None or str(parsed) == physical_id


@pytest.mark.parametrize(
    "physical_id",
    [
        None,
        "",
        BUCKET,
        f"{BUCKET}#",
        f"{BUCKET}#eventbridge-switched-on",  # a prefix of a known suffix
        f"{BUCKET}#eventbridge-switched-on-by-stack#extra",
        f"#{Ownership.SWITCHED_ON.value}",
        f"Bad Bucket#{Ownership.SWITCHED_ON.value}",
        "mystack-EventBridgeSwitch-1ABCDEF2GHIJK",  # what CloudFormation invents
        "2026/11/21/[$LATEST]0123456789abcdef",
    ],
)
def test_ids_this_module_did_not_write_own_nothing(physical_id: str | None) -> None:
    assert ResourceId.parse(physical_id) is None
    assert bucket_to_read(RequestType.DELETE, None, physical_id) is None


def test_the_physical_id_format_is_the_documented_one() -> None:
    assert str(ResourceId(BUCKET, Ownership.SWITCHED_ON)) == (
        "my-site-origin-example#eventbridge-switched-on-by-stack"
    )
    assert str(ResourceId(BUCKET, Ownership.ALREADY_ON)) == (
        "my-site-origin-example#eventbridge-already-on"
    )
    assert failed_create_id(BUCKET) == "my-site-origin-example#eventbridge-not-switched-on"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("my-site-origin-example", True),
        ("a.b-c", True),
        ("Legacy_Bucket_Name", True),  # us-east-1 buckets from before the current rules
        ("ab", False),
        ("has#hash", False),
        ("has space", False),
        ("-starts-with-hyphen", False),
        ("ends-with-dot.", False),
        ("a" * 256, False),
        (None, False),
        (42, False),
    ],
)
def test_bucket_names(name: object, valid: bool) -> None:
    assert valid_bucket_name(name) is valid


# ----------------------------------------------------------------------------- the decision
SWITCHED_ON_ID = str(ResourceId(BUCKET, Ownership.SWITCHED_ON))
ALREADY_ON_ID = str(ResourceId(BUCKET, Ownership.ALREADY_ON))


@pytest.mark.parametrize(
    ("request_type", "physical_id", "enabled", "change", "answer"),
    [
        # Create: switch on unless on already.
        (RequestType.CREATE, None, False, Change.SWITCH_ON, SWITCHED_ON_ID),
        (RequestType.CREATE, None, True, Change.NONE, ALREADY_ON_ID),
        # Update of the same bucket keeps the ownership...
        (RequestType.UPDATE, SWITCHED_ON_ID, True, Change.NONE, SWITCHED_ON_ID),
        (RequestType.UPDATE, ALREADY_ON_ID, True, Change.NONE, ALREADY_ON_ID),
        # ...unless EventBridge was switched off meanwhile: on again, and owned now.
        (RequestType.UPDATE, SWITCHED_ON_ID, False, Change.SWITCH_ON, SWITCHED_ON_ID),
        (RequestType.UPDATE, ALREADY_ON_ID, False, Change.SWITCH_ON, SWITCHED_ON_ID),
        # Update from another bucket (or an id not ours) is a Create on the new bucket.
        (RequestType.UPDATE, f"{OTHER_BUCKET}#{Ownership.SWITCHED_ON.value}", True,
         Change.NONE, ALREADY_ON_ID),
        (RequestType.UPDATE, f"{OTHER_BUCKET}#{Ownership.SWITCHED_ON.value}", False,
         Change.SWITCH_ON, SWITCHED_ON_ID),
        (RequestType.UPDATE, "invented-by-cloudformation", True, Change.NONE, ALREADY_ON_ID),
        (RequestType.UPDATE, failed_create_id(BUCKET), True, Change.NONE, ALREADY_ON_ID),
        # Delete of what this stack switched on: off if still on.
        (RequestType.DELETE, SWITCHED_ON_ID, True, Change.SWITCH_OFF, SWITCHED_ON_ID),
        (RequestType.DELETE, SWITCHED_ON_ID, False, Change.NONE, SWITCHED_ON_ID),
    ],
)  # fmt: skip
def test_decisions(
    request_type: RequestType, physical_id: str | None, enabled: bool, change: Change, answer: str
) -> None:
    decision = decide(request_type, BUCKET, physical_id, enabled)
    assert (decision.change, str(decision.resource_id)) == (change, answer)


@pytest.mark.parametrize("physical_id", [ALREADY_ON_ID, failed_create_id(BUCKET), "invented"])
def test_a_delete_that_owns_nothing_reads_nothing_and_cannot_be_decided(physical_id: str) -> None:
    assert bucket_to_read(RequestType.DELETE, None, physical_id) is None
    with pytest.raises(ValueError, match="nothing to decide"):
        decide(RequestType.DELETE, BUCKET, physical_id, True)


def test_only_a_switched_on_id_makes_delete_read_its_bucket() -> None:
    assert bucket_to_read(RequestType.DELETE, None, SWITCHED_ON_ID) == BUCKET
    assert bucket_to_read(RequestType.CREATE, BUCKET, None) == BUCKET
    assert bucket_to_read(RequestType.UPDATE, OTHER_BUCKET, SWITCHED_ON_ID) == OTHER_BUCKET


@given(
    st.sampled_from([RequestType.CREATE, RequestType.UPDATE]),
    st.one_of(st.none(), st.text(max_size=60), st.builds(str, st.builds(
        ResourceId, st.sampled_from([BUCKET, OTHER_BUCKET]), st.sampled_from(Ownership)
    ))),
    st.booleans(),
)  # fmt: skip
def test_create_and_update_never_switch_off_and_own_only_what_they_switch_on(
    request_type: RequestType, physical_id: str | None, enabled: bool
) -> None:
    """Given any Create or Update, the decision never switches EventBridge off; it claims
    ownership of the bucket only when it switches EventBridge on, or when an Update of the same
    bucket finds it still on under an ownership recorded before; and it answers an id of the
    requested bucket."""
    decision = decide(request_type, BUCKET, physical_id, enabled)
    assert decision.change is not Change.SWITCH_OFF
    assert decision.resource_id.bucket == BUCKET
    assert (decision.change is Change.SWITCH_ON) == (not enabled)
    if decision.resource_id.ownership is Ownership.SWITCHED_ON and enabled:
        assert request_type is RequestType.UPDATE
        assert physical_id == SWITCHED_ON_ID


def test_response_data_says_whether_the_stack_switched_it_on() -> None:
    assert response_data(ResourceId(BUCKET, Ownership.SWITCHED_ON)) == {
        "BucketName": BUCKET,
        "EventBridgeSwitchedOnByStack": "true",
    }
    found_on = response_data(ResourceId(BUCKET, Ownership.ALREADY_ON))
    assert found_on["EventBridgeSwitchedOnByStack"] == "false"
