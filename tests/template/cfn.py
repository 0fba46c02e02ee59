"""Template helpers for the tests: cfn-lint's loader and a tiny intrinsic-function evaluator.

The evaluator covers the functions the template uses where behaviour matters (conditions, lists of
distribution ARNs, optional notification entries, the Rules assertion). It is deliberately small
and strict: anything it does not understand raises, so a test can never pass by accident.
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


class UnsupportedIntrinsicError(ValueError):
    """The evaluator met something it cannot evaluate."""


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
        unknown = set(overrides) - set(self._params)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        self._pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": REGION,
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        return self._condition_value(self._template["Conditions"][name])

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
        return {
            "Ref": self._ref,
            "Fn::GetAtt": lambda arg: f"<{'.'.join(arg) if isinstance(arg, list) else arg}>",
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
            "Condition": self.condition,
        }

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._params:
            return self._params[name]
        if name in self._template["Resources"]:
            return f"<{name}>"
        raise UnsupportedIntrinsicError(f"Ref {name}")

    def _str(self, node: Any) -> str:
        value = self.evaluate(node)
        if not isinstance(value, str):
            raise UnsupportedIntrinsicError(f"expected a string from {node!r}, got {value!r}")
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
            value = self._ref(name) if "." not in name else f"<{name}>"
            if not isinstance(value, str):
                raise UnsupportedIntrinsicError(f"${{{name}}} is not a string")
            return value

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")
