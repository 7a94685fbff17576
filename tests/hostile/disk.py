"""Small, real file systems for full-disk tests: a tmpfs mounted by the test (root only)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git

NEEDS_ROOT = (
    "full-disk tests mount a small tmpfs, which needs root (CI runs as root); "
    f"this test runs as uid {os.geteuid()}"
)


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``256k``, ``2m``) mounted at ``path`` for the ``with`` block."""
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(folder: Path, name: str = "filler.bin") -> Path:
    """Write zeros into ``folder/name`` until the file system is full; returns the file."""
    target = folder / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return target


def open_runs(repo: Path, branch: str = "orch-trace") -> dict[str, Any]:
    """``open-runs.json`` at the tip of the trace branch of ``repo`` (read with plain git)."""
    runs: dict[str, Any] = json.loads(git(repo, "show", f"{branch}:open-runs.json"))["runs"]
    return runs
