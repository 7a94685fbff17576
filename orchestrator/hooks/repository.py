"""Git questions the hooks ask: the intent documents of a commit or of the index being
committed, who wrote a commit, what a range changed.

Everything runs through :func:`~orchestrator.trace.gitcmd.run_git` (inherited ``GIT_*``
location variables removed). The two reads of the index in :func:`index_entries` and
:func:`staged_paths` hand it the ``GIT_INDEX_FILE`` git gave the pre-commit hook:
``git commit -a`` or ``git commit <paths>`` commit a temporary index, not ``.git/index``,
and that index is what must be checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from orchestrator.trace.gitcmd import GitFailed, run_git

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


def index_file(environ: Mapping[str, str], root: Path) -> str | None:
    """The index git is committing, as the pre-commit hook's ``GIT_INDEX_FILE`` names it,
    made absolute (git may give it relative to the work tree, where hooks start); None
    outside a hook: then git reads the repository's own index."""
    index = environ.get(INDEX_VARIABLE)
    if not index:
        return None
    return index if Path(index).is_absolute() else str(root / index)


def staged_paths(root: Path, index: str | None) -> list[str]:
    """Paths the commit being made adds, copies, modifies or renames (deletions excluded)."""
    changed = ("diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z", "--")
    out = run_git(*changed, cwd=root, index_file=index)
    return sorted(_paths(out))


def index_entries(root: Path, index: str | None) -> dict[str, str]:
    """Every merged (stage 0) entry of the index: path -> blob id."""
    out = run_git("ls-files", "-s", "-z", cwd=root, index_file=index)
    return {path: blob for (_mode, blob, stage), path in _listing(out) if stage == "0"}


def rebasing(root: Path) -> bool:
    """True while a rebase replays commits in ``root``'s work tree (git runs post-commit for
    each replayed commit)."""
    for state in ("rebase-merge", "rebase-apply"):
        out = run_git("rev-parse", "--path-format=absolute", "--git-path", state, cwd=root)
        if Path(out.decode().strip()).is_dir():
            return True
    return False
