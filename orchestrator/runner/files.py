"""File steps: exactly the rendered text, written atomically inside the working tree."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from orchestrator.model import Step
from orchestrator.paths import PathEscape, inside
from orchestrator.record import FileWrite
from orchestrator.runner.outcome import Outcome


def target_of(step: Step, workdir: Path) -> Path:
    """Where a file step writes; raises ``PathEscape`` for a path outside the working tree."""
    assert step.file is not None
    return inside(workdir, step.file)


def write_file(step: Step, content: str, workdir: Path) -> Outcome:
    try:
        target = target_of(step, workdir)
    except PathEscape as exc:
        return Outcome(ok=False, log=f"{exc}\n", error=str(exc))
    data = content.encode("utf-8")
    previous = target.read_bytes() if target.is_file() else None
    changed = previous != data
    if changed or (step.mode is not None and _mode(target) != step.mode):
        _atomic_write(target, data, step.mode)
    digest = hashlib.sha256(data).hexdigest()
    state = "changed" if changed else "unchanged"
    record = FileWrite(path=step.file or "", sha256=digest, changed=changed)
    log = f"wrote {step.file} ({len(data)} bytes, sha256 {digest}, {state})\n"
    return Outcome(ok=True, log=log, file=record)


def _mode(path: Path) -> int | None:
    return path.stat().st_mode & 0o7777 if path.exists() else None


def _atomic_write(target: Path, data: bytes, mode: int | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    existing_mode = _mode(target)
    final_mode = mode if mode is not None else (existing_mode or 0o644)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).chmod(final_mode)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def current_text(step: Step, workdir: Path) -> str | None:
    """The file's text now, for ``orch plan``'s diff (None when absent or unreadable)."""
    try:
        target = target_of(step, workdir)
        return target.read_text(encoding="utf-8") if target.is_file() else None
    except (PathEscape, OSError, UnicodeDecodeError):
        return None
