"""Paths a document names must stay inside the working tree, outside ``.git/`` and ``.orch/``."""

from __future__ import annotations

from pathlib import Path

FORBIDDEN_TOP_LEVEL = (".git", ".orch")


class PathEscape(ValueError):
    """A path leaves the working tree or enters a folder orch keeps for itself."""


def inside(root: Path, relative: str) -> Path:
    """Resolve ``relative`` under ``root`` (symbolic links followed) or raise ``PathEscape``."""
    if not relative or "\x00" in relative:
        raise PathEscape(f"{relative!r} is not a usable path")
    if Path(relative).is_absolute():
        raise PathEscape(f"{relative} is absolute: give a path relative to the repository root")
    real_root = root.resolve()
    target = (real_root / relative).resolve()
    try:
        parts = target.relative_to(real_root).parts
    except ValueError:
        raise PathEscape(f"{relative} resolves outside the working tree {real_root}") from None
    if parts and parts[0] in FORBIDDEN_TOP_LEVEL:
        raise PathEscape(f"{relative} is inside {parts[0]}/, which orch never writes to")
    return target
