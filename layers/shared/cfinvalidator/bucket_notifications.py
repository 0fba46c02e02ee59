"""Switching S3's EventBridge delivery on for a bucket the stack does not own: the configuration
document, and who switched it on. Pure: no AWS calls (``eventbridge_switch`` makes them).

The document
    PutBucketNotificationConfiguration replaces a bucket's WHOLE notification configuration, so
    turning EventBridge on means reading the document (GetBucketNotificationConfiguration), adding
    ``EventBridgeConfiguration: {}`` and writing the whole document back. Every other entry
    (``TopicConfigurations``, ``QueueConfigurations``, ``LambdaFunctionConfigurations``: their
    ids, events, filters and order) must be written back exactly as read: other tools own them.
    boto3 leaves out an empty list altogether, and so do these functions: a key absent on reading
    stays absent on writing.

Ownership, without state
    The stack switches EventBridge off on delete only if it switched it on. Who did is kept in the
    custom resource's PhysicalResourceId, which CloudFormation stores and sends back with every
    later Update and Delete: ``<bucket>#eventbridge-switched-on-by-stack`` when this stack wrote it
    on, ``<bucket>#eventbridge-already-on`` when it found it on. A failed Create answers
    ``<bucket>#eventbridge-not-switched-on``. Bucket names cannot contain ``#``, so the first
    ``#`` splits the two parts; any other id (one CloudFormation invented, say) owns nothing.

The read-modify-write race
    S3 offers no conditional write for this document. If another tool writes the configuration
    between our read and our write, our write silently undoes its change (and it may undo ours in
    the same way). The window is one round trip; ``eventbridge_switch`` reads the document back
    after writing and logs a warning when the other entries are not what it wrote. Bucket
    configuration reads are eventually consistent, so that warning can also mean a stale read.

Known limits of stateless ownership
    - Two stacks attached to one bucket: the first switches EventBridge on (and owns it), the
      second finds it on. Deleting the first switches it off under the second.
    - A repeated delivery of a Create after the first one had written EventBridge on finds it on
      and answers "already on": the stack then leaves EventBridge on when it is deleted. Leaving
      it on is the safe direction; switching off what another tool switched on would not be.
    - A Create whose write was already on its way when the timeout guard answered FAILED (see
      ``custom_resource``) may leave EventBridge on under a "not switched on" id: same direction.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TypeIs

from cfinvalidator.ports import NotificationDocument

EVENTBRIDGE_KEY = "EventBridgeConfiguration"
OTHER_KEYS = ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")
SEPARATOR = "#"
# Today's rules (3-63 characters: lower-case letters, digits, dots, hyphens) and the legacy
# us-east-1 names (up to 255, also upper case and underscores). Neither allows a SEPARATOR.
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")


# ----------------------------------------------------------------------------- the document
def eventbridge_enabled(document: NotificationDocument) -> bool:
    """Whether the bucket sends its events to EventBridge."""
    return EVENTBRIDGE_KEY in document


def with_eventbridge(document: NotificationDocument) -> dict[str, object]:
    """A copy of ``document`` with EventBridge delivery on; everything else as it was."""
    switched_on = copy.deepcopy(dict(document))
    switched_on.setdefault(EVENTBRIDGE_KEY, {})
    return switched_on


def without_eventbridge(document: NotificationDocument) -> dict[str, object]:
    """A copy of ``document`` with EventBridge delivery off; everything else as it was."""
    return {key: copy.deepcopy(value) for key, value in document.items() if key != EVENTBRIDGE_KEY}


def changed_entries(expected: NotificationDocument, actual: NotificationDocument) -> list[str]:
    """The top-level keys whose values differ between two documents, in a stable order."""
    keys = sorted(set(expected) | set(actual))
    return [key for key in keys if expected.get(key) != actual.get(key)]


# ------------------------------------------------------------------- the physical resource id
def valid_bucket_name(name: object) -> TypeIs[str]:
    """Whether ``name`` can be a bucket's name (so contains no SEPARATOR)."""
    return isinstance(name, str) and _BUCKET_NAME.fullmatch(name) is not None


class Ownership(Enum):
    """What the stack did to the bucket's EventBridge delivery (the physical id's suffix)."""

    SWITCHED_ON = "eventbridge-switched-on-by-stack"
    ALREADY_ON = "eventbridge-already-on"
    NOT_SWITCHED_ON = "eventbridge-not-switched-on"


@dataclass(frozen=True, slots=True)
class ResourceId:
    bucket: str
    ownership: Ownership

    def __str__(self) -> str:
        return f"{self.bucket}{SEPARATOR}{self.ownership.value}"

    @classmethod
    def parse(cls, physical_id: object) -> ResourceId | None:
        """The id this module wrote, or None for anything else (an id CloudFormation invented
        after a failed Create, a malformed one)."""
        if not isinstance(physical_id, str):
            return None
        bucket, separator, suffix = physical_id.partition(SEPARATOR)
        if not separator or not valid_bucket_name(bucket):
            return None
        ownership = next((o for o in Ownership if o.value == suffix), None)
        return None if ownership is None else cls(bucket, ownership)


def failed_create_id(bucket_or_logical_id: str) -> str:
    """The physical id of a Create that failed: a later Delete for it does nothing."""
    return f"{bucket_or_logical_id}{SEPARATOR}{Ownership.NOT_SWITCHED_ON.value}"


# ----------------------------------------------------------------------------- the decision
class RequestType(StrEnum):
    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"


class Change(Enum):
    SWITCH_ON = "switch on"
    SWITCH_OFF = "switch off"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write (``change``) and the physical id to answer."""

    change: Change
    resource_id: ResourceId


def bucket_to_read(
    request_type: RequestType, bucket: str | None, physical_id: str | None
) -> str | None:
    """The bucket whose configuration the request must read first, or None: nothing to do.

    Create and Update read the requested ``bucket``. Delete reads only a bucket this stack
    switched on (its physical id says so); every other Delete succeeds without a call.
    """
    if request_type is RequestType.DELETE:
        previous = ResourceId.parse(physical_id)
        if previous is None or previous.ownership is not Ownership.SWITCHED_ON:
            return None
        return previous.bucket
    return bucket


def decide(
    request_type: RequestType, bucket: str, physical_id: str | None, enabled: bool
) -> Decision:
    """The change to make, given what the bucket's configuration says now (``enabled``).

    - Create: on already -> nothing, "already on"; off -> switch on, "switched on".
    - Update of the same bucket (the physical id names it): keep the ownership recorded, unless
      EventBridge was switched off meanwhile: then switch it on and own it. Update to another
      bucket: Create on the new one; CloudFormation then sends Delete for the old physical id.
    - Delete (``bucket`` is the one ``bucket_to_read`` returned): switch off only if on.
    """
    previous = ResourceId.parse(physical_id)
    if request_type is RequestType.DELETE:
        if previous is None or previous.ownership is not Ownership.SWITCHED_ON:
            raise ValueError(f"nothing to decide for Delete of {physical_id!r}")
        return Decision(Change.SWITCH_OFF if enabled else Change.NONE, previous)
    kept = (
        previous
        if request_type is RequestType.UPDATE
        and previous is not None
        and previous.bucket == bucket
        and previous.ownership is not Ownership.NOT_SWITCHED_ON
        else None
    )
    if enabled:
        found = ResourceId(bucket, Ownership.ALREADY_ON)
        return Decision(Change.NONE, kept if kept is not None else found)
    return Decision(Change.SWITCH_ON, ResourceId(bucket, Ownership.SWITCHED_ON))


def response_data(resource_id: ResourceId) -> dict[str, str]:
    """The answer's ``Data`` (read with Fn::GetAtt): strings, as CloudFormation passes them on."""
    owned = resource_id.ownership is Ownership.SWITCHED_ON
    return {
        "BucketName": resource_id.bucket,
        "EventBridgeSwitchedOnByStack": "true" if owned else "false",
    }
