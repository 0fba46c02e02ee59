"""What ``sam build`` ships: the layer and the batcher with precompiled python3.13 bytecode that
a read-only file system and zip timestamps cannot invalidate (PEP 552 unchecked-hash pycs).

The two Makefiles ``sam build`` runs (BuildMethod makefile) are run here the same way: in their
folder, with ARTIFACTS_DIR set. The layer's pip install reads the package registry.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# PEP 552: the flags word after the magic number; bit 0 hash-based, bit 1 check the source.
UNCHECKED_HASH = 0b01
FIND_APP = "import importlib.util; print(importlib.util.find_spec('app').cached)"


def _build(folder: Path, target: str, artifacts: Path) -> None:
    environment = {**os.environ, "ARTIFACTS_DIR": str(artifacts)}
    python = Path(sys.executable)
    subprocess.run(
        ["make", "--no-print-directory", target, f"PYTHON={python}"],
        cwd=folder,
        env=environment,
        check=True,
        capture_output=True,
    )


def _unchecked_pyc_for_every_module(root: Path) -> list[str]:
    """The sources under ``root`` without an unchecked-hash pyc for this interpreter."""
    missing: list[str] = []
    for source in root.rglob("*.py"):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.is_file():
            missing.append(f"{source.relative_to(root)}: no pyc")
            continue
        header = cached.read_bytes()[:8]
        flags = int.from_bytes(header[4:8], "little")
        if header[:4] != importlib.util.MAGIC_NUMBER or flags != UNCHECKED_HASH:
            missing.append(f"{source.relative_to(root)}: flags {flags}")
    return missing


@pytest.mark.slow
def test_the_layer_ships_unchecked_bytecode_for_every_module(tmp_path: Path) -> None:
    """Given the layer's Makefile,
    When it builds the layer as sam build does,
    Then the domain package and every dependency are there, each module with an unchecked-hash
    pyc, and no pyc carried over from the source folder."""
    _build(ROOT / "layers" / "shared", "build-SharedLayer", tmp_path)
    python = tmp_path / "python"

    assert {"cfinvalidator", "boto3", "botocore", "aws_lambda_powertools"} <= {
        p.name for p in python.iterdir()
    }
    assert _unchecked_pyc_for_every_module(python) == []
    assert (python / "cfinvalidator" / "service.py").read_bytes() == (
        ROOT / "layers" / "shared" / "cfinvalidator" / "service.py"
    ).read_bytes()


def test_the_batcher_ships_its_handler_with_unchecked_bytecode(tmp_path: Path) -> None:
    _build(ROOT / "functions" / "batcher", "build-BatcherFunction", tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["__pycache__", "app.py"]
    assert _unchecked_pyc_for_every_module(tmp_path) == []


def test_an_unchecked_pyc_is_used_even_when_the_source_is_newer(tmp_path: Path) -> None:
    """Given the built handler whose source then gets a newer timestamp (as unzipping may give),
    When Python imports it writing nothing,
    Then it loads the pyc: the pyc's own code runs, not the changed source."""
    _build(ROOT / "functions" / "batcher", "build-BatcherFunction", tmp_path)
    source = tmp_path / "app.py"
    source.write_text("raise SystemExit('compiled from source')\n", encoding="utf-8")
    os.utime(source, (2_000_000_000, 2_000_000_000))

    result = subprocess.run(
        [
            sys.executable,
            "-B",
            "-c",
            "import importlib.util as u; print(u.find_spec('app').cached)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    imported = subprocess.run(
        [sys.executable, "-B", "-c", "import app"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "layers" / "shared")},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.stdout.strip().endswith("app.cpython-313.pyc")
    assert "compiled from source" not in imported.stderr
    assert imported.returncode == 0, imported.stderr
