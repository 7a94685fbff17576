"""The recorded run a run again starts from (``orch rerun``, ``orch apply --resume`` and
the server's buttons): where its document is, the inputs it ran with, and the steps a resumed
run takes over from it.

The recorded inputs are used as they are, except secret ones: those are never written down
(the record holds ``***``), so they are given again, with ``-i NAME=VALUE`` or in the
environment as ``ORCH_INPUT_<NAME>``; so is any input whose recorded value had a secret
masked inside it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator import runner
from orchestrator.api.recording_runs import trace_reader
from orchestrator.api.workspace import DocumentHome
from orchestrator.document.inputs import environment_name
from orchestrator.errors import TraceError, UsageError
from orchestrator.masking import MASK
from orchestrator.model import Document, StepState
from orchestrator.record import Resumption, StepRecord, step_from_json
from orchestrator.trace import repo

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


def origin(place: DocumentHome, run: str) -> Origin:
    reader = trace_reader(place)
    workflow, run_id = reader.find_run(run)
    record = reader.read_run(run_id)
    if not (record.get("document") or {}).get("path"):
        raise TraceError(f"run {run_id} records no document path: it cannot be run again")
    return Origin(workflow, run_id, record)


def committed_text(place: DocumentHome, found: Origin) -> tuple[str, bytes]:
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


def resume_plan(place: DocumentHome, found: Origin, doc: Document, *, force: bool) -> ResumePlan:
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
