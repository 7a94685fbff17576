"""Git questions the hooks ask: the intent documents of a commit or of the index being
committed, who wrote a commit, what a range changed.

Everything runs through :func:`~orchestrator.trace.gitcmd.run_git` (inherited ``GIT_*``
location variables removed) except the two reads of the index in :func:`index_entries` and
:func:`staged_paths`, which deliberately keep the ``GIT_INDEX_FILE`` git gave the pre-commit
hook: ``git commit -a`` or ``git commit <paths>`` commit a temporary index, not
``.git/index``, and that index is what must be checked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from orchestrator.errors import TraceError
from orchestrator.trace.gitcmd import GitFailed, git_environment, run_git

INDEX_VARIABLE = "GIT_INDEX_FILE"


def _paths(out: bytes) -> list[str]:
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def _listing(out: bytes) -> Iterator[tuple[tuple[str, str, str], str]]:
    """``ls-tree -z`` / ``ls-files -s -z`` output: (the three fields before the tab, path)."""
    for entry in _paths(out):
        meta, _, path = entry.partition("\t")
        first, second, third = meta.split(" ")
        yield (first, second, third), path


def resolve(root: Path, revision: str) -> str | None:
    """The commit ``revision`` names, or None when it names none."""
    try:
        out = run_git("rev-parse", "--verify", "-q", f"{revision}^{{commit}}", cwd=root)
    except GitFailed:
        return None
    return out.decode().strip() or None


def commit_author(root: Path, commit: str) -> str:
    """``Name <email>`` of the author of ``commit``."""
    return run_git("log", "-1", "--format=%an <%ae>", commit, cwd=root).decode().strip()


def diff_names(root: Path, base: str, commit: str) -> list[str]:
    """Paths that differ between two commits (what a merge or a pull brought in)."""
    out = run_git("diff", "--no-renames", "--name-only", "-z", base, commit, "--", cwd=root)
    return sorted(_paths(out))


def tree_blobs(root: Path, commit: str) -> dict[str, str]:
    """Every file of ``commit``: repository-relative path -> blob id."""
    out = run_git("ls-tree", "-r", "-z", "--full-tree", commit, cwd=root)
    return {path: blob for (_mode, kind, blob), path in _listing(out) if kind == "blob"}


def read_blobs(root: Path, blob_ids: Iterable[str]) -> dict[str, bytes]:
    """The contents of many blobs with one ``git cat-file --batch``."""
    wanted = sorted(set(blob_ids))
    if not wanted:
        return {}
    out = run_git("cat-file", "--batch", cwd=root, stdin="".join(f"{b}\n" for b in wanted).encode())
    contents: dict[str, bytes] = {}
    position = 0
    for _ in wanted:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].decode().split()
        position = header_end + 1
        if len(header) != 3:  # "<id> missing"
            continue
        size = int(header[2])
        contents[header[0]] = out[position : position + size]
        position += size + 1
    return contents


def index_environment(environ: Mapping[str, str], root: Path) -> dict[str, str]:
    """The environment for reading the index git is committing: every inherited location
    variable removed except ``GIT_INDEX_FILE``, made absolute (git may give it relative to the
    work tree, where hooks start)."""
    env = git_environment(environ)
    index = environ.get(INDEX_VARIABLE)
    if index:
        env[INDEX_VARIABLE] = str(root / index) if not Path(index).is_absolute() else index
    env["LC_ALL"] = "C"
    return env


def _index_git(root: Path, env: Mapping[str, str], *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, env=dict(env), capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TraceError(f"could not run git {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise GitFailed(args, done.returncode, done.stderr.decode("utf-8", "replace"))
    return done.stdout


def staged_paths(root: Path, env: Mapping[str, str]) -> list[str]:
    """Paths the commit being made adds, copies, modifies or renames (deletions excluded)."""
    out = _index_git(root, env, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z", "--")
    return sorted(_paths(out))


def index_entries(root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Every merged (stage 0) entry of the index: path -> blob id."""
    out = _index_git(root, env, "ls-files", "-s", "-z")
    return {path: blob for (_mode, blob, stage), path in _listing(out) if stage == "0"}


def rebasing(root: Path) -> bool:
    """True while a rebase replays commits in ``root``'s work tree (git runs post-commit for
    each replayed commit)."""
    for state in ("rebase-merge", "rebase-apply"):
        out = run_git("rev-parse", "--path-format=absolute", "--git-path", state, cwd=root)
        if Path(out.decode().strip()).is_dir():
            return True
    return False
