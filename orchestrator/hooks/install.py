"""Writing and removing orch's git hook scripts.

Each script is a few lines of POSIX sh carrying :data:`MARKER`; a hook file without it belongs
to somebody else. Installing never replaces such a file silently: it refuses, naming the file,
unless forced, and then keeps the foreign hook as ``<name>.orch-backup`` and runs it first
(its failure is the hook's failure). Uninstalling removes only orch's scripts and puts a
backup back in place.
"""

from __future__ import annotations

import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.trace.gitcmd import GitFailed, run_git
from orchestrator.trace.repo import git_common_dir

MARKER = "# orch-hook v1"
HOOK_NAMES = ("pre-commit", "post-commit", "post-merge")
BACKUP_SUFFIX = ".orch-backup"


@dataclass(frozen=True)
class Change:
    """What happened to one hook file."""

    path: Path
    action: str  # installed, updated, unchanged, chained, removed, restored, foreign, absent


def hooks_dir(root: Path) -> Path:
    """The folder git takes hooks from: ``core.hooksPath`` (relative to the work tree when
    relative), else the ``hooks`` folder of the common git directory."""
    try:
        configured = run_git("config", "--get", "core.hooksPath", cwd=root).decode().strip()
    except GitFailed:
        configured = ""
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else root / path
    return git_common_dir(root) / "hooks"


def is_orchs(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return MARKER.encode() in head.splitlines()


def script(name: str, python: str | None = None) -> str:
    """The hook script for ``name``, running orch with ``python`` (default: this Python)."""
    interpreter = shlex.quote(python or sys.executable)
    backup = f'"$0{BACKUP_SUFFIX}"'
    return (
        "#!/bin/sh\n"
        f"{MARKER}\n"
        "# Written by `orch hooks install`; `orch hooks uninstall` removes it.\n"
        f'if [ -x {backup} ]; then {backup} "$@" || exit $?; fi\n'
        # -P: a folder named "orchestrator" in the repository must not shadow orch itself
        f'exec {interpreter} -P -m orchestrator hooks run {name} "$@"\n'
    )


def _write_executable(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.orch-tmp")
    temporary.write_text(text, encoding="utf-8")
    mode = temporary.stat().st_mode
    temporary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    temporary.replace(path)


def install(root: Path, *, force: bool = False, python: str | None = None) -> list[Change]:
    """Install every hook; raise ``UsageError`` (changing nothing) when a foreign hook is in
    the way and ``force`` is false."""
    folder = hooks_dir(root)
    targets = [folder / name for name in HOOK_NAMES]
    foreign = [t for t in targets if t.exists() and not is_orchs(t)]
    for path in foreign:
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if not force:
            raise UsageError(
                f"{path} is a hook that orch did not write; orch leaves it alone. Run "
                f"`orch hooks install --force` to keep it as {backup.name} and run it before "
                "orch's hook, or remove it yourself"
            )
        if backup.exists():
            raise UsageError(
                f"{path} is not orch's hook and {backup} already exists: "
                "merge them by hand, then install again"
            )
    folder.mkdir(parents=True, exist_ok=True)
    changes: list[Change] = []
    for path in targets:
        text = script(path.name, python)
        if path in foreign:
            path.rename(path.with_name(path.name + BACKUP_SUFFIX))
            action = "chained"
        elif not path.exists():
            action = "installed"
        elif path.read_text(encoding="utf-8", errors="replace") == text:
            changes.append(Change(path, "unchanged"))
            continue
        else:
            action = "updated"
        _write_executable(path, text)
        changes.append(Change(path, action))
    return changes


def uninstall(root: Path) -> list[Change]:
    """Remove orch's hooks, putting back any hook that ``install --force`` kept aside."""
    folder = hooks_dir(root)
    changes: list[Change] = []
    for name in HOOK_NAMES:
        path = folder / name
        backup = path.with_name(name + BACKUP_SUFFIX)
        if not path.exists():
            changes.append(Change(path, "absent"))
        elif not is_orchs(path):
            changes.append(Change(path, "foreign"))
        elif backup.exists():
            backup.replace(path)
            changes.append(Change(path, "restored"))
        else:
            path.unlink()
            changes.append(Change(path, "removed"))
    return changes
