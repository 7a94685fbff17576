"""Claims: two schedulers never run the same cron time of a workflow.

Before a scheduler runs a due time it creates ``<state_dir>/schedule/claims/<workflow>/<time>``
with ``O_CREAT | O_EXCL``: the file system lets exactly one process create it, so of two
``orch schedule`` processes (or a ``--once`` from system cron next to a foreground scheduler)
one runs the time and the other skips it. The state folder is in the main working tree, so
every process on this host that schedules this repository shares it. After a run, older
claims of the workflow are pruned; the newest is kept, so a scheduler that read the trace
before that run was recorded still finds its time taken.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path


def claims_folder(state_dir: Path, workflow_id: str) -> Path:
    return state_dir / "schedule" / "claims" / workflow_id


def claim_name(cron_time: datetime) -> str:
    return cron_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def claim(state_dir: Path, workflow_id: str, cron_time: datetime) -> bool:
    """Take the cron time for this process; False when another process took it first."""
    folder = claims_folder(state_dir, workflow_id)
    folder.mkdir(parents=True, exist_ok=True)
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# orch's local state: never committed\n*\n", encoding="utf-8")
    try:
        fd = os.open(folder / claim_name(cron_time), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return True


def release(state_dir: Path, workflow_id: str, cron_time: datetime) -> None:
    """Give the cron time back (its run did not start), so a later pass may take it."""
    with contextlib.suppress(FileNotFoundError):
        (claims_folder(state_dir, workflow_id) / claim_name(cron_time)).unlink()


def prune(state_dir: Path, workflow_id: str, keep: datetime) -> None:
    """Remove the workflow's claims older than ``keep``."""
    newest = claim_name(keep)
    folder = claims_folder(state_dir, workflow_id)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name < newest:
            with contextlib.suppress(OSError):
                entry.unlink()
