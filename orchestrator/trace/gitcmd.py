"""Running the ``git`` binary with a deliberate environment.

Git hooks export ``GIT_DIR``, ``GIT_INDEX_FILE``, ``GIT_WORK_TREE`` and friends. A trace write
started from a hook must never use the caller's index or be redirected to another
repository, so every git process orch starts gets :func:`git_environment`: the current
environment without the variables that choose a repository, an index or a work tree. Each
command names its repository explicitly (``cwd`` or ``--git-dir``).

Every git process of orch starts here (:func:`run_git`), and through
:func:`orchestrator.process.run_captured`, the one way orch runs a short command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.errors import TraceError
from orchestrator.process import run_captured

LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_INDEX_VERSION",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
    "GIT_REFLOG_ACTION",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
)

ORCH_NAME = "orch"
ORCH_EMAIL = "orch@localhost"


def git_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) without inherited repository-location variables."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if k not in LOCATION_VARIABLES}


def plumbing_environment() -> dict[str, str]:
    """:func:`git_environment` with orch as committer (for reflogs of ref updates)."""
    env = git_environment()
    env.update(
        GIT_COMMITTER_NAME=ORCH_NAME,
        GIT_COMMITTER_EMAIL=ORCH_EMAIL,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    return env


class GitFailed(TraceError):
    """A git command exited non-zero; ``stderr`` holds its message."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"git {' '.join(args)} failed ({returncode}): {stderr.strip()}")


def run_git(
    *args: str,
    cwd: Path | None = None,
    git_dir: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = 120.0,
    index_file: str | None = None,
) -> bytes:
    """Run git with a clean environment; return stdout, raise :class:`GitFailed` on failure.

    ``index_file`` is the one location git may be given from outside: the pre-commit hook
    reads the index git is committing, which ``git commit -a`` or ``git commit <paths>``
    make in a temporary file named by the ``GIT_INDEX_FILE`` it exports to the hook.
    """
    command = ["git"]
    if git_dir is not None:
        command.append(f"--git-dir={git_dir}")
    command.extend(args)
    env = plumbing_environment()
    if index_file is not None:
        env["GIT_INDEX_FILE"] = index_file
    try:
        done = run_captured(command, env=env, cwd=cwd, stdin=stdin, timeout=timeout)
    except OSError as exc:
        raise TraceError(f"could not run git {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise GitFailed(args, done.returncode, done.stderr.decode("utf-8", "replace"))
    return done.stdout
