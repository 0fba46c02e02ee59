"""moto's Step Functions parser and JSONata, as the emulator installs them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from moto.stepfunctions.parser.asl.jsonata.jsonata import eval_jsonata_expression
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from emulator.local_aws.jsonata import install_jsonata
from tests.statemachine.harness import load_tracker_definition

TRACKER = load_tracker_definition("arn:aws:sns:us-east-1:123456789012:topic", 2, 60)
# A JSONata state with a JSONPath-only field: moto refuses it while that state's scope is open.
REFUSED = json.dumps(
    {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "QueryLanguage": "JSONata", "Parameters": {"a": 1}, "End": True}
        },
    }
)


@pytest.fixture(autouse=True)
def installed() -> None:
    install_jsonata()


def test_jsonata_expressions_are_evaluated() -> None:
    """Given the installed evaluator, then $toMillis subtracts ISO-8601 timestamps."""
    expression = "$toMillis('2026-12-03T10:00:01.500Z') - $toMillis('2026-12-03T10:00:00Z')"
    assert eval_jsonata_expression(expression) == 1500


def test_a_refused_definition_leaves_no_scope_behind() -> None:
    """Given a definition moto refuses inside a JSONata state, when the tracker is parsed next,
    then it parses (moto's shared scope stack would have kept the JSONata scope and refused
    every JSONPath state after it)."""
    with pytest.raises(ValueError, match="Unsupported declaration"):
        AmazonStateLanguageParser.parse(REFUSED)
    AmazonStateLanguageParser.parse(TRACKER)


def test_parses_in_several_threads_at_once_all_succeed() -> None:
    """Given the tracker parsed in 4 threads at once, 40 times (moto parses again in each
    execution's thread), then every parse succeeds."""

    def parse(_: int) -> bool:
        AmazonStateLanguageParser.parse(TRACKER)
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(parse, range(40)))
