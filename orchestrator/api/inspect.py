"""Actions that read documents and change nothing: validate, plan, list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import document, schedule
from orchestrator.api.apply import RunRequest, execution_for, new_record, new_run_id
from orchestrator.api.receiving import prepare
from orchestrator.api.recording_runs import run_folder
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.document.memory_cache import DocumentCache
from orchestrator.errors import Diagnostic, DocumentError, UsageError
from orchestrator.masking import MASK
from orchestrator.model import Document, DocumentStatus, InputDecl
from orchestrator.runner import plan as planning


def documents_under(paths: Sequence[Path]) -> list[Path]:
    """The intent documents named by ``paths`` (files as given; folders searched)."""
    if not paths:
        paths = [Path.cwd()]
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            place = locate(path)
            patterns = place.settings.intents
            base = place.root if _is_root(place.root, path) else path
            discovered = document.discover(base, patterns if base == place.root else ("**/*.md",))
            found.extend(Path(_shown(p)) for p in discovered)
        else:
            found.append(path)
    return found


def _is_root(root: Path, path: Path) -> bool:
    return root.resolve() == path.resolve()


def validate(paths: Sequence[Path]) -> list[Diagnostic]:
    """Every problem in every document, all at once (an empty list when all are valid)."""
    return document.validate_paths(documents_under(paths))


@dataclass(frozen=True)
class Plan:
    """``missing_secrets``, ``missing_secret_inputs``: what a run would need that is not
    there (the plan was made without them)."""

    document: Document
    run_id: str
    steps: list[planning.PlannedStep]
    missing_secrets: tuple[str, ...] = ()
    missing_secret_inputs: tuple[str, ...] = ()


def plan(request: RunRequest) -> Plan:
    """What ``apply`` would do, rendered, executing nothing. Secrets that are not set and
    secret inputs that are not given do not stop it: the plan lists them."""
    prepared = prepare(request, plan=True)
    run_id = new_run_id()
    record = new_record(prepared, run_id)
    execution = execution_for(prepared, record, run_folder(prepared, run_id))
    return Plan(
        document=prepared.document,
        run_id=run_id,
        steps=planning.plan(execution),
        missing_secrets=prepared.missing_secrets,
        missing_secret_inputs=prepared.missing_secret_inputs,
    )


@dataclass(frozen=True)
class FoundDocument:
    path: Path
    document: Document | None
    problems: tuple[Diagnostic, ...] = ()


def list_documents(
    paths: Sequence[Path], cache: DocumentCache | None = None
) -> list[FoundDocument]:
    """Every intent document under ``paths``, parsed. With a ``cache``, unchanged files are
    not parsed again, and the cache forgets documents no longer found."""
    load = document.load if cache is None else cache.load
    listed: list[FoundDocument] = []
    found = documents_under(paths)
    for path in found:
        try:
            listed.append(FoundDocument(path=path, document=load(path)))
        except DocumentError as exc:
            listed.append(FoundDocument(path=path, document=None, problems=exc.diagnostics))
    if cache is not None:
        cache.retain(found)
    return listed


def summary(item: FoundDocument) -> dict[str, Any]:
    """One row of ``orch list``."""
    doc = item.document
    triggers: list[str] = []
    if doc is not None and doc.triggers is not None:
        triggers += [f"paths: {p}" for p in doc.triggers.paths]
        triggers += [f"schedule: {s} ({doc.triggers.timezone})" for s in doc.triggers.schedule]
    problems = [str(p) for p in item.problems]
    try:
        next_run = _next_run(doc)
    except schedule.ScheduleProblem as exc:
        assert doc is not None and doc.triggers is not None
        where = f"{_shown(item.path)}:{doc.triggers.line}:1"
        next_run, problems = None, [*problems, f"{where}: on.schedule cannot be evaluated: {exc}"]
    return {
        "path": _shown(item.path),
        "id": doc.id if doc else None,
        "title": doc.title if doc else None,
        "status": doc.status.value if doc else None,
        "triggers": triggers,
        "next_run": next_run,
        "problems": problems,
    }


def _next_run(doc: Document | None) -> str | None:
    """The next cron time (UTC, ISO) of an approved scheduled document; None otherwise.

    Raises ``ScheduleProblem`` when its schedule cannot be evaluated.
    """
    if doc is None or doc.status is not DocumentStatus.APPROVED:
        return None
    moment = schedule.next_run(doc)
    return schedule.iso_utc(moment) if moment is not None else None


def _shown(path: Path) -> str:
    """A path as people type it: relative to the current folder when it is below it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


class UnknownWorkflow(UsageError):
    """No intent document of the repository has this workflow id."""


def workflows(where: Path, cache: DocumentCache | None = None) -> list[dict[str, Any]]:
    """The valid intent documents: id, title, status, path and input declarations.

    A long-running caller passes one ``cache`` so that unchanged documents are not parsed
    on every call."""
    place = locate(where)
    found = []
    for item in list_documents([place.root], cache):
        doc = item.document
        if doc is None:
            continue
        found.append(
            {
                "id": doc.id,
                "title": doc.title,
                "status": doc.status.value,
                "path": doc.path.resolve().relative_to(place.root.resolve()).as_posix(),
                "inputs": {decl.name: _declaration(decl) for decl in doc.inputs},
            }
        )
    return found


def _declaration(decl: InputDecl) -> dict[str, Any]:
    shown: dict[str, Any] = {**decl.schema, "required": decl.required, "secret": decl.secret}
    if decl.description:
        shown["description"] = decl.description
    if decl.has_default:
        shown["default"] = MASK if decl.secret else decl.default
    return shown


def find_workflow(place: DocumentHome, workflow_id: str) -> Path:
    for item in list_documents([place.root]):
        if item.document is not None and item.document.id == workflow_id:
            return item.path
    raise UnknownWorkflow(f"no intent document has the workflow id {workflow_id!r}")
