"""Running a recorded run again: ``orch rerun`` (the whole document, the same revision and
inputs) and ``orch apply --resume`` (from the step where it stopped, the steps before taken
over from its record), and the same for ``orch serve``'s buttons and endpoints.

The recorded inputs are used as they are, except secret ones: those are never written down
(the record holds ``***``), so they are given again, with ``-i NAME=VALUE`` or in the
environment as ``ORCH_INPUT_<NAME>``; so is any input whose recorded value had a secret
masked inside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import document, runner
from orchestrator.api.apply import GitFacts, Prepared, RunRequest, new_run_id, prepare
from orchestrator.api.apply import validate_request as validate
from orchestrator.api.queueing import Queued, record_pending
from orchestrator.api.recording import trace_reader
from orchestrator.api.workspace import Place, locate
from orchestrator.document.inputs import environment_name
from orchestrator.errors import TraceError, UsageError
from orchestrator.model import Document, StepState, Trigger
from orchestrator.process import MASK
from orchestrator.record import Resumption, StepRecord, step_from_json, utc_now
from orchestrator.trace import repo
from orchestrator.trace.layout import TERMINAL_STATES

RESUMABLE = frozenset({"failed", "cancelled"})


@dataclass(frozen=True)
class Origin:
    """The recorded run that is run again."""

    workflow: str
    run_id: str
    record: Mapping[str, Any]

    @property
    def path(self) -> str:
        return str((self.record.get("document") or {}).get("path") or "")

    @property
    def state(self) -> str:
        return str(self.record.get("state"))


def origin(place: Place, run: str) -> Origin:
    reader = trace_reader(place)
    workflow, run_id = reader.find_run(run)
    record = reader.read_run(run_id)
    if not (record.get("document") or {}).get("path"):
        raise TraceError(f"run {run_id} records no document path: it cannot be run again")
    return Origin(workflow, run_id, record)


def committed_text(place: Place, found: Origin) -> tuple[str, bytes]:
    """(commit, text) of the document as the run read it; refused when no commit holds
    exactly that text (it ran outside git, or with uncommitted changes)."""
    doc = found.record.get("document") or {}
    commit, blob = doc.get("commit"), doc.get("blob")
    if not commit or not place.in_repository:
        raise UsageError(
            f"run {found.run_id} read {found.path} outside any commit: run it again from the "
            "working copy with --current"
        )
    data = repo.file_at(place.root, str(commit), found.path)
    if data is None:
        raise UsageError(
            f"commit {str(commit)[:12]} of run {found.run_id} is not in this repository (or "
            f"has no {found.path}): fetch it, or run the working copy with --current"
        )
    if blob and repo.blob_id_of_text(data) != blob:
        raise UsageError(
            f"run {found.run_id} ran {found.path} with uncommitted changes (blob "
            f"{str(blob)[:12]}), which no commit holds: run the working copy with --current"
        )
    return str(commit), data


def masked_names(recorded: Mapping[str, Any]) -> set[str]:
    """The inputs the record could not keep: secret ones, and those a secret was masked in."""
    return {
        name for name, value in recorded.items() if MASK in json.dumps(value, ensure_ascii=False)
    }


def rerun_inputs(
    found: Origin,
    pairs: Sequence[str] = (),
    given: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """(typed values, ``NAME=VALUE`` pairs) of a run's inputs run again: the recorded ones,
    and the masked ones from ``pairs``/``given`` or ``ORCH_INPUT_<NAME>`` in ``environ``."""
    recorded = dict(found.record.get("inputs") or {})
    masked = masked_names(recorded)
    typed = {name: value for name, value in recorded.items() if name not in masked}
    named = {pair.split("=", 1)[0].strip(): pair for pair in pairs}
    values = dict(given or {})
    unmasked = sorted((set(named) | set(values)) - masked)
    if unmasked:
        needed = ", ".join(sorted(masked)) or "none"
        raise UsageError(
            f"input(s) {', '.join(unmasked)}: a run again takes the inputs run "
            f"{found.run_id} recorded; give only the secret ones it needs again ({needed})"
        )
    environment = environ or {}
    out_pairs = list(named.values())
    missing = []
    for name in sorted(masked - set(named) - set(values)):
        variable = environment_name(name)
        if variable in environment:
            out_pairs.append(f"{name}={environment[variable]}")
        else:
            missing.append(f"'{name}' (-i {name}=VALUE or {variable})")
    if missing:
        raise UsageError(
            f"run {found.run_id} had secret input(s) that are never stored; give them again: "
            + ", ".join(missing)
        )
    return {**typed, **values}, out_pairs


@dataclass(frozen=True)
class ResumePlan:
    resumption: Resumption
    steps: Mapping[str, StepRecord]
    logs: Mapping[str, bytes]


def resume_point(found: Origin) -> str:
    """The step a resumed run starts at: the first one that did not end well (failed,
    cancelled, or skipped because the run stopped), in the recorded order."""
    if found.state not in RESUMABLE:
        doing = "ended well" if found.state == "completed" else f"is still {found.state}"
        raise UsageError(f"run {found.run_id} {doing}: only a failed or cancelled run resumes")
    for entry in found.record.get("steps") or []:
        if not isinstance(entry, dict) or _ended_well(entry):
            continue
        return str(entry.get("name"))
    error = (found.record.get("error") or {}).get("message") or found.state
    raise UsageError(
        f"every step of run {found.run_id} ended well (the run {found.state}: {error}): "
        f"there is no step to resume from; run it again with orch rerun {found.run_id}"
    )


def _ended_well(entry: Mapping[str, Any]) -> bool:
    state = entry.get("state")
    if state == StepState.COMPLETED.value:
        return True
    if state == StepState.FAILED.value and entry.get("continued_on_error"):
        return True
    because = str(entry.get("skipped_because") or "")
    return state == StepState.SKIPPED.value and because.startswith("if:")


def resume_plan(place: Place, found: Origin, doc: Document, *, force: bool) -> ResumePlan:
    """The steps before the resume point, taken over from ``found``; refused when one changed
    since (its source digest differs, or cannot be compared), unless ``force``."""
    point = resume_point(found)
    names = [step.name for step in doc.steps]
    if point not in names:
        raise UsageError(
            f"run {found.run_id} stopped at step '{point}', which {doc.path} no longer has: "
            "run the document again instead"
        )
    before = doc.steps[: names.index(point)]
    old = {
        str(entry.get("name")): entry
        for entry in found.record.get("steps") or []
        if isinstance(entry, dict)
    }
    problems: list[str] = []
    forceable: list[str] = []
    for step in before:
        entry = old.get(step.name)
        if entry is None:
            problems.append(f"step '{step.name}' comes before '{point}' but did not run in it")
        elif entry.get("source_sha256") is None:
            forceable.append(f"step '{step.name}' has no recorded source digest (an older orch)")
        elif entry.get("source_sha256") != runner.source_digest(step):
            forceable.append(f"step '{step.name}' changed since it ran")
    old_order = list(old)
    for name in old_order[: old_order.index(point)] if point in old_order else []:
        if name not in names:
            forceable.append(f"step '{name}' is no longer in the document")
    if problems or (forceable and not force):
        advice = (
            "its outputs may not fit the document any more: resume anyway with --force, or "
            f"run it again whole (orch rerun {found.run_id} --current)"
        )
        raise UsageError(
            f"run {found.run_id} cannot be resumed at step '{point}': "
            + "; ".join(problems + forceable)
            + ("" if problems else f"; {advice}")
        )
    taken = {
        step.name: dataclasses.replace(
            step_from_json(old[step.name], taken_from=found.run_id),
            log=runner.log_name(index, step),
        )
        for index, step in enumerate(before)
    }
    reader = trace_reader(place)
    logs: dict[str, bytes] = {}
    files = set(reader.list_files(found.run_id))
    for name in taken:
        recorded = old[name].get("log")
        if isinstance(recorded, str) and recorded in files:
            logs[name] = reader.read_file(found.run_id, recorded)
    resumption = Resumption(run=found.run_id, steps=tuple(taken), forced=bool(forceable))
    return ResumePlan(resumption, taken, logs)


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
    with _where_it_runs(place, found, current, document_path) as (path, workdir):
        doc = document.load(path)
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
                workdir=workdir,
                environ=environ,
                interactive=interactive,
                waits_for_people=not interactive,
                rerun_of=None if resume else found.run_id,
                resumes=plan.resumption if plan else None,
                taken_over=plan.steps if plan else {},
                taken_over_logs=plan.logs if plan else {},
            )
        )


def _check_again(found: Origin, resume: bool) -> None:
    """Refuse what cannot run again before anything else is asked for."""
    if resume:
        resume_point(found)
    elif found.state not in TERMINAL_STATES:
        raise UsageError(f"run {found.run_id} is still {found.state}: run it again once it ended")


@contextlib.contextmanager
def _where_it_runs(
    place: Place, found: Origin, current: bool, document_path: Path | None
) -> Iterator[tuple[Path, Path | None]]:
    if document_path is not None:
        yield document_path, None
        return
    if current:
        yield place.root / found.path, None
        return
    commit, _ = committed_text(place, found)
    with tempfile.TemporaryDirectory(prefix="orch-rerun-") as folder:
        tree = repo.worktree_add(place.root, commit, Path(folder) / "tree")
        try:
            yield tree / found.path, tree
        finally:
            with contextlib.suppress(Exception):
                repo.worktree_remove(place.root, tree)


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
