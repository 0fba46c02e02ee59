"""Packaging like ``sam package``: local folders zipped, files uploaded to an artifacts bucket."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.local_aws.deployed import StackDeployError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


_PACKAGE_EXCLUDES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
# Fixed timestamp so that packaging the same folder twice gives the same zip (and S3 key), as
# `sam package` does with its content hash.
_ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)


@dataclass
class Packager:
    s3: S3Client
    bucket: str
    base_dir: Path
    local_sources: dict[str, Path] = field(default_factory=dict)
    """s3:// URI -> the local folder or file it was built from."""

    def package_dir(self, relative: str) -> str:
        folder = (self.base_dir / relative).resolve()
        if not folder.is_dir():
            raise StackDeployError(f"{relative!r} (resolved to {folder}) is not a folder")
        return self._upload(_zip_folder(folder), suffix=".zip", local=folder)

    def package_file(self, relative: str) -> str:
        path = (self.base_dir / relative).resolve()
        if not path.is_file():
            raise StackDeployError(f"{relative!r} (resolved to {path}) is not a file")
        return self._upload(path.read_bytes(), suffix=path.suffix, local=path)

    def _upload(self, body: bytes, *, suffix: str, local: Path) -> str:
        key = hashlib.md5(body, usedforsecurity=False).hexdigest() + suffix
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        uri = f"s3://{self.bucket}/{key}"
        self.local_sources[uri] = local
        return uri


def _zip_folder(folder: Path) -> bytes:
    # The layer is zipped as-is rather than built into python/ like `sam build`: moto never runs
    # the package (the local poller imports the handler from the source folders instead).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_dir() or _PACKAGE_EXCLUDES.intersection(relative.parts):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


_LOCAL_ARTIFACT_PROPERTIES: Mapping[str, tuple[str, bool]] = {
    # resource type -> (property, is a folder)
    "AWS::Serverless::Function": ("CodeUri", True),
    "AWS::Serverless::LayerVersion": ("ContentUri", True),
    "AWS::Serverless::StateMachine": ("DefinitionUri", False),
}


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def package_template(template: dict[str, Any], packager: Packager) -> None:
    """Replace local artifact paths with s3:// URIs, in place (``sam package``)."""
    function_globals = template.get("Globals", {}).get("Function", {})
    for resource in template["Resources"].values():
        artifact = _LOCAL_ARTIFACT_PROPERTIES.get(resource.get("Type", ""))
        if artifact is None:
            continue
        prop, is_folder = artifact
        properties = resource.setdefault("Properties", {})
        value = properties.get(prop)
        if value is None and resource["Type"] == "AWS::Serverless::Function":
            value = function_globals.get(prop)
        if not _is_local_path(value):
            continue
        properties[prop] = (
            packager.package_dir(value) if is_folder else packager.package_file(value)
        )
