"""The temporary worktree an unattended run runs in: a detached checkout of the commit it
runs, in a private temporary folder, gone when the run is done.

Every run that is not run in the user's working copy uses it: queued runs (``orch serve``,
``orch worker``), scheduled runs, hook runs and runs again of a recorded commit. One error
policy for all of them: a commit that cannot be checked out raises ``TraceError`` naming the
commit (nothing ran); a worktree that cannot be removed is logged as a warning, its folder is
deleted anyway and git forgets it, so cleaning up never hides how the run ended.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orchestrator.errors import OrchError, TraceError
from orchestrator.trace import repo

log = logging.getLogger("orch")


class TemporaryWorktree:
    """A checkout of ``commit`` at ``path``; ``remove`` may be called early (before the run
    is recorded finished) and again at the end."""

    def __init__(self, root: Path, commit: str, folder: Path) -> None:
        self.root = root
        self.commit = commit
        self.folder = folder
        self.path = folder / "tree"
        self.removed = False

    def remove(self) -> None:
        if self.removed:
            return
        self.removed = True
        try:
            repo.worktree_remove(self.root, self.path)
        except OrchError as exc:
            log.warning("could not remove the temporary worktree %s: %s", self.path, exc)
        self._forget()

    def _forget(self) -> None:
        self.removed = True
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OrchError):
            repo.worktree_prune(self.root)


@contextlib.contextmanager
def temporary_worktree(root: Path, commit: str) -> Iterator[TemporaryWorktree]:
    """A detached worktree of ``commit`` of the repository at ``root``, removed on exit.

    Raises ``TraceError`` (``could not check out <commit>: <why>``) when it cannot be made.
    """
    folder = Path(tempfile.mkdtemp(prefix="orch-worktree-"))
    tree = TemporaryWorktree(root, commit, folder)
    try:
        repo.worktree_add(root, commit, tree.path)
    except OrchError as exc:
        tree._forget()
        raise TraceError(f"could not check out {commit}: {exc}") from None
    try:
        yield tree
    finally:
        tree.remove()
