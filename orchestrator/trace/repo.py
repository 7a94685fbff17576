"""Small typed answers to git questions about the source repository.

Every function runs git with :func:`~orchestrator.trace.gitcmd.git_environment`, so an
inherited ``GIT_DIR`` or ``GIT_INDEX_FILE`` (a git hook's environment) never redirects it.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.errors import TraceError
from orchestrator.trace.gitcmd import GitFailed, run_git
from orchestrator.trace.objects import ObjectStore

ZERO_ID = "0" * 40


def _directory_of(path: Path) -> Path:
    path = path.resolve()
    return path if path.is_dir() else path.parent


def repo_root(path: Path) -> Path | None:
    """Top folder of the work tree holding ``path`` (a file or folder), or None outside one."""
    start = _directory_of(Path(path))
    if not start.exists():
        return None
    try:
        out = run_git(
            "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", cwd=start
        )
    except GitFailed:
        return None
    lines = out.decode().splitlines()
    if len(lines) != 2 or not lines[0]:
        return None
    root = Path(lines[0])
    _common_dirs.setdefault(root.resolve(), Path(lines[1]))
    return root


def git_common_dir(repo: Path) -> Path:
    """The shared git directory (objects, refs) of ``repo``: a work tree, a .git or a bare repo."""
    repo = Path(repo)
    if not repo.is_dir():
        raise TraceError(f"trace repository {repo} is not a folder")
    return _common_dir(repo.resolve())


# Asked several times per run (trace reader, writer, locks); a repository's git folder does
# not move while orch runs. Failures are not kept.
_common_dirs: dict[Path, Path] = {}


def _common_dir(repo: Path) -> Path:
    known = _common_dirs.get(repo)
    if known is not None:
        return known
    try:
        out = run_git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=repo)
    except GitFailed as exc:
        raise TraceError(f"{repo} is not a git repository: {exc.stderr.strip()}") from exc
    common = _common_dirs[repo] = Path(out.decode().strip())
    return common


def own_git_dir(repo: Path) -> Path:
    """The git directory of the work tree ``repo`` (a linked worktree has its own, holding HEAD)."""
    try:
        out = run_git("rev-parse", "--absolute-git-dir", cwd=repo)
    except GitFailed as exc:
        raise TraceError(f"{repo} is not a git repository: {exc.stderr.strip()}") from exc
    return Path(out.decode().strip())


def read_head(git_dir: Path, common: ObjectStore) -> str | None:
    """The commit HEAD of ``git_dir`` points at, read without a process; None when unborn.

    ``common`` is the object store of the shared git directory, where branches live.
    """
    try:
        text = (git_dir / "HEAD").read_text().strip()
    except OSError as exc:
        raise TraceError(f"cannot read HEAD in {git_dir}: {exc}") from exc
    if text.startswith("ref: "):
        return common.read_ref(text[5:].strip())
    return text or None


def head_commit(root: Path) -> str | None:
    """The commit HEAD points at, or None on an unborn branch."""
    try:
        out = run_git("rev-parse", "--verify", "-q", "HEAD^{commit}", cwd=root)
    except GitFailed:
        return None
    return out.decode().strip() or None


def blob_id_of_text(text: str | bytes) -> str:
    """The id ``git hash-object`` gives these exact bytes (UTF-8 for text), without filters."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def file_commit(root: Path, relpath: str) -> str | None:
    """The last commit reachable from HEAD that touched ``relpath``, or None."""
    try:
        out = run_git("log", "-1", "--format=%H", "HEAD", "--", relpath, cwd=root)
    except GitFailed:
        return None
    return out.decode().strip() or None


def commit_time(root: Path, commit: str) -> datetime:
    """The committer time of ``commit``, in UTC."""
    out = run_git("show", "-s", "--format=%ct", commit, cwd=root)
    return datetime.fromtimestamp(int(out.decode().strip()), UTC)


def file_at(root: Path, commit: str, relpath: str) -> bytes | None:
    """The bytes of ``relpath`` in ``commit``, or None when the commit has no such file."""
    try:
        return run_git("cat-file", "blob", f"{commit}:{relpath}", cwd=root)
    except GitFailed:
        return None


def blob_at_head(root: Path, relpath: str) -> str | None:
    """The blob id of ``relpath`` in HEAD, or None when HEAD has no such file."""
    try:
        out = run_git("rev-parse", "--verify", "-q", f"HEAD:{relpath}", cwd=root)
    except GitFailed:
        return None
    return out.decode().strip() or None


def head_and_blob(root: Path, relpath: str) -> tuple[str | None, str | None]:
    """HEAD's commit and the blob id of ``relpath`` in it (None for what is missing).

    One git process answers both when both exist, as they do for a committed document; each
    is asked on its own only when one is missing.
    """
    try:
        out = run_git("rev-parse", "HEAD^{commit}", f"HEAD:{relpath}", "--", cwd=root)
    except GitFailed:
        return head_commit(root), blob_at_head(root, relpath)
    commit, blob = out.decode().split()[:2]
    return commit, blob


def is_dirty(root: Path, relpath: str, text: str | bytes) -> bool:
    """True when ``text`` differs from the blob HEAD holds for ``relpath`` (or HEAD has none)."""
    return blob_at_head(root, relpath) != blob_id_of_text(text)


def changed_files(root: Path, commit: str) -> list[str]:
    """Paths ``commit`` changed against its first parent (every path for a root commit)."""
    parents = run_git("rev-parse", f"{commit}^@", cwd=root).decode().split()
    if parents:
        out = run_git("diff-tree", "-r", "-z", "--name-only", parents[0], commit, cwd=root)
    else:
        out = run_git(
            "diff-tree", "-r", "-z", "--name-only", "--no-commit-id", "--root", commit, cwd=root
        )
    return sorted(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p)


def worktree_add(root: Path, commit: str, dest: Path) -> Path:
    """A detached work tree of ``commit`` at ``dest`` (for unattended runs); returns ``dest``."""
    run_git("worktree", "add", "--detach", "--force", str(dest), commit, cwd=root)
    return dest


def worktree_remove(root: Path, dest: Path) -> None:
    """Remove a work tree made by :func:`worktree_add`, even when files changed in it."""
    try:
        run_git("worktree", "remove", "--force", "--force", str(dest), cwd=root)
    finally:
        worktree_prune(root)


def worktree_prune(root: Path) -> None:
    """Forget the work trees whose folders are gone."""
    run_git("worktree", "prune", cwd=root)


def data_home() -> Path:
    """``$XDG_DATA_HOME`` or ``~/.local/share``."""
    configured = os.environ.get("XDG_DATA_HOME")
    if configured and Path(configured).is_absolute():
        return Path(configured)
    try:
        return Path.home() / ".local" / "share"
    except RuntimeError:  # no HOME, and no entry for this user in the user database
        raise TraceError(
            "orch keeps runs of documents outside a git repository under the home folder, "
            "and this user has none: set HOME or XDG_DATA_HOME, or run the document from a "
            "git repository"
        ) from None


def own_trace_repository() -> Path:
    """orch's own trace repository for documents outside any repository, created bare once."""
    path = data_home() / "orch" / "trace.git"
    if (path / "HEAD").is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        run_git("init", "--bare", "-q", str(path))
    except OSError as exc:
        raise TraceError(f"cannot create orch's trace repository {path}: {exc}") from exc
    return path


def trace_repository_for(path: Path) -> tuple[Path, bool]:
    """Where runs of a document at ``path`` go: (repository, True when orch's own one)."""
    root = repo_root(path)
    if root is not None:
        return root, False
    return own_trace_repository(), True
