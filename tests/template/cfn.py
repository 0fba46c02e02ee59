"""Template helpers for the tests: cfn-lint's loader and a tiny intrinsic-function evaluator.

The evaluator covers the functions the template uses where behaviour matters (conditions, lists of
distribution ARNs, optional notification entries, the Rules assertions). It is deliberately small
and strict: anything it does not understand raises, so a test can never pass by accident. Strict
like CloudFormation, too: parameter values must satisfy their constraints, a Rules assertion may
use only the functions CloudFormation allows in Rules (no Fn::Join, no Fn::Select...), and a Ref
or Fn::GetAtt naming a resource that is not created with these parameter values raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from emulator.local_aws.template import load_template as load_template_file

ROOT: Final = Path(__file__).resolve().parents[2]
TEMPLATE_PATH: Final = ROOT / "template.yaml"
PARTITION: Final = "aws"
ACCOUNT_ID: Final = "123456789012"
REGION: Final = "us-east-1"
STACK_NAME: Final = "cloudfront-invalidator"


class _NoValue:
    """``AWS::NoValue``: removed from the list or mapping that holds it."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


# The Rules functions evaluated here (CloudFormation allows no others in a Rules assertion, and
# Ref only to parameters).
RULE_FUNCTIONS: Final = frozenset(
    {
        "Fn::And",
        "Fn::Contains",
        "Fn::EachMemberEquals",
        "Fn::EachMemberIn",
        "Fn::Equals",
        "Fn::Not",
        "Fn::Or",
        "Ref",
    }
)
# Functions that exist only in Rules: refused anywhere else.
_RULE_ONLY_FUNCTIONS: Final = frozenset(
    {"Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn"}
)


class UnsupportedIntrinsicError(ValueError):
    """The evaluator met something it cannot evaluate."""


class AbsentResourceError(UnsupportedIntrinsicError):
    """A Ref or Fn::GetAtt names a resource that these parameter values do not create."""


@cache
def _load(path: Path) -> dict[str, Any]:
    return load_template_file(path)


def load_template() -> dict[str, Any]:
    """template.yaml, parsed by the emulator's loader (the one the local deploy uses)."""
    return _load(TEMPLATE_PATH)


def resources_of_type(template: Mapping[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical ID."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == type_
    }


def iter_statements(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement anywhere below ``node``, with a readable path."""
    if isinstance(node, Mapping):
        statements = node.get("Statement")
        if isinstance(statements, list) and all(isinstance(s, Mapping) for s in statements):
            for index, statement in enumerate(statements):
                if "Effect" in statement:
                    yield f"{path}/Statement/{index}", dict(statement)
        for key, value in node.items():
            yield from iter_statements(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_statements(value, f"{path}/{index}")


def as_list(value: Any) -> list[Any]:
    """A statement's Action or Resource as a list."""
    return value if isinstance(value, list) else [value]


class Evaluator:
    """Evaluates intrinsic functions for one set of parameter values (defaults filled in)."""

    def __init__(self, template: Mapping[str, Any], **overrides: str) -> None:
        self._template = template
        self._params: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            raw = overrides.get(name, spec.get("Default"))
            if raw is None:
                raise ValueError(f"parameter {name} has no default: pass a value")
            raw = str(raw)
            is_list = spec["Type"] == "CommaDelimitedList"
            self._params[name] = [item.strip() for item in raw.split(",")] if is_list else raw
            _check_parameter(name, spec, self._params[name] if is_list else [raw])
        unknown = set(overrides) - set(self._params)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        self._in_rule = False
        self._pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        conditions = self._template.get("Conditions", {})
        if name not in conditions:
            raise UnsupportedIntrinsicError(f"no condition {name}")
        return self._condition_value(conditions[name])

    def creates(self, logical_id: str) -> bool:
        """Whether the resource ``logical_id`` exists with these parameter values."""
        resources = self._template["Resources"]
        if logical_id not in resources:
            raise UnsupportedIntrinsicError(f"no resource {logical_id}")
        condition = resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resources(self, type_: str | None = None) -> dict[str, dict[str, Any]]:
        """The resources created with these values (of one type, if given), by logical ID, with
        their Properties evaluated and DependsOn checked against the created resources."""
        created: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self._template["Resources"].items():
            if (type_ is not None and resource["Type"] != type_) or not self.creates(logical_id):
                continue
            for dependency in as_list(resource.get("DependsOn", [])):
                self._resource_marker(dependency)
            properties = self.evaluate(resource.get("Properties", {}))
            created[logical_id] = {"Type": resource["Type"], "Properties": properties}
        return created

    def outputs(self) -> dict[str, Any]:
        """The outputs created with these values, by name, with their Value evaluated."""
        return {
            name: self.evaluate(output["Value"])
            for name, output in self._template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def failed_rules(self) -> list[str]:
        """The names of the Rules that refuse these values (a rule whose RuleCondition does not
        hold refuses nothing). Only the functions CloudFormation allows in Rules are evaluated."""
        failed: list[str] = []
        for name, rule in self._template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._rule_value(rule["RuleCondition"]):
                continue
            if not all(self._rule_value(a["Assert"]) for a in rule["Assertions"]):
                failed.append(name)
        return failed

    def _rule_value(self, node: Any) -> bool:
        _check_rule_expression(node, set(self._params))
        self._in_rule = True
        try:
            value = self.evaluate(node)
        finally:
            self._in_rule = False
        if not isinstance(value, bool):
            raise UnsupportedIntrinsicError(f"not a rule assertion: {node!r}")
        return value

    def _condition_value(self, node: Any) -> bool:
        value = self.evaluate(node)
        if not isinstance(value, bool):
            raise UnsupportedIntrinsicError(f"not a condition: {node!r}")
        return value

    def evaluate(self, node: Any) -> Any:
        """Evaluate ``node``; ``Fn::GetAtt`` and resource ``Ref`` become ``<Id.Attr>`` markers."""
        if isinstance(node, list):
            items = [self.evaluate(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(arg)
            if key.startswith("Fn::") or key == "Condition":
                raise UnsupportedIntrinsicError(key)
        result = {key: self.evaluate(value) for key, value in node.items()}
        return {key: value for key, value in result.items() if value is not NO_VALUE}

    def _functions(self) -> dict[str, Any]:
        functions = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": lambda arg: arg[0].join(str(v) for v in self._list(arg[1])),
            "Fn::Split": lambda arg: self._str(arg[1]).split(arg[0]),
            "Fn::Select": lambda arg: self._list(arg[1])[int(self.evaluate(arg[0]))],
            "Fn::Sub": self._sub,
            "Fn::If": lambda arg: self.evaluate(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: self._str(arg[0]) == self._str(arg[1]),
            "Fn::Not": lambda arg: not self._condition_value(arg[0]),
            "Fn::And": lambda arg: all(self._condition_value(a) for a in arg),
            "Fn::Or": lambda arg: any(self._condition_value(a) for a in arg),
            "Fn::Contains": lambda arg: self._str(arg[1]) in self._list(arg[0]),
            "Fn::EachMemberEquals": lambda arg: all(
                self._text(item) == self._str(arg[1]) for item in self._list(arg[0])
            ),
            "Fn::EachMemberIn": lambda arg: all(
                self._text(item) in self._list(arg[1]) for item in self._list(arg[0])
            ),
            "Condition": self.condition,
        }
        if not self._in_rule:
            for name in _RULE_ONLY_FUNCTIONS:
                del functions[name]
        return functions

    def _get_att(self, arg: Any) -> str:
        if isinstance(arg, str):
            logical_id, _, attribute = arg.partition(".")
        elif isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg):
            logical_id, attribute = arg
        else:
            raise UnsupportedIntrinsicError(f"Fn::GetAtt {arg!r}")
        if not attribute:
            raise UnsupportedIntrinsicError(f"Fn::GetAtt {arg!r} names no attribute")
        return self._resource_marker(logical_id, attribute)

    def _resource_marker(self, logical_id: str, attribute: str = "") -> str:
        """``<Id>`` or ``<Id.Attr>`` for a resource that is created; raise for any other."""
        if not self.creates(logical_id):
            raise AbsentResourceError(f"{logical_id} is not created with these parameter values")
        return f"<{logical_id}.{attribute}>" if attribute else f"<{logical_id}>"

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._params:
            return self._params[name]
        if name in self._template["Resources"]:
            return self._resource_marker(name)
        raise UnsupportedIntrinsicError(f"Ref {name}")

    def _str(self, node: Any) -> str:
        value = self.evaluate(node)
        if not isinstance(value, str):
            raise UnsupportedIntrinsicError(f"expected a string from {node!r}, got {value!r}")
        return value

    @staticmethod
    def _text(value: Any) -> str:
        if not isinstance(value, str):
            raise UnsupportedIntrinsicError(f"expected a string, got {value!r}")
        return value

    def _list(self, node: Any) -> list[Any]:
        value = self.evaluate(node)
        if not isinstance(value, list):
            raise UnsupportedIntrinsicError(f"expected a list from {node!r}, got {value!r}")
        return value

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {name: self._str(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            value = self._ref(name) if "." not in name else self._get_att(name)
            if not isinstance(value, str):
                raise UnsupportedIntrinsicError(f"${{{name}}} is not a string")
            return value

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def _check_parameter(name: str, spec: Mapping[str, Any], items: list[str]) -> None:
    """Refuse a value CloudFormation would refuse (list parameters are checked item by item)."""
    problems: list[str] = []
    for item in items:
        if "AllowedValues" in spec and item not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"{item!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and re.fullmatch(spec["AllowedPattern"], item) is None:
            problems.append(f"{item!r} does not match {spec['AllowedPattern']}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            problems.append(f"{item!r} is shorter than {spec['MinLength']}")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            problems.append(f"{item!r} is longer than {spec['MaxLength']}")
        if spec["Type"] == "Number":
            number = float(item)
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problems.append(f"{item} is below {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                problems.append(f"{item} is above {spec['MaxValue']}")
    if problems:
        raise ValueError(f"parameter {name}: " + "; ".join(problems))


def _check_rule_expression(node: Any, parameters: set[str]) -> None:
    """Refuse what CloudFormation refuses in a Rules assertion: a function other than the Rules
    functions, or a Ref to a resource. Pseudo parameters are refused too (whether Rules accept
    them is not documented, and the template does not need them)."""
    if isinstance(node, list):
        for item in node:
            _check_rule_expression(item, parameters)
        return
    if not isinstance(node, Mapping):
        return
    if len(node) != 1:
        raise UnsupportedIntrinsicError(f"not a Rules expression: {node!r}")
    ((key, arg),) = node.items()
    if key not in RULE_FUNCTIONS:
        # Fn::RefAll, Fn::ValueOf and Fn::ValueOfAll are Rules functions too, but not evaluated.
        raise UnsupportedIntrinsicError(f"{key} is not allowed in Rules (or not evaluated here)")
    if key == "Ref" and arg not in parameters:
        raise UnsupportedIntrinsicError(f"Rules may only Ref parameters, not {arg!r}")
    _check_rule_expression(arg, parameters)
