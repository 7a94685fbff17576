"""Where a document lives: its repository (or folder), settings, and git facts about it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator import config
from orchestrator.errors import UsageError
from orchestrator.trace import repo
from orchestrator.trace.gitcmd import GitFailed, run_git


@dataclass(frozen=True)
class DocumentHome:
    """A document's home: the repository root (or its folder outside git) and settings."""

    root: Path
    in_repository: bool
    settings: config.Settings


def locate(path: Path, environ: Mapping[str, str] | None = None) -> DocumentHome:
    environ = os.environ if environ is None else environ
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    root = repo.repo_root(path)
    in_repository = root is not None
    home = None
    if root is None:
        root = path.resolve() if path.is_dir() else path.resolve().parent
    else:
        common = repo.git_common_dir(root)
        if common.name == ".git" and common.parent != root:
            home = common.parent
    settings = config.load(root, environ, home=home)
    return DocumentHome(root=root, in_repository=in_repository, settings=settings)


def relative_to_root(place: DocumentHome, path: Path) -> str:
    try:
        return path.resolve().relative_to(place.root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"{path} is outside the repository {place.root}: "
            "run documents that live in the repository"
        ) from None


def working_copy_dirty(root: Path) -> bool:
    try:
        out = run_git("status", "--porcelain", "--untracked-files=no", cwd=root)
    except GitFailed:
        return False
    return bool(out.strip())


def git_identity(root: Path | None) -> str | None:
    """``Name <email>`` from git's configuration, when it has one."""
    try:
        out = run_git("config", "--get-regexp", r"^user\.(name|email)$", cwd=root).decode()
    except GitFailed:
        return None
    values = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    name, email = values.get("user.name", "").strip(), values.get("user.email", "").strip()
    return f"{name} <{email}>" if name else None
