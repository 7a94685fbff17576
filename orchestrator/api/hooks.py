"""``orch hooks``: install the git hooks, and what each hook does when git runs it.

``pre-commit`` checks the intent documents being committed, as staged. ``post-commit`` and
``post-merge`` run the approved documents a change concerns, each in a temporary detached
worktree of the commit, with trigger ``hook`` and the commit's author as actor; the user's
branch, index and working copy are never touched. A hook started inside an orch run does
nothing, so a step that commits never starts runs of its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator import hooks, runner
from orchestrator.api.apply import ACTIVE_RUN_VARIABLE, run_prepared
from orchestrator.api.receiving import prepare
from orchestrator.api.run_request import RunRequest
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.api.worktrees import temporary_worktree
from orchestrator.errors import Diagnostic, OrchError, UsageError
from orchestrator.hooks import BACKUP_SUFFIX, Change
from orchestrator.model import Document, RunState, Trigger
from orchestrator.trace.gitcmd import LOCATION_VARIABLES, git_environment
from orchestrator.trace.repo import changed_files, repo_root

PRE_COMMIT, POST_COMMIT, POST_MERGE = hooks.HOOK_NAMES
NOT_RUN = "not run"

__all__ = [
    "BACKUP_SUFFIX",
    "POST_COMMIT",
    "POST_MERGE",
    "PRE_COMMIT",
    "Change",
    "HookOutcome",
    "HookRun",
    "install_hooks",
    "run_hook",
    "uninstall_hooks",
]


@dataclass(frozen=True)
class HookRun:
    """One document a hook ran (or could not start)."""

    path: str
    workflow: str
    run_id: str | None
    state: str
    message: str | None = None

    @property
    def ok(self) -> bool:
        # pending: sent to a broker's workers (see api/dispatch.py).
        return self.state in (RunState.COMPLETED.value, RunState.PENDING.value)


@dataclass(frozen=True)
class HookOutcome:
    """What a hook did: problems found, runs made, or why it did nothing."""

    name: str
    problems: tuple[Diagnostic, ...] = ()
    runs: tuple[HookRun, ...] = ()
    skipped: str | None = None
    detached: tuple[str, ...] = ()
    log: Path | None = None

    @property
    def failed(self) -> bool:
        errors = any(problem.severity == "error" for problem in self.problems)
        return errors or any(not run.ok for run in self.runs)


def _root(where: Path) -> Path:
    root = repo_root(where)
    if root is None:
        raise UsageError(f"{where} is not in a git repository: git hooks need one")
    return root


def install_hooks(where: Path, force: bool = False) -> list[Change]:
    """Install orch's pre-commit, post-commit and post-merge hooks in ``where``'s repository."""
    return hooks.install(_root(where), force=force)


def uninstall_hooks(where: Path) -> list[Change]:
    """Remove orch's hooks (restoring hooks kept aside by ``install --force``)."""
    return hooks.uninstall(_root(where))


def run_hook(
    name: str,
    where: Path,
    args: Sequence[str] = (),
    *,
    commit: str | None = None,
    base: str | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[HookRun], None] | None = None,
) -> HookOutcome:
    """Do what hook ``name`` does, as git runs it in ``where`` with arguments ``args``.

    ``commit`` (default ``HEAD``) and ``base`` (post-merge; default ``ORIG_HEAD``) pin the
    change, as a detached run needs: HEAD may move before it starts.
    """
    environ = dict(os.environ if environ is None else environ)
    if name not in hooks.HOOK_NAMES:
        known = ", ".join(hooks.HOOK_NAMES)
        raise UsageError(f"orch has no '{name}' hook; its hooks are {known}")
    active = environ.get(ACTIVE_RUN_VARIABLE)
    if active:
        return HookOutcome(name, skipped=f"inside orch run {active}: hooks do nothing there")
    place = locate(_root(where), environ)
    if name == PRE_COMMIT:
        # git gives its pre-commit hook no arguments; the pre-commit framework gives the files
        # it checks.
        named = list(args) or None
        found = hooks.check_staged(place.root, place.settings.intents, environ, named)
        return HookOutcome(name, problems=tuple(found))
    with _without_inherited_location():
        return _after_change(name, place, commit, base, args, environ, progress)


def _after_change(
    name: str,
    place: DocumentHome,
    commit: str | None,
    base: str | None,
    args: Sequence[str],
    environ: Mapping[str, str],
    progress: Callable[[HookRun], None] | None,
) -> HookOutcome:
    root = place.root
    if name == POST_MERGE and not place.settings.hooks_post_merge:
        return HookOutcome(name, skipped="post-merge runs are off (setting hooks-post-merge)")
    if commit is None and hooks.rebasing(root):
        return HookOutcome(name, skipped="a rebase is replaying commits that already ran")
    commit = commit or hooks.resolve(root, "HEAD")
    if commit is None:
        return HookOutcome(name, skipped="no commit to run")
    if name == POST_MERGE:
        base = base or hooks.resolve(root, "ORIG_HEAD")
        if base is None:
            return HookOutcome(name, skipped="no ORIG_HEAD: cannot tell what the merge changed")
        changed = hooks.diff_names(root, base, commit)
    else:
        changed = changed_files(root, commit)
    parsed = hooks.documents_at(root, commit, place.settings.intents)
    problems = tuple(p for p in parsed.problems if p.path in changed)
    selected = hooks.changed_documents(parsed.documents, changed)
    if not selected:
        return HookOutcome(name, problems=problems, skipped="no approved document concerned")
    if place.settings.hooks_detach:
        arguments = ["hooks", "run", name, *args, "--commit", commit]
        arguments += ["--base", base] if base else []
        log = hooks.spawn(arguments, root, place.settings.state_dir, environ)
        return HookOutcome(name, problems=problems, detached=tuple(selected), log=log)
    actor = hooks.commit_author(root, commit)
    env = git_environment(environ)
    runs: list[HookRun] = []
    for path in selected:
        if place.settings.broker_url:
            ran = _send(place, commit, path, parsed.documents[path], actor, env)
        else:
            ran = _run_in_worktree(root, commit, path, parsed.documents[path].id, actor, env)
        if progress is not None:
            progress(ran)
        runs.append(ran)
    return HookOutcome(name, problems=problems, runs=tuple(runs))


def _run_in_worktree(
    root: Path, commit: str, path: str, workflow: str, actor: str, env: Mapping[str, str]
) -> HookRun:
    """Run one document in a temporary detached worktree of ``commit``, removed afterwards."""
    try:
        with temporary_worktree(root, commit) as tree:
            request = RunRequest(
                path=tree.path / path,
                workdir=tree.path,
                worktree=tree,
                trigger=Trigger.HOOK,
                actor=actor,
                environ=env,
            )
            record = run_prepared(prepare(request), runner.SilentObserver())
    except OrchError as exc:
        return HookRun(path, workflow, None, NOT_RUN, str(exc))
    message = None
    if record.error is not None:
        where = f"step '{record.error.step}': " if record.error.step else ""
        message = where + record.error.message
    return HookRun(path, record.workflow.id, record.run_id, record.state.value, message)


def _send(
    place: DocumentHome, commit: str, path: str, doc: Document, actor: str, env: Mapping[str, str]
) -> HookRun:
    """With a broker: record the run ``pending`` and send it to the workers."""
    from orchestrator.api import dispatch

    try:
        sent = dispatch.submit_committed(
            place, commit, doc, path, trigger=Trigger.HOOK, actor=actor, environ=env
        )
    except OrchError as exc:
        return HookRun(path, doc.id, None, NOT_RUN, str(exc))
    message = f"sent to the workers (queue {sent.queue})"
    return HookRun(path, doc.id, sent.queued.run_id, RunState.PENDING.value, message)


@contextlib.contextmanager
def _without_inherited_location() -> Iterator[None]:
    """Hide the ``GIT_DIR``/``GIT_INDEX_FILE``/... git exported to the hook from everything
    the runs do in this process (libraries included), and put them back afterwards."""
    saved = {name: os.environ.pop(name) for name in LOCATION_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
