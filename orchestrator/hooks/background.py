"""Detached hook runs: the committer gets the prompt back at once, the runs go on alone."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.process import spawn_detached
from orchestrator.trace.gitcmd import git_environment

# Set for the detached process, so that it runs in the foreground instead of detaching again.
DETACH_VARIABLE = "ORCH_HOOKS_DETACH"


def log_path(state_dir: Path, now: datetime | None = None) -> Path:
    """``<state_dir>/hooks/<timestamp>.log``, unique within the folder."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    folder = state_dir / "hooks"
    stem = f"{moment:%Y%m%dT%H%M%S.%fZ}"
    candidate, number = folder / f"{stem}.log", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}-{number}.log"
    return candidate


def _ignore(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# orch's local state: never committed\n*\n", encoding="utf-8")


def spawn(
    arguments: Sequence[str], root: Path, state_dir: Path, environ: Mapping[str, str]
) -> Path:
    """Start ``orch <arguments>`` in a session of its own, in ``root``, output to a log file
    under ``state_dir``; return the log's path without waiting."""
    _ignore(state_dir)
    log = log_path(state_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = git_environment(environ)
    env[DETACH_VARIABLE] = "0"
    try:
        argv = [sys.executable, "-P", "-m", "orchestrator", *arguments]
        spawn_detached(argv, cwd=root, env=env, log=log)
    except OSError as exc:
        raise UsageError(f"cannot start orch in the background: {exc}") from exc
    return log
