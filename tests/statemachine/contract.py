"""The notification contract, read from docs/architecture.md so the tests follow the document."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
FAILURE_FIELDS = frozenset({"error", "cause"})  # "FAILED (adds `error` and `cause`)"
COMPLETION_FIELDS = frozenset({"completionMilliseconds"})  # "COMPLETED (adds ...)"
ATTRIBUTE_NAMES = frozenset({"status", "distributionId"})


def documented_message_example() -> dict[str, Any]:
    """The JSON example under '## Notification message' in docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Notification message", 1)[1]
    match = re.search(r"```json\n(.*?)```", section, flags=re.DOTALL)
    assert match is not None, "docs/architecture.md lost its notification example"
    example: dict[str, Any] = json.loads(match.group(1))
    return example


def message_fields(status: str) -> frozenset[str]:
    fields = frozenset(documented_message_example())
    if status == "FAILED":
        return fields | FAILURE_FIELDS
    return fields | COMPLETION_FIELDS if status == "COMPLETED" else fields


def assert_message_matches_contract(
    message: dict[str, Any], status: str, tracker_input: dict[str, Any]
) -> None:
    """Exact field set, JSON types as in the documented example, values carried from the input."""
    assert set(message) == message_fields(status)
    assert message["status"] == status
    example = documented_message_example()
    for name, sample in example.items():
        value = message[name]
        assert type(value) is type(sample), f"{name}: {type(value).__name__}"
        if isinstance(sample, list):
            assert all(isinstance(item, str) for item in value), name
    for name in set(tracker_input) & set(example):
        assert message[name] == tracker_input[name], name
    finished = datetime.fromisoformat(message["finishedAt"])
    requested = datetime.fromisoformat(message["requestedAt"])
    assert finished.tzinfo is not None
    assert finished >= requested
    assert message["waitedSeconds"] >= 0
    if status == "COMPLETED":
        # finishedAt is PublishCompleted's entry, a moment after MeasureCompletion's
        elapsed = (finished - requested).total_seconds() * 1000
        assert isinstance(message["completionMilliseconds"], int)
        assert 0 <= message["completionMilliseconds"] <= elapsed + 1
    if status == "FAILED":
        assert isinstance(message["error"], str)
        assert message["error"]
        assert isinstance(message["cause"], str)
