"""Running a recorded run again: ``orch rerun`` (the whole document, the same revision and
inputs) and ``orch apply --resume`` (from the step where it stopped, the steps before taken
over from its record), and the same for ``orch serve``'s buttons and endpoints. What is
taken from the recorded run (its revision, inputs and steps) is read by ``origin``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator import document
from orchestrator.api.apply import GitFacts, new_run_id
from orchestrator.api.origin import (
    Origin,
    committed_text,
    origin,
    rerun_inputs,
    resume_plan,
    resume_point,
)
from orchestrator.api.queued_runs import Queued, record_pending
from orchestrator.api.receiving import prepare
from orchestrator.api.receiving import validate_request as validate
from orchestrator.api.run_request import Prepared, RunRequest
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.api.worktrees import TemporaryWorktree, temporary_worktree
from orchestrator.errors import UsageError
from orchestrator.model import Trigger
from orchestrator.record import utc_now
from orchestrator.trace.layout import TERMINAL_STATES


@contextlib.contextmanager
def prepared_again(
    where: Path,
    run: str,
    *,
    current: bool = False,
    document_path: Path | None = None,
    resume: bool = False,
    force: bool = False,
    pairs: Sequence[str] = (),
    confirmed: frozenset[str] = frozenset(),
    allow_draft: bool = False,
    interactive: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Prepared]:
    """A recorded run, validated to run again here: in a temporary worktree of the commit
    it read its document at (removed afterwards), or, with ``current`` or a
    ``document_path``, from the working copy. ``resume`` starts at the step where it stopped.
    A run that cannot ask a person (``interactive`` false) waits at manual steps."""
    place = locate(where)
    found = origin(place, run)
    _check_again(found, resume)
    with _where_it_runs(place, found, current, document_path) as (path, tree):
        doc = document.load(path, keep=tree is None)  # a worktree's path never comes again
        if doc.id != found.workflow:
            raise UsageError(
                f"{path} is workflow '{doc.id}', but run {found.run_id} is of '{found.workflow}'"
            )
        environment = os.environ if environ is None else environ
        typed, cli_pairs = rerun_inputs(found, pairs, environ=environment)
        plan = resume_plan(place, found, doc, force=force) if resume else None
        yield prepare(
            RunRequest(
                path=path,
                cli_inputs=tuple(cli_pairs),
                supplied_inputs=typed,
                allow_draft=allow_draft,
                confirmed=confirmed,
                workdir=tree.path if tree is not None else None,
                worktree=tree,
                environ=environ,
                interactive=interactive,
                waits_for_people=not interactive,
                rerun_of=None if resume else found.run_id,
                resumes=plan.resumption if plan else None,
                taken_over=plan.steps if plan else {},
                taken_over_logs=plan.logs if plan else {},
            ),
            parsed=doc,
        )


def _check_again(found: Origin, resume: bool) -> None:
    """Refuse what cannot run again before anything else is asked for."""
    if resume:
        resume_point(found)
    elif found.state not in TERMINAL_STATES:
        raise UsageError(f"run {found.run_id} is still {found.state}: run it again once it ended")


@contextlib.contextmanager
def _where_it_runs(
    place: DocumentHome, found: Origin, current: bool, document_path: Path | None
) -> Iterator[tuple[Path, TemporaryWorktree | None]]:
    if document_path is not None:
        yield document_path, None
        return
    if current:
        yield place.root / found.path, None
        return
    commit, _ = committed_text(place, found)
    with temporary_worktree(place.root, commit) as tree:
        yield tree.path / found.path, tree


def enqueue_again(
    where: Path,
    run: str,
    *,
    actor: str,
    resume: bool = False,
    force: bool = False,
    inputs: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Queued:
    """Queue a recorded run again for ``orch serve`` (trigger ``api``, the same commit and
    inputs; ``resume`` from where it stopped): validated now, recorded ``pending``."""
    place = locate(where)
    found = origin(place, run)
    _check_again(found, resume)
    commit, data = committed_text(place, found)
    path = place.root / found.path
    doc = document.parse(data.decode("utf-8"), path)
    environment = dict(os.environ if environ is None else environ)
    typed, pairs = rerun_inputs(found, given=inputs, environ=environment)
    plan = resume_plan(place, found, doc, force=force) if resume else None
    request = RunRequest(
        path=path,
        cli_inputs=tuple(pairs),
        supplied_inputs=typed,
        trigger=Trigger.API,
        actor=actor,
        workdir=place.root,
        run_id=new_run_id(),
        queued_at=utc_now(),
        environ=environment,
        rerun_of=None if resume else found.run_id,
        resumes=plan.resumption if plan else None,
        taken_over=plan.steps if plan else {},
    )
    prepared = validate(request, place, doc, found.path, environment)
    facts = GitFacts(commit, commit, document_dirty=False, workspace_dirty=False)
    queued = record_pending(prepared, commit, facts)
    return _with_origin(queued, prepared, found.run_id if resume else None, force)


def _with_origin(queued: Queued, prepared: Prepared, resumes: str | None, force: bool) -> Queued:
    # The resolved inputs, secret ones included: held in memory until the run starts (the
    # record has them masked), as for any run queued through the API.
    return dataclasses.replace(
        queued,
        inputs=dict(prepared.inputs),
        rerun_of=prepared.request.rerun_of,
        resumes=resumes,
        force=force,
    )
