"""Keeping a trace repository's object database packed.

The trace writer puts objects straight into the object database, so git's own housekeeping
(``git gc --auto``, started by commands such as ``git commit``) never runs in a repository
that only orch writes to: orch's own trace repository, or a server's checkout. Every run
adds a few dozen loose objects; left alone they grow without bound and slow every reader.

After each finished run the writer estimates the loose objects the way git does (the files
in one of the 256 fan-out folders) and, when git's default threshold may be passed, runs
``git gc --auto``. That command checks again with the repository's own settings (``gc.auto``,
``gc.autoDetach``) and packs in the background, so the run does not wait for it. While a gc
is running (``gc.pid``) or git would refuse one (``gc.log`` younger than a day), no process
is started at all.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from orchestrator.errors import TraceError
from orchestrator.trace.gitcmd import run_git

log = logging.getLogger(__name__)

# git's default ``gc.auto``; it samples the folder ``17`` of ``objects/``.
GIT_AUTO_THRESHOLD = 6700
SAMPLE_FOLDER = "17"
GC_LOG_EXPIRY_SECONDS = 24 * 3600


def may_need_packing(objects_dir: Path, threshold: int = GIT_AUTO_THRESHOLD) -> bool:
    """Whether the loose objects may be more than ``threshold`` (git's own estimate)."""
    try:
        names = (objects_dir / SAMPLE_FOLDER).iterdir()
        count = sum(1 for name in names if len(name.name) == 38)
    except OSError:
        return False
    return count > (threshold + 255) // 256


def _gc_busy_or_refused(git_dir: Path) -> bool:
    """A gc is running (``gc.pid``), or git would refuse an automatic one: the last one left
    a warning in ``gc.log`` within the day (git's ``gc.logExpiry``)."""
    if (git_dir / "gc.pid").exists():
        return True
    try:
        return time.time() - (git_dir / "gc.log").stat().st_mtime < GC_LOG_EXPIRY_SECONDS
    except OSError:
        return False


def pack_when_needed(git_dir: Path, threshold: int = GIT_AUTO_THRESHOLD) -> bool:
    """Start ``git gc --auto`` in ``git_dir`` when loose objects may have piled up.

    Returns whether it was started. A failure is logged, never raised: the run is already
    recorded, and packing is tried again after the next run.
    """
    if not may_need_packing(git_dir / "objects", threshold) or _gc_busy_or_refused(git_dir):
        return False
    try:
        run_git("gc", "--auto", "--quiet", git_dir=git_dir, timeout=600)
    except TraceError as exc:
        log.warning("could not pack the trace repository %s: %s", git_dir, exc)
        return False
    return True
