"""Helpers for tests that run documents: a repository with intent documents, and ``orch``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import build_file_tree, git


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def orch(repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    """Run the real ``orch`` command line in ``repo``."""
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=repo,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def document(front: str, body: str) -> str:
    return f"---\n{front.strip()}\n---\n\n{body.lstrip()}"


def commit_documents(repo: Path, files: dict[str, str]) -> Path:
    build_file_tree(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "documents")
    return repo


def trace_record(repo: Path, workflow: str, run_id: str) -> dict[str, Any]:
    text = git(repo, "show", f"orch-trace:runs/{workflow}/{run_id}/run.json")
    data: dict[str, Any] = json.loads(text)
    return data
