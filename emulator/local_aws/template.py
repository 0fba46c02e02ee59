"""The one template loader: template.yaml with CloudFormation's short-form tags (``!Ref``...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import yaml

from emulator.local_aws.deployed import StackDeployError


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """YAML loader that understands ``!Ref``, ``!GetAtt``, ``!Sub``... like CloudFormation, and
    refuses a key repeated in one mapping, as CloudFormation does (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise StackDeployError(f"duplicate key {key!r} in one mapping (line {line})")
            seen.add(key)
        return cast(dict[Any, Any], super().construct_mapping(node, deep=deep))


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


def _construct_plain_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # CloudFormation reads 2010-09-09 as a string, not a date.
    return str(loader.construct_scalar(cast(yaml.ScalarNode, node)))


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_plain_string)


def load_template(template_path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) template into plain dicts."""
    loaded = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise StackDeployError(f"{template_path} is not a CloudFormation template")
    return cast(dict[str, Any], loaded)
