"""What orch kept of a run, all of it: for asserting that a secret is in none of it."""

from __future__ import annotations

import subprocess
from pathlib import Path


def stored_bytes(repo: Path) -> bytes:
    """Every object of the repository's object database, decompressed (loose and packed,
    reachable or not, so a trace commit that was written and dropped counts too), and every
    file under ``.orch/`` (run folders, journals, the outbox)."""
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    state = repo / ".orch"
    files = [path.read_bytes() for path in sorted(state.rglob("*")) if path.is_file()]
    return objects + b"".join(files)


def assert_absent(secrets: list[str], *places: str | bytes) -> None:
    """None of ``secrets`` occurs in any of ``places``."""
    for secret in secrets:
        for place in places:
            data = place.encode() if isinstance(place, str) else place
            assert secret.encode() not in data, f"{secret!r} leaked"
