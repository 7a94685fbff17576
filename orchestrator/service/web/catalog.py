"""Every run of the trace as a small summary, kept up to date for a long-running server.

Git objects never change, so a summary is cached under the id of its run folder's tree and
a workflow's run list under the id of its tree: when the trace branch moves (a run starts or
ends), only the workflow trees that changed are read again and only the run folders that
changed are parsed again. Listing, filtering and paging 5,000 runs is then work on a list
in memory.

A run that is still ``pending`` or ``running`` in the trace may have moved on in its local
run folder (``.orch/runs/``: the step journal of a run in progress); its page reads that
fresher copy when this host has it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.api.recovering import replay_journal
from orchestrator.errors import TraceError
from orchestrator.record import moment
from orchestrator.trace import TraceReader
from orchestrator.trace.batch import read_objects
from orchestrator.trace.layout import RUN_RECORD, RUNS, parse_record, progress_rank, tip_root
from orchestrator.trace.objects import parse_tree

OPEN_STATES = frozenset({"pending", "running", "waiting"})
# From this many unread run folders on, their objects are read with one git process.
BATCH_FROM = 50


@dataclass(frozen=True)
class RunSummary:
    """What the run lists and charts show of a run."""

    run_id: str
    workflow: str
    title: str
    state: str
    trigger: str
    actor: str
    created: str
    started: datetime | None
    ended: datetime | None
    duration: float | None
    error: str | None
    folder: str = field(repr=False)

    @property
    def second(self) -> str:
        return self.run_id.split("-", 1)[0]


@dataclass(frozen=True)
class RunFilter:
    workflow: str | None = None
    state: str | None = None
    trigger: str | None = None
    actor: str | None = None

    def accepts(self, run: RunSummary) -> bool:
        return (
            (self.workflow is None or run.workflow == self.workflow)
            and (self.state is None or run.state == self.state)
            and (self.trigger is None or run.trigger == self.trigger)
            and (self.actor is None or run.actor == self.actor)
        )


@dataclass(frozen=True)
class Page:
    runs: Sequence[RunSummary]
    total: int
    number: int
    count: int


@dataclass(frozen=True)
class RunView:
    """One run as its page shows it: the record and where to read its files."""

    summary: RunSummary
    record: dict[str, Any]
    local: dict[str, bytes] | None

    def file(self, catalog: RunCatalog, relpath: str) -> bytes | None:
        if self.local is not None and relpath in self.local:
            return self.local[relpath]
        return catalog.read_file(self.summary, relpath)


class RunCatalog:
    """Summaries of every run on the trace branch, newest first."""

    def __init__(self, reader: TraceReader, local_runs: Path | None = None) -> None:
        self.reader = reader
        self.local_runs = local_runs
        self._lock = threading.Lock()
        self._tip: str | None = None
        self._runs: tuple[RunSummary, ...] = ()
        self._by_id: dict[str, RunSummary] = {}
        self._by_workflow: dict[str, tuple[RunSummary, ...]] = {}
        self._workflow_trees: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        self._summaries: dict[str, RunSummary] = {}

    # the list ---------------------------------------------------------------------------

    def runs(self) -> tuple[RunSummary, ...]:
        """Every run, newest first (refreshed when the trace branch moved)."""
        with self._lock:
            self._refresh()
            return self._runs

    def of_workflow(self, workflow: str) -> tuple[RunSummary, ...]:
        with self._lock:
            self._refresh()
            return self._by_workflow.get(workflow, ())

    def find(self, run_id: str) -> RunSummary | None:
        with self._lock:
            self._refresh()
            return self._by_id.get(run_id)

    def page(self, wanted: RunFilter, number: int, size: int) -> Page:
        runs = self.runs()
        if wanted.workflow is not None:
            runs = self.of_workflow(wanted.workflow)
        matching = [run for run in runs if wanted.accepts(run)]
        count = max(1, math.ceil(len(matching) / size))
        number = min(max(1, number), count)
        start = (number - 1) * size
        return Page(matching[start : start + size], len(matching), number, count)

    def _refresh(self) -> None:
        ref = self.reader.tip_ref()
        tip = self.reader.store.read_ref(ref) if ref else None
        if tip == self._tip:
            return
        workflows = self._workflow_folders(tip) if tip else {}
        unknown = [
            (workflow, run_id, folder)
            for workflow, runs in workflows.items()
            for run_id, folder in runs
            if folder not in self._summaries
        ]
        fresh = self._summarise_many(unknown)
        summaries: dict[str, RunSummary] = {}
        for runs in workflows.values():
            for _, folder in runs:
                summaries[folder] = self._summaries.get(folder) or fresh[folder]
        ordered = sorted(summaries.values(), key=_newest_first, reverse=True)
        self._summaries = summaries
        self._runs = tuple(ordered)
        self._by_id = {run.run_id: run for run in ordered}
        grouped: dict[str, list[RunSummary]] = {}
        for run in ordered:
            grouped.setdefault(run.workflow, []).append(run)
        self._by_workflow = {wf: tuple(runs) for wf, runs in grouped.items()}
        self._tip = tip

    def _workflow_folders(self, tip: str) -> dict[str, list[tuple[str, str]]]:
        """{workflow: [(run id, folder tree id)]}, reading only workflow trees that changed."""
        store = self.reader.store
        _, entries = tip_root(store, self.reader.branch, tip)
        runs_tree = entries[RUNS].sha
        if self.reader.prefix:
            inside = [e for e in store.read_tree(runs_tree) if e.name == self.reader.prefix]
            if not inside or not inside[0].is_tree:
                return {}
            runs_tree = inside[0].sha
        found: dict[str, list[tuple[str, str]]] = {}
        known = self._workflow_trees
        fresh: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        for wf in store.read_tree(runs_tree):
            if not wf.is_tree:
                continue
            cached = known.get(wf.name)
            if cached is not None and cached[0] == wf.sha:
                folders = cached[1]
            else:
                folders = [(e.name, e.sha) for e in store.read_tree(wf.sha) if e.is_tree]
            fresh[wf.name] = (wf.sha, folders)
            found[wf.name] = folders
        self._workflow_trees = fresh
        return found

    def _summarise_many(self, runs: list[tuple[str, str, str]]) -> dict[str, RunSummary]:
        """Summaries of many run folders; past a few, their objects come from one git process."""
        if len(runs) < BATCH_FROM:
            return {folder: self._summarise(wf, run_id, folder) for wf, run_id, folder in runs}
        git_dir = self.reader.store.git_dir
        trees = read_objects(git_dir, [folder for _, _, folder in runs])
        records: dict[str, str] = {}
        for _, _, folder in runs:
            kind, data = trees.get(folder, ("", b""))
            entry = next((e for e in parse_tree(data) if e.name == RUN_RECORD), None)
            if kind == "tree" and entry is not None and not entry.is_tree:
                records[folder] = entry.sha
        blobs = read_objects(git_dir, list(records.values()))
        summaries = {}
        for workflow, run_id, folder in runs:
            kind, data = blobs.get(records.get(folder, ""), ("", b""))
            if kind != "blob":
                summaries[folder] = self._summarise(workflow, run_id, folder)
                continue
            try:
                found = parse_record(data, f"{RUN_RECORD} of run {run_id}")
            except TraceError as exc:
                summaries[folder] = _unreadable(workflow, run_id, folder, str(exc))
                continue
            summaries[folder] = summarise(found, workflow, run_id, folder)
        return summaries

    def _summarise(self, workflow: str, run_id: str, folder: str) -> RunSummary:
        try:
            record = self._record_at(run_id, folder)
        except TraceError as exc:
            return _unreadable(workflow, run_id, folder, str(exc))
        return summarise(record, workflow, run_id, folder)

    def _record_at(self, run_id: str, folder: str) -> dict[str, Any]:
        data = self._blob(folder, (RUN_RECORD,))
        if data is None:
            raise TraceError(f"run {run_id} in the trace has no {RUN_RECORD}")
        return parse_record(data, f"{RUN_RECORD} of run {run_id}")

    def _blob(self, tree: str, parts: Iterable[str]) -> bytes | None:
        store = self.reader.store
        names = list(parts)
        for index, name in enumerate(names):
            entry = next((e for e in store.read_tree(tree) if e.name == name), None)
            last = index == len(names) - 1
            if entry is None or entry.is_tree == last:
                return None
            tree = entry.sha
        return store.read_typed(tree, "blob")

    # one run ----------------------------------------------------------------------------

    def view(self, run_id: str) -> RunView | None:
        """A run's record, from its local folder when that is further along than the trace."""
        summary = self.find(run_id)
        if summary is None:
            return None
        with self._lock:
            record = self._record_at(run_id, summary.folder)
        local = self._local(summary)
        if local is not None:
            fresher = parse_record(local["run.json"], f"the local {RUN_RECORD} of {run_id}")
            if progress_rank(fresher) >= progress_rank(record):
                return RunView(
                    summarise(fresher, summary.workflow, run_id, summary.folder), fresher, local
                )
        return RunView(summary, record, None)

    def _local(self, summary: RunSummary) -> dict[str, bytes] | None:
        if summary.state not in OPEN_STATES or self.local_runs is None:
            return None
        folder = self.local_runs / summary.workflow / summary.run_id
        try:
            files = replay_journal(folder)
        except (OSError, ValueError):
            return None
        return files if files is not None and "run.json" in files else None

    def read_file(self, summary: RunSummary, relpath: str) -> bytes | None:
        """A file of a run folder as the trace holds it (None when it has none)."""
        with self._lock:
            return self._blob(summary.folder, relpath.strip("/").split("/"))


def summarise(record: dict[str, Any], workflow: str, run_id: str, folder: str) -> RunSummary:
    trigger = _mapping(record.get("trigger"))
    error = _mapping(record.get("error"))
    transitions = record.get("transitions")
    first = _mapping(transitions[0]) if isinstance(transitions, list) and transitions else {}
    started, ended = moment(record.get("started_at")), moment(record.get("ended_at"))
    duration = record.get("duration_seconds")
    if not isinstance(duration, int | float) and started and ended:
        duration = (ended - started).total_seconds()
    return RunSummary(
        run_id=run_id,
        workflow=workflow,
        title=str(_mapping(record.get("workflow")).get("title") or workflow),
        state=str(record.get("state") or "unknown"),
        trigger=str(trigger.get("source") or "unknown"),
        actor=str(trigger.get("actor") or ""),
        created=str(first.get("at") or ""),
        started=started,
        ended=ended,
        duration=float(duration) if isinstance(duration, int | float) else None,
        error=str(error["message"]) if error.get("message") else None,
        folder=folder,
    )


def _unreadable(workflow: str, run_id: str, folder: str, why: str) -> RunSummary:
    return RunSummary(
        run_id=run_id,
        workflow=workflow,
        title=workflow,
        state="unknown",
        trigger="unknown",
        actor="",
        created="",
        started=None,
        ended=None,
        duration=None,
        error=why,
        folder=folder,
    )


def _newest_first(run: RunSummary) -> tuple[str, str, str]:
    # Run ids sort by the second a run was created; the first transition orders one second.
    return (run.second, run.created, run.run_id)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
