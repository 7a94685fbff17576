"""The shared remote of distributed runs: workers' cached clones, fetching what a run needs,
and keeping a local trace branch level with the remote's.

A worker keeps one clone per repository (``--no-checkout``: runs happen in temporary
worktrees). Before a run it fetches the run's commit and the trace branch, and moves its own
trace branch up to the remote's (fast-forward, or the same union merge a rejected push makes),
so that its commits land on top of what other hosts pushed and its pushes rarely need a merge.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import TraceError
from orchestrator.process import host_name
from orchestrator.trace.gitcmd import GitFailed, run_git
from orchestrator.trace.merge import merge_roots, pushed_ref
from orchestrator.trace.objects import ObjectStore
from orchestrator.trace.repo import git_common_dir
from orchestrator.trace.writer import TraceWriter

ORIGIN = "origin"
FETCH_ATTEMPTS = 5
# Every writer's trace ref on the remote, and where readers fetch them to.
WRITERS = "refs/orch/trace"
SEEN_WRITERS = "refs/orch/seen-writers"
COMMITS_NAMESPACE = "refs/orch/commits"


def clone_dir(data_dir: Path, url: str) -> Path:
    """Where the worker keeps its clone of ``url``: readable name plus a hash of the URL."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1])[:40] or "repo"
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:10]
    return data_dir / "repos" / f"{tail.removesuffix('.git')}-{digest}"


@contextmanager
def clone_lock(path: Path) -> Iterator[None]:
    """Serialises fetches and ref moves in one clone (threads and processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_clone(data_dir: Path, url: str) -> Path:
    """The worker's clone of ``url``, made on first use (``git clone --no-checkout``)."""
    path = clone_dir(data_dir, url)
    with clone_lock(path):
        if (path / ".git").is_dir():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".clone-", dir=path.parent))
        try:
            run_git("clone", "--quiet", "--no-checkout", "--", url, str(scratch / "repo"))
            (scratch / "repo").rename(path)
        except GitFailed as exc:
            raise TraceError(
                f"cannot clone the shared repository {url}: {exc.stderr.strip()}"
            ) from exc
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return path


def has_commit(repo: Path, commit: str) -> bool:
    try:
        run_git("cat-file", "-e", f"{commit}^{{commit}}", cwd=repo)
    except GitFailed:
        return False
    return True


def fetch_for_run(repo: Path, commit: str, branch: str) -> None:
    """Fetch the trace branch and ``commit`` from origin; bring the local trace up to it."""
    with clone_lock(repo):
        _fetch_trace(repo, branch)
        if not has_commit(repo, commit):
            _fetch_commit(repo, commit)
        sync_trace(repo, branch)


def _fetch_commit(repo: Path, commit: str) -> None:
    quiet = ("--quiet", "--no-tags", "--no-write-fetch-head")
    for attempt in range(FETCH_ATTEMPTS):
        try:
            run_git("fetch", *quiet, ORIGIN, commit, cwd=repo)
            return
        except GitFailed as exc:
            why = exc.stderr.strip()
            if not _passing(why) or attempt == FETCH_ATTEMPTS - 1:
                raise TraceError(
                    f"commit {commit} is not on the shared repository "
                    f"({remote_url(repo, ORIGIN)}): push it there, then submit the run again "
                    f"({why})"
                ) from exc
        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))


def refresh_trace(repo: Path, branch: str, remote: str) -> None:
    """Fetch the remote's trace (the branch and every writer's ref) and fold it into the
    local branch: readers see what workers recorded elsewhere."""
    _fetch_trace(repo, branch, remote)
    sync_trace(repo, branch, remote)


def _seen(branch: str) -> str:
    """Where fetches for reading put the remote's trace: a ref of its own, so that they never
    contend with a push's update of ``refs/remotes/<remote>/<branch>``."""
    return f"refs/orch/seen/{branch}"


def writer_ref(repo: Path, branch: str) -> str:
    """The ref on the remote that this repository alone pushes its trace to:
    ``refs/orch/trace/<writer id>/<branch>``. The id (host name and random digits) is made
    once and kept in the repository's configuration (``orch.traceWriter``)."""
    git_dir = git_common_dir(repo)
    known = _writer_ids.get(git_dir)
    if known is None:
        try:
            known = run_git("config", "--get", "orch.traceWriter", git_dir=git_dir).decode().strip()
        except GitFailed:
            host = re.sub(r"[^A-Za-z0-9_-]+", "-", host_name())[:30] or "host"
            known = f"{host}-{secrets.token_hex(4)}"
            try:
                run_git("config", "orch.traceWriter", known, git_dir=git_dir)
            except GitFailed:  # another process wrote it first
                out = run_git("config", "--get", "orch.traceWriter", git_dir=git_dir)
                known = out.decode().strip()
        _writer_ids[git_dir] = known
    return f"{WRITERS}/{known}/{branch}"


_writer_ids: dict[Path, str] = {}


def _fetch_trace(repo: Path, branch: str, remote: str = ORIGIN) -> None:
    # An empty --refmap: git must not also move refs/remotes/<remote>/<branch>, which a
    # push of another thread or process may be updating at the same moment.
    writers = f"+{WRITERS}/*:{SEEN_WRITERS}/*"
    wanted = [f"+refs/heads/{branch}:{_seen(branch)}", writers]
    last = ""
    for attempt in range(FETCH_ATTEMPTS):
        try:
            quiet = ("--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=")
            run_git("fetch", *quiet, remote, *wanted, cwd=repo)
            return
        except GitFailed as exc:
            last = exc.stderr.strip()
            if "couldn't find remote ref" in last and len(wanted) == 2:
                wanted = [writers]  # the merged branch does not exist yet
                continue
            if not _passing(last):
                break
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise TraceError(f"cannot fetch the trace branch {branch!r} from {remote}: {last}")


def _passing(stderr: str) -> bool:
    """Whether a fetch failed for a moment only, because of another thread or process at
    work in the same clone: a ref it moves, or a worktree it adds (``git worktree add``
    writes the new worktree's HEAD as a null id first, which a fetch that looks at every
    worktree's HEAD at that moment calls a bad object)."""
    return "cannot lock ref" in stderr or ("bad object" in stderr and "worktrees/" in stderr)


def sync_trace(repo: Path, branch: str, remote: str = ORIGIN) -> None:
    """Fold the remote's trace as last fetched (its branch and every writer's ref) into the
    local trace branch."""
    git_dir = git_common_dir(repo)
    store = ObjectStore(git_dir)
    writers = store.list_refs(f"{SEEN_WRITERS}/")
    sources = [_seen(branch), *sorted(n for n in writers if n.endswith(f"/{branch}"))]
    fold(repo, branch, sources, f"refs/heads/{branch}", remote)


def fold(repo: Path, branch: str, sources: list[str], target: str, origin: str = "") -> None:
    """Bring ``target`` up to every ref of ``sources``: fast-forward when it is behind, a
    union merge of run folders when both moved, nothing when it is ahead. Tips folded before
    are remembered (``orch-folded.json`` in the git folder), so a source that did not move
    costs no git process."""
    git_dir = git_common_dir(repo)
    store = ObjectStore(git_dir)
    with _fold_lock(git_dir):
        memory = git_dir / "orch-folded.json"
        try:
            folded: dict[str, str] = json.loads(memory.read_text())
        except (OSError, ValueError):
            folded = {}
        for source in sources:
            theirs = store.read_ref(source)
            if theirs is None or folded.get(f"{target} {source}") == theirs:
                continue
            _fold_one(repo, store, branch, target, theirs, origin or source)
            folded[f"{target} {source}"] = theirs
        memory.write_text(json.dumps(folded, indent=0, sort_keys=True))


def _fold_one(
    repo: Path, store: ObjectStore, branch: str, target: str, theirs: str, origin: str
) -> None:
    git_dir = store.git_dir
    for _ in range(10):
        ours = store.read_ref(target)
        if ours == theirs:
            return
        if ours is not None and _is_ancestor(git_dir, theirs, ours):
            return
        if ours is None or _is_ancestor(git_dir, ours, theirs):
            new = theirs
        else:
            writer = TraceWriter(repo, branch)
            tree = merge_roots(store, branch, ours, theirs)
            message = f"orch: merge {branch} from {origin}\n\nUnion of run folders.\n".encode()
            new = writer.write_commit(tree, [ours, theirs], message)
        if store.update_ref(target, new, ours, f"orch: fold {origin} into {branch}"):
            return
    raise TraceError(f"could not bring {branch!r} in {repo} level with {origin}: it kept moving")


@contextmanager
def _fold_lock(git_dir: Path) -> Iterator[None]:
    fd = os.open(git_dir / "orch-fold.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def publish_view(repo: Path, branch: str, remote: str) -> None:
    """Push the folded trace to the remote's own ``<branch>``: the merged view that plain git
    readers of the remote see (``orch serve`` does this after each refresh)."""
    TraceWriter(repo, branch, remote=remote).push()


def _is_ancestor(git_dir: Path, older: str, newer: str) -> bool:
    try:
        run_git("merge-base", "--is-ancestor", older, newer, git_dir=git_dir)
    except GitFailed:
        return False
    return True


def remote_url(root: Path, remote: str) -> str:
    """The URL of ``remote`` (a remote's name, or already a URL or path)."""
    if "/" in remote or ":" in remote:
        return str(Path(remote).resolve()) if Path(remote).exists() else remote
    try:
        out = run_git("remote", "get-url", remote, cwd=root)
    except GitFailed as exc:
        raise TraceError(f"the trace remote {remote!r} is not a remote of {root}") from exc
    url = out.decode().strip()
    candidate = root / url  # an absolute url stays itself
    if "://" not in url and candidate.exists():
        return str(candidate.resolve())
    return url


def ensure_on_remote(root: Path, remote: str, commit: str) -> bool:
    """Make sure the remote has ``commit`` for workers to fetch. Known to be there when a
    remote-tracking branch contains it; otherwise it is pushed as
    ``refs/orch/commits/<commit>`` (the user's branches are never pushed). True when it
    pushed."""
    try:
        out = run_git(
            "for-each-ref", "--count=1", "--contains", commit, f"refs/remotes/{remote}/", cwd=root
        )
    except GitFailed:
        out = b""
    if out.strip():
        return False
    try:
        run_git("push", "--quiet", remote, f"{commit}:{COMMITS_NAMESPACE}/{commit}", cwd=root)
    except GitFailed as exc:
        raise TraceError(
            f"cannot push commit {commit[:12]} to {remote} for the workers to fetch: "
            f"{exc.stderr.strip()}"
        ) from exc
    return True


def pushed(writer: TraceWriter) -> bool:
    """True when the trace branch's tip is what the remote was last seen to hold (the last
    push succeeded)."""
    if writer.remote is None:
        return False
    tip = writer.store.read_ref(writer.ref)
    return tip is not None and tip == writer.store.read_ref(pushed_ref(writer))


def blob_at(repo: Path, commit: str, path: str) -> str | None:
    """The blob id of ``path`` in ``commit``, or None."""
    try:
        out = run_git("rev-parse", "--verify", "-q", f"{commit}:{path}", cwd=repo)
    except GitFailed:
        return None
    return out.decode().strip() or None
