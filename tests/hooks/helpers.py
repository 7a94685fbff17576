"""Helpers for hook tests: real commits through installed hooks, and runs read from the trace."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from orchestrator.api import hooks as hooks_api
from tests.conftest import build_file_tree, git
from tests.core.helpers import document

AUTHOR = "Ann Author <ann@example.invalid>"


def approved(workflow: str, body: str, extra: str = "") -> str:
    front = f"id: {workflow}\ntitle: {workflow} workflow\nstatus: approved\n{extra}"
    return document(front, body)


def draft(
    workflow: str, body: str = "# Draft\n\n```sh {step=a}\ntrue\n```\n", extra: str = ""
) -> str:
    return document(f"id: {workflow}\ntitle: {workflow} workflow\n{extra}", body)


def installed(repo: Path) -> Path:
    hooks_api.install_hooks(repo)
    return repo


def commit(
    repo: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``git -C repo commit`` (from ``cwd``, default ``repo``) through the installed hooks;
    the caller checks the outcome."""
    return subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", *args],
        cwd=cwd or repo,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stage(repo: Path, files: dict[str, str]) -> None:
    build_file_tree(repo, files)
    git(repo, "add", *files)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def trace_runs(repo: Path, workflow: str) -> list[dict[str, Any]]:
    """Every run of ``workflow`` recorded on the trace branch, oldest first."""
    has_trace = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "orch-trace"], cwd=repo, capture_output=True
    )
    if has_trace.returncode != 0:
        return []
    listing = git(repo, "ls-tree", "--name-only", "orch-trace", f"runs/{workflow}/")
    records = [
        json.loads(git(repo, "show", f"orch-trace:{folder}/run.json")) for folder in listing.split()
    ]
    # Run ids give the second a run was created; its first transition gives the millisecond.
    return sorted(records, key=lambda r: (r["run_id"].split("-")[0], r["transitions"][0]["at"]))
