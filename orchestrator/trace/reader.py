"""Reading runs back from the trace branch only.

Listing reads the ``runs/`` tree (one tree per workflow), sorts run ids (they sort by the
second a run was created; runs of the same second are ordered by the millisecond time their
records give) and then reads only the ``run.json`` blobs it returns, in-process through the
object database: no git process per run, and no history walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestrator.errors import TraceError
from orchestrator.trace.layout import (
    OPEN_RUNS,
    RUN_RECORD,
    RUNS,
    TERMINAL_STATES,
    parse_record,
    read_open_runs,
    tip_root,
)
from orchestrator.trace.objects import ObjectStore
from orchestrator.trace.repo import git_common_dir


class TraceReader:
    """Runs recorded on ``branch`` of ``trace_repo`` (or its remote-tracking copy)."""

    def __init__(self, trace_repo: Path, branch: str = "orch-trace", prefix: str = "") -> None:
        self.trace_repo = Path(trace_repo)
        self.git_dir = git_common_dir(self.trace_repo)
        self.store = ObjectStore(self.git_dir)
        self.branch = branch
        self.prefix = prefix

    def tip_ref(self) -> str | None:
        """The ref read: the local branch, else ``refs/remotes/<remote>/<branch>``."""
        local = f"refs/heads/{self.branch}"
        if self.store.read_ref(local) is not None:
            return local
        remote_refs = sorted(
            name
            for name in self.store.list_refs("refs/remotes/")
            if name.count("/") == 3 and name.endswith(f"/{self.branch}")
        )
        preferred = f"refs/remotes/origin/{self.branch}"
        if preferred in remote_refs:
            return preferred
        return remote_refs[0] if remote_refs else None

    def _root(self) -> tuple[str, dict[str, Any]] | None:
        ref = self.tip_ref()
        if ref is None:
            return None
        tip = self.store.read_ref(ref)
        assert tip is not None
        _, entries = tip_root(self.store, self.branch, tip)
        runs = entries[RUNS].sha
        if self.prefix:
            found = [e for e in self.store.read_tree(runs) if e.name == self.prefix and e.is_tree]
            if not found:
                return None
            runs = found[0].sha
        return runs, entries

    def _index(self, workflow: str | None = None) -> list[tuple[str, str, str]]:
        """(run id, workflow id, folder tree) of every run, newest first."""
        found = self._root()
        if found is None:
            return []
        runs: list[tuple[str, str, str]] = []
        workflows = [e for e in self.store.read_tree(found[0]) if e.is_tree]
        self.store.prefetch(e.sha for e in workflows if workflow is None or e.name == workflow)
        for wf in workflows:
            if workflow is not None and wf.name != workflow:
                continue
            runs.extend(
                (run.name, wf.name, run.sha) for run in self.store.read_tree(wf.sha) if run.is_tree
            )
        runs.sort(reverse=True)
        return runs

    def _record(self, workflow: str, run_id: str, folder: str) -> dict[str, Any]:
        for entry in self.store.read_tree(folder):
            if entry.name == RUN_RECORD and not entry.is_tree:
                data = self.store.read_typed(entry.sha, "blob")
                return parse_record(data, f"{RUN_RECORD} of run {run_id}")
        raise TraceError(f"run {workflow}/{run_id} in the trace has no {RUN_RECORD}")

    def _prefetch_records(self, runs: list[tuple[str, str, str]]) -> None:
        """Read the folders and records of ``runs`` from packs in two git processes."""
        self.store.prefetch(folder for _, _, folder in runs)
        self.store.prefetch(
            entry.sha
            for _, _, folder in runs
            for entry in self.store.read_tree(folder)
            if entry.name == RUN_RECORD
        )

    def list_runs(
        self, *, workflow: str | None = None, state: str | None = None, limit: int | None = 20
    ) -> list[dict[str, Any]]:
        """Run records, newest first, optionally of one workflow and/or in one state."""
        records: list[dict[str, Any]] = []
        index = self._index(workflow)
        self._prefetch_records(index[:limit])
        for same_second in _by_second(index):
            if limit is not None and len(records) >= limit:
                break
            # Run ids sort by the second a run was created; within one second the creation
            # time in the record (milliseconds) orders them.
            group = [self._record(wf, run_id, folder) for run_id, wf, folder in same_second]
            if len(group) > 1:
                group.sort(key=_created, reverse=True)
            for record in group:
                if limit is not None and len(records) >= limit:
                    break
                if state is None or record.get("state") == state:
                    records.append(record)
        return records

    def runs_in_state(self, state: str) -> list[dict[str, Any]]:
        """Every run in ``state``; open states come from the small open-runs index."""
        found = self._root()
        if found is None:
            return []
        if state not in TERMINAL_STATES and OPEN_RUNS in found[1]:
            open_runs = read_open_runs(self.store, found[1][OPEN_RUNS])
            head = f"{self.prefix}/" if self.prefix else ""
            records = []
            for key in sorted(open_runs, reverse=True):
                if not key.startswith(head):
                    continue
                parts = key[len(head) :].split("/")
                if len(parts) == 2 and open_runs[key].get("state") == state:
                    records.append(self.read_run(parts[1]))
            return [r for r in records if r.get("state") == state]
        return self.list_runs(state=state, limit=None)

    def open_runs(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """Runs not yet terminal, from the open-runs index: {run id: (workflow, run id, info)}.

        ``info`` holds the state, host, pid and pid start token recorded when it was written.
        """
        found = self._root()
        if found is None or OPEN_RUNS not in found[1]:
            return {}
        head = f"{self.prefix}/" if self.prefix else ""
        result: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for key, info in read_open_runs(self.store, found[1][OPEN_RUNS]).items():
            parts = key[len(head) :].split("/") if key.startswith(head) else []
            if len(parts) == 2:
                result[parts[1]] = (parts[0], parts[1], info)
        return result

    def find_run(self, run: str) -> tuple[str, str]:
        """(workflow id, run id) of a run id or a unique prefix of one."""
        index = self._index()
        exact = [(wf, run_id) for run_id, wf, _ in index if run_id == run]
        matches = exact or [(wf, run_id) for run_id, wf, _ in index if run_id.startswith(run)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise TraceError(
                f"no run {run!r} in the trace ({self.branch!r} of {self.trace_repo}); "
                "list the recorded runs with `orch runs`"
            )
        shown = ", ".join(run_id for _, run_id in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise TraceError(f"run {run!r} is ambiguous: it matches {shown}{more}; give more of the id")

    def _folder(self, run: str) -> tuple[str, str, str]:
        wf, run_id = self.find_run(run)
        for candidate, workflow, folder in self._index(wf):
            if candidate == run_id and workflow == wf:
                return wf, run_id, folder
        raise TraceError(f"run {run!r} vanished from the trace while reading it")

    def read_run(self, run: str) -> dict[str, Any]:
        """The ``run.json`` record of a run (id or unique prefix)."""
        return self._record(*self._folder(run))

    def list_files(self, run: str) -> list[str]:
        """Every file of a run folder, as paths relative to it, sorted."""
        _, _, folder = self._folder(run)
        files: list[str] = []
        pending = [("", folder)]
        while pending:
            base, tree = pending.pop()
            for entry in self.store.read_tree(tree):
                if entry.is_tree:
                    pending.append((f"{base}{entry.name}/", entry.sha))
                else:
                    files.append(base + entry.name)
        return sorted(files)

    def read_file(self, run: str, relpath: str) -> bytes:
        """One file of a run folder (e.g. ``logs/01-build.log``)."""
        _, run_id, tree = self._folder(run)
        parts = relpath.strip("/").split("/")
        for i, name in enumerate(parts):
            entry = next((e for e in self.store.read_tree(tree) if e.name == name), None)
            last = i == len(parts) - 1
            if entry is None or entry.is_tree == last:
                raise TraceError(
                    f"run {run_id} has no file {relpath!r}; its files: "
                    + ", ".join(self.list_files(run_id))
                )
            tree = entry.sha
        return self.store.read_typed(tree, "blob")


def _by_second(index: list[tuple[str, str, str]]) -> Iterator[list[tuple[str, str, str]]]:
    """The index (newest first) cut into runs created in the same second."""
    group: list[tuple[str, str, str]] = []
    for entry in index:
        if group and entry[0].split("-", 1)[0] != group[0][0].split("-", 1)[0]:
            yield group
            group = []
        group.append(entry)
    if group:
        yield group


def _created(record: dict[str, Any]) -> tuple[str, str]:
    """(time of the first transition, run id): the order runs were created in."""
    transitions = record.get("transitions")
    first = transitions[0] if isinstance(transitions, list) and transitions else {}
    at = first.get("at") if isinstance(first, dict) else None
    return (at if isinstance(at, str) else "", str(record.get("run_id", "")))
