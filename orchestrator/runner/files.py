"""File steps: exactly the rendered text, written atomically inside the working tree.

The path is checked when the document is prepared and again right before the step writes
(an earlier step may have moved things). The write itself cannot be redirected either: it
walks from the working tree's root one folder at a time with ``O_NOFOLLOW`` relative to the
folder above (``openat``), so a folder swapped for a symbolic link while the step writes
makes the step fail instead of writing outside.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path

from orchestrator.errors import describe_os_error
from orchestrator.model import Step
from orchestrator.paths import PathEscape, inside
from orchestrator.record import FileWrite
from orchestrator.runner.outcome import Outcome

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# A component that is a symbolic link (ELOOP) or no longer a folder (ENOTDIR) now.
_MOVED = (errno.ELOOP, errno.ENOTDIR)


class Moved(Exception):
    """A folder on the way to a file step's target changed into something else mid-write."""


def target_of(step: Step, workdir: Path) -> Path:
    """Where a file step writes; raises ``PathEscape`` for a path outside the working tree."""
    assert step.file is not None
    return inside(workdir, step.file)


def write_file(step: Step, content: str, workdir: Path) -> Outcome:
    shown = step.file or ""
    try:
        target = target_of(step, workdir)
    except PathEscape as exc:
        return _failed(str(exc))
    root = workdir.resolve()
    if target.is_dir() or target == root:
        return _failed(
            f"{shown} is a folder: a file step writes one file; name it, like {shown}/NAME"
        )
    data = content.encode("utf-8")
    try:
        changed = write_beneath(root, target.relative_to(root).parts, data, step.mode)
    except Moved as exc:
        return _failed(f"{shown} changed while orch wrote it: {exc}; nothing was written")
    except OSError as exc:
        return _failed(describe_os_error(exc, f"writing {shown}", target))
    digest = hashlib.sha256(data).hexdigest()
    state = "changed" if changed else "unchanged"
    record = FileWrite(path=shown, sha256=digest, changed=changed)
    log = f"wrote {shown} ({len(data)} bytes, sha256 {digest}, {state})\n"
    return Outcome(ok=True, log=log, file=record)


def _failed(message: str) -> Outcome:
    return Outcome(ok=False, log=f"{message}\n", error=message)


def write_beneath(root: Path, parts: tuple[str, ...], data: bytes, mode: int | None) -> bool:
    """Write ``data`` to ``root/parts...`` atomically without following any symbolic link
    below ``root`` (missing folders are made). Returns whether the content changed.

    Raises ``Moved`` when a folder on the way is a symbolic link or not a folder (any more),
    ``OSError`` for what the system refuses (a full disk, permissions).
    """
    if not parts:
        raise Moved("it names the working tree itself")
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            below = _open_folder(folder, name)
            os.close(folder)
            folder = below
        return _replace(folder, parts[-1], data, mode)
    finally:
        os.close(folder)


def _open_folder(parent: int, name: str) -> int:
    for _ in range(2):
        try:
            return os.open(name, _DIRECTORY, dir_fd=parent)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):  # made by somebody else meanwhile
                os.mkdir(name, 0o777, dir_fd=parent)
        except OSError as exc:
            if exc.errno in _MOVED:
                raise Moved(f"{name} is no longer a folder inside the working tree") from None
            raise
    raise Moved(f"{name} keeps disappearing")


def _replace(folder: int, name: str, data: bytes, mode: int | None) -> bool:
    previous, existing_mode = _current(folder, name)
    changed = previous != data
    if not changed and (mode is None or existing_mode == mode):
        return False
    final_mode = mode if mode is not None else (existing_mode or 0o644)
    temporary = f".{name}.{secrets.token_hex(4)}.orch-tmp"
    fd = os.open(
        temporary,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=folder,
    )
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.fchmod(fd, final_mode)
        finally:
            os.close(fd)
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        raise
    return True


def _current(folder: int, name: str) -> tuple[bytes | None, int | None]:
    """The target's bytes and permission bits now (None, None when it does not exist)."""
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=folder
        )
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Moved(f"{name} became a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise Moved(f"{name} is a folder now")
        if not stat.S_ISREG(info.st_mode):
            raise Moved(f"{name} is not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), stat.S_IMODE(info.st_mode)
    finally:
        os.close(fd)


def current_text(step: Step, workdir: Path) -> str | None:
    """The file's text now, for ``orch plan``'s diff (None when absent or unreadable)."""
    try:
        target = target_of(step, workdir)
        return target.read_text(encoding="utf-8") if target.is_file() else None
    except (PathEscape, OSError, UnicodeDecodeError):
        return None
