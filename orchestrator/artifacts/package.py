"""Packaging: a deterministic zip of ``manifest.json`` + ``payload/``, or a single file.

Deterministic: entries sorted, timestamps fixed, permissions normalised to 0644 or 0755, so
the same payload files always give the same payload entries. Run-specific fields live only in
``manifest.json``; ``payload_sha256`` (over the sorted ``sha256  path`` lines of the payload,
as ``sha256sum`` prints them) is the same for the same payload in any run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import stat
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.artifacts.collect import PayloadFile
from orchestrator.errors import PublishError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Packaged:
    path: Path
    size: int
    sha256: str
    payload_sha256: str
    manifest: Mapping[str, Any]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_payload(files: list[PayloadFile]) -> tuple[list[dict[str, Any]], str]:
    """The manifest's ``files`` list and the ``payload_sha256`` over them."""
    listed = [
        {"path": f.name, "size": f.source.stat().st_size, "sha256": file_sha256(f.source)}
        for f in files
    ]
    lines = "".join(f"{entry['sha256']}  {entry['path']}\n" for entry in listed)
    return listed, hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _mode(path: Path) -> int:
    executable = path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return 0o755 if executable else 0o644


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the permission bits are read back
    return info


@contextlib.contextmanager
def _written(destination: Path) -> Iterator[Path]:
    """A path to write the package to; it becomes ``destination`` only when complete."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        yield partial
        partial.replace(destination)
    except OSError as exc:
        raise PublishError(f"cannot write the package {destination}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def build_zip(destination: Path, files: list[PayloadFile], manifest: Mapping[str, Any]) -> Packaged:
    with _written(destination) as partial, zipfile.ZipFile(partial, "w", compresslevel=6) as zip_:
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        zip_.writestr(_entry("manifest.json", 0o644), text)
        for payload in files:
            entry = _entry(f"payload/{payload.name}", _mode(payload.source))
            with payload.source.open("rb") as source, zip_.open(entry, "w") as target:
                shutil.copyfileobj(source, target, _CHUNK)
    return _packaged(destination, manifest)


def single_file(
    destination: Path, files: list[PayloadFile], manifest: Mapping[str, Any], artifact: str
) -> Packaged:
    if len(files) != 1:
        names = ", ".join(f.name for f in files)
        raise PublishError(
            f"artifact {artifact!r} has format: file but its patterns match {len(files)} "
            f"files ({names}); match exactly one, or use format: zip"
        )
    with _written(destination) as partial:
        shutil.copyfile(files[0].source, partial)
    return _packaged(destination, manifest)


def _packaged(destination: Path, manifest: Mapping[str, Any]) -> Packaged:
    return Packaged(
        path=destination,
        size=destination.stat().st_size,
        sha256=file_sha256(destination),
        payload_sha256=str(manifest["payload_sha256"]),
        manifest=manifest,
    )
