"""The template evaluator refuses what CloudFormation refuses, so template tests cannot pass on a
template that would not deploy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.cfn import AbsentResourceError, Evaluator, UnsupportedIntrinsicError


def _template(**sections: Any) -> dict[str, Any]:
    """A small template: a list parameter, a switch, and a resource created only when on."""
    return {
        "Parameters": {
            "Ids": {"Type": "CommaDelimitedList", "Default": "", "AllowedPattern": "^(E[0-9]+)?$"},
            "Switch": {"Type": "String", "Default": "off", "AllowedValues": ["on", "off"]},
            "Size": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
        },
        "Conditions": {
            "IsOn": {"Fn::Equals": [{"Ref": "Switch"}, "on"]},
            "IsOnWithIds": {
                "Fn::And": [
                    {"Condition": "IsOn"},
                    {"Fn::Not": [{"Fn::Equals": [{"Fn::Select": [0, {"Ref": "Ids"}]}, ""]}]},
                ]
            },
        },
        "Resources": {
            "Always": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Sometimes": {"Type": "AWS::SQS::Queue", "Condition": "IsOn", "Properties": {}},
        },
    } | sections


def _rule(assertion: Any) -> dict[str, Any]:
    return {"Rules": {"R": {"Assertions": [{"Assert": assertion}]}}}


def test_condition_references_inside_and() -> None:
    """Given a condition combining another condition with a parameter test
    When evaluating it for several values
    Then it follows both."""
    template = _template()

    assert Evaluator(template, Switch="on", Ids="E1").condition("IsOnWithIds") is True
    assert Evaluator(template, Switch="on").condition("IsOnWithIds") is False
    assert Evaluator(template, Switch="off", Ids="E1").condition("IsOnWithIds") is False


@pytest.mark.parametrize(("ids", "failed"), [("", ["R"]), (",", ["R"]), ("E1", []), (",E1", [])])
def test_each_member_equals_in_rules(ids: str, failed: list[str]) -> None:
    """Given a rule "not every item of Ids is empty"
    When evaluating it
    Then a list of empty items fails it and any ID passes it."""
    template = _template(**_rule({"Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "Ids"}, ""]}]}))

    assert Evaluator(template, Ids=ids).failed_rules() == failed


@pytest.mark.parametrize(
    "assertion",
    [
        {"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Ids"}]}, ""]},
        {"Fn::Equals": [{"Fn::Select": [0, {"Ref": "Ids"}]}, ""]},
        {"Fn::Equals": [{"Ref": "Always"}, ""]},
        {"Condition": "IsOn"},
        {"Fn::If": ["IsOn", True, False]},
    ],
    ids=["join", "select", "resource", "condition", "if"],
)
def test_rules_refuse_what_cloudformation_refuses_in_rules(assertion: Any) -> None:
    """Given a rule using a function or reference CloudFormation does not allow in Rules
    When evaluating the rules
    Then the evaluator raises instead of answering."""
    template = _template(**_rule(assertion))

    with pytest.raises(UnsupportedIntrinsicError, match="Rules"):
        Evaluator(template).failed_rules()


def test_rules_only_functions_are_refused_elsewhere() -> None:
    """Given Fn::EachMemberEquals outside Rules
    When evaluating it
    Then the evaluator raises."""
    evaluator = Evaluator(_template())

    with pytest.raises(UnsupportedIntrinsicError):
        evaluator.evaluate({"Fn::EachMemberEquals": [{"Ref": "Ids"}, ""]})


@pytest.mark.parametrize(
    "node",
    [
        {"Ref": "Sometimes"},
        {"Fn::GetAtt": ["Sometimes", "Arn"]},
        {"Fn::GetAtt": "Sometimes.Arn"},
        {"Fn::Sub": "${Sometimes}"},
        {"Fn::Sub": "${Sometimes.Arn}/x"},
    ],
    ids=["ref", "getatt", "getatt-string", "sub-ref", "sub-getatt"],
)
def test_references_to_resources_not_created_raise(node: Any) -> None:
    """Given a resource created only when Switch is on
    When a Ref, Fn::GetAtt or ${...} names it
    Then it evaluates to a marker when the resource is created and raises when it is not."""
    template = _template()

    assert "<Sometimes" in str(Evaluator(template, Switch="on").evaluate(node))
    with pytest.raises(AbsentResourceError, match="Sometimes"):
        Evaluator(template, Switch="off").evaluate(node)


def test_depends_on_a_resource_not_created_raises() -> None:
    """Given an unconditional resource depending on a conditional one
    When listing the created resources with the condition false
    Then the evaluator raises (CloudFormation refuses such a template)."""
    template = _template()
    template["Resources"]["Always"]["DependsOn"] = "Sometimes"

    assert set(Evaluator(template, Switch="on").resources()) == {"Always", "Sometimes"}
    with pytest.raises(AbsentResourceError, match="Sometimes"):
        Evaluator(template, Switch="off").resources()


@pytest.mark.parametrize(
    "node",
    [{"Ref": "Nothing"}, {"Fn::GetAtt": ["Nothing", "Arn"]}, {"Fn::Base64": "x"},
     {"Fn::If": ["NoSuchCondition", 1, 2]}, {"Fn::GetAtt": ["Always"]}],
)  # fmt: skip
def test_unknown_names_and_functions_raise(node: Any) -> None:
    """Given a reference to nothing, or a function the evaluator does not implement
    When evaluating it
    Then the evaluator raises."""
    with pytest.raises(UnsupportedIntrinsicError):
        Evaluator(_template()).evaluate(node)


@pytest.mark.parametrize(
    "overrides",
    [{"Switch": "On"}, {"Ids": "E1,X2"}, {"Size": "11"}, {"Size": "0"}, {"Unknown": "x"}],
)
def test_parameter_values_cloudformation_would_refuse_raise(overrides: dict[str, str]) -> None:
    """Given a parameter value outside its AllowedValues, AllowedPattern (per list item) or range,
    or an undeclared parameter
    When building an evaluator
    Then it raises, naming the parameter."""
    (name,) = overrides

    with pytest.raises(ValueError, match=name):
        Evaluator(_template(), **overrides)
