"""Template parameters checked as CloudFormation checks them before creating anything: names,
required values, constraints and the template's Rules (moto checks none of these)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from emulator.local_aws.deployed import StackDeployError

ParameterValue = str | int | float | Sequence[str]


def check_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    """What CloudFormation checks before it creates anything (moto checks none of it):
    declared names, required values, each parameter's constraints, and the template's Rules."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise StackDeployError(f"parameters not declared by the template: {unknown}")
    missing = sorted(
        name for name, spec in declared.items() if "Default" not in spec and name not in parameters
    )
    if missing:
        raise StackDeployError(f"parameters without a default need a value: {missing}")
    effective = effective_parameters(template, parameters)
    problems = [
        problem
        for name, spec in declared.items()
        for problem in _constraint_problems(name, spec, effective[name])
    ]
    problems += _failed_rule_assertions(template, effective)
    if problems:
        raise StackDeployError("invalid parameters: " + "; ".join(problems))


def _is_list_type(spec: Mapping[str, Any]) -> bool:
    kind = str(spec.get("Type", "String"))
    return kind == "CommaDelimitedList" or kind.startswith("List<")


def _constraint_problems(name: str, spec: Mapping[str, Any], value: str) -> list[str]:
    problems: list[str] = []
    items = value.split(",") if _is_list_type(spec) else [value]
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    pattern = spec.get("AllowedPattern")
    for item in items:
        if allowed and item not in allowed:
            problems.append(f"{name}={item!r} is not one of {allowed}")
        if pattern is not None and not re.fullmatch(str(pattern), item):
            problems.append(f"{name}={item!r}: {spec.get('ConstraintDescription', pattern)}")
    length_range = int(spec.get("MinLength", 0)), int(spec.get("MaxLength", 1 << 20))
    if spec.get("Type", "String") == "String" and not (
        length_range[0] <= len(value) <= length_range[1]
    ):
        problems.append(f"{name}: length {len(value)} is not within {length_range}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [*problems, f"{name}={value!r} is not a number"]
        low, high = spec.get("MinValue", float("-inf")), spec.get("MaxValue", float("inf"))
        if not float(low) <= number <= float(high):
            problems.append(f"{name}={value}: {spec.get('ConstraintDescription', 'out of range')}")
    return problems


def _failed_rule_assertions(
    template: Mapping[str, Any], parameters: Mapping[str, str]
) -> list[str]:
    """The AssertDescription of every Rules assertion that fails (rules whose RuleCondition
    holds). moto ignores the Rules section; CloudFormation refuses the stack."""
    values: dict[str, Any] = {
        name: value.split(",") if _is_list_type(spec) else value
        for name, spec in template.get("Parameters", {}).items()
        if (value := parameters.get(name)) is not None
    }
    failed: list[str] = []
    for rule_name, rule in template.get("Rules", {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _rule_value(condition, values):
            continue
        for assertion in rule.get("Assertions", []):
            if not _rule_value(assertion["Assert"], values):
                failed.append(f"rule {rule_name}: {assertion.get('AssertDescription', 'failed')}")
    return failed


def _rule_value(node: Any, values: Mapping[str, Any]) -> Any:
    """Evaluate a Rules expression (the functions CloudFormation allows there)."""
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return values[node["Ref"]]
    (function, argument), *_ = node.items()
    args = [_rule_value(a, values) for a in argument] if isinstance(argument, list) else argument
    if function == "Fn::And":
        return all(args)
    if function == "Fn::Or":
        return any(args)
    if function == "Fn::Not":
        return not args[0]
    if function == "Fn::Equals":
        return str(args[0]) == str(args[1])
    if function == "Fn::Contains":
        return str(args[1]) in [str(v) for v in args[0]]
    if function == "Fn::EachMemberEquals":
        return all(str(v) == str(args[1]) for v in args[0])
    if function == "Fn::EachMemberIn":
        return all(str(v) in [str(a) for a in args[1]] for v in args[0])
    raise StackDeployError(f"rule function {function} is not emulated")


def effective_parameters(
    template: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Declared defaults with the overrides applied, as CloudFormation reports them.

    (moto's DescribeStacks shows a CommaDelimitedList as a Python list repr.)
    """
    declared = template.get("Parameters", {})
    effective = {
        name: parameter_string(spec["Default"])
        for name, spec in declared.items()
        if "Default" in spec
    }
    effective.update(overrides)
    return effective


def parameter_string(value: ParameterValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return ",".join(value)
