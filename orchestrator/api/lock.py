"""One run of a workflow at a time per repository, across processes.

The lock is ``fcntl.flock`` on ``<state_dir>/locks/<workflow-id>.lock``. The state folder
lives in the main working tree, so runs in temporary worktrees of the same repository share
it. The holder writes its pid and run id into the file, so a process that has to wait can say
whom it waits for. The kernel releases the lock when the holder's process ends, however it
ends, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from orchestrator.api.workspace import DocumentHome

WaitNotice = Callable[[str], None]


def lock_path(place: DocumentHome, workflow_id: str) -> Path:
    return place.settings.state_dir / "locks" / f"{workflow_id}.lock"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", errors="replace").split()
    except OSError:
        return "another run"
    if len(text) >= 2:
        return f"run {text[1]} (pid {text[0]})"
    if text:
        return f"a run (pid {text[0]})"
    return "another run"


def _ignore(state_dir: Path) -> None:
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# orch's local state: never committed\n*\n", encoding="utf-8")


@contextlib.contextmanager
def workflow_lock(
    place: DocumentHome,
    workflow_id: str,
    on_wait: WaitNotice | None = None,
    *,
    run_id: str | None = None,
) -> Iterator[None]:
    """Hold the workflow's lock for the ``with`` block; wait (after ``on_wait``) when held."""
    path = lock_path(place, workflow_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    _ignore(place.settings.state_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"waiting for {_holder(fd)} of {workflow_id} to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {run_id or '-'}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
