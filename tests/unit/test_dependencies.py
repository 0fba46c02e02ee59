"""The domain package's import rule (docs/architecture.md): the service depends on the ports,
never on an adapter (so on no AWS SDK), and imports only run down the tiers."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "layers" / "shared"
PACKAGE = SHARED / "cfinvalidator"
# Higher imports lower (or the same tier), never the other way: handler -> service -> planning
# -> ledger/collapse/events/retry/config/observability/adapters/origins/history/knowledge ->
# ports/payloads/paths/on_demand -> quotas/errors.
TIERS = {
    "service": 5,
    "planning": 4,
    "eventbridge_switch": 4,  # the custom resource's work (functions/bucket_events)
    "configuration_check": 4,  # the deploy-time check (functions/configuration_check)
    **dict.fromkeys(
        (
            "ledger",
            "collapse",
            "events",
            "retry",
            "config",
            "observability",
            "adapters",
            "origins",
            "history",
            "knowledge",
        ),
        3,
    ),
    **dict.fromkeys(("bucket_notifications", "custom_resource"), 3),
    **dict.fromkeys(("ports", "payloads", "paths", "on_demand"), 2),
    **dict.fromkeys(("quotas", "errors"), 1),
}
# custom_resource, eventbridge_switch and configuration_check (through custom_resource) log
# through observability (Powertools), as service does.
PURE = sorted(
    set(TIERS)
    - {
        "service",
        "observability",
        "adapters",
        "custom_resource",
        "eventbridge_switch",
        "configuration_check",
    }
)
_LOADED = (
    "import json, sys\n"
    "{imports}\n"
    "prefixes = ('boto3', 'botocore', 'aws_lambda_powertools', 'cfinvalidator.adapters')\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith(prefixes))))\n"
)


def _loaded_after(*modules: str) -> set[str]:
    """Modules of the AWS SDK, Powertools and the adapters a fresh interpreter has loaded after
    importing ``modules``."""
    imports = "\n".join(f"import {module}" for module in modules)
    env = {**os.environ, "PYTHONPATH": str(SHARED)}
    result = subprocess.run(
        [sys.executable, "-c", _LOADED.format(imports=imports)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_the_service_imports_no_adapter_and_nothing_of_botocore_the_adapters_use() -> None:
    """Given a fresh interpreter, when cfinvalidator.service is imported, then no adapter, no
    boto3 and no botocore module is loaded, except the bare ``botocore`` package: Powertools
    (imported by cfinvalidator.observability) tries ``import botocore`` itself, in
    aws_lambda_powertools.shared.user_agent, to add its user agent to SDK clients."""
    loaded = _loaded_after("cfinvalidator.service")
    sdk = {m for m in loaded if m.startswith(("boto3", "botocore", "cfinvalidator.adapters"))}
    assert sdk <= {"botocore"}
    assert "botocore.exceptions" not in loaded  # what every adapter imports


def test_the_pure_modules_import_neither_the_sdk_nor_powertools() -> None:
    """Given a fresh interpreter, when every pure module is imported, then neither boto3,
    botocore, Powertools nor an adapter is loaded."""
    assert _loaded_after(*(f"cfinvalidator.{name}" for name in PURE)) == set()


def _imported(path: Path) -> set[str]:
    """The cfinvalidator modules ``path`` imports, by their first name under the package."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
            if node.module == "cfinvalidator":
                modules = [f"cfinvalidator.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        names |= {m.split(".")[1] for m in modules if m.startswith("cfinvalidator.")}
    return names


def _tier_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_tiers(path: Path) -> None:
    """Given a module of the package, then it has a tier and imports nothing of a higher one."""
    importer = _tier_name(path)
    assert importer in TIERS, f"{importer}: give it a tier (and a row in docs/architecture.md)"
    upward = {name for name in _imported(path) if TIERS[name] > TIERS[importer]}
    assert not upward, f"{importer} imports {sorted(upward)}"
