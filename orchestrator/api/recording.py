"""Record results: the run folder (``run.json``, ``report.md``, ``logs/``) and its trace commits.

The folder is written under ``.orch/runs/`` first (so a run that cannot reach git still leaves
its evidence on disk) and every save commits exactly that folder to the trace.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from orchestrator import report
from orchestrator.model import RunState
from orchestrator.record import RunRecord, StepRecord, to_json, to_json_step
from orchestrator.trace import (
    TracePushError,
    TraceReader,
    TraceWriter,
    encode_record,
    own_trace_repository,
)

if TYPE_CHECKING:
    from orchestrator.api.apply import Prepared
    from orchestrator.api.workspace import Place

log = logging.getLogger("orch")

# Step changes of a run in progress, one JSON line each; never committed (run.json has them).
JOURNAL = "journal.jsonl"
_IDENTITY = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>\s*$")


def run_folder(prepared: Prepared, run_id: str) -> Path:
    return prepared.place.settings.state_dir / "runs" / prepared.document.id / run_id


def trace_repository(place: Place) -> Path:
    settings = place.settings
    if settings.trace_repository is not None:
        return settings.trace_repository
    return place.root if place.in_repository else own_trace_repository()


@functools.lru_cache(maxsize=32)
def trace_writer(place: Place) -> TraceWriter:
    settings = place.settings
    repository = trace_repository(place)
    own_ref = None
    if settings.broker_url and settings.trace_remote:
        # Hosts of a broker push to refs of their own; readers merge them.
        from orchestrator.trace.shared import writer_ref

        own_ref = writer_ref(repository, settings.trace_branch)
    return TraceWriter(
        repository,
        settings.trace_branch,
        prefix=settings.trace_prefix,
        remote=settings.trace_remote,
        own_ref=own_ref,
    )


@functools.lru_cache(maxsize=32)
def trace_reader(place: Place) -> TraceReader:
    settings = place.settings
    return TraceReader(trace_repository(place), settings.trace_branch, prefix=settings.trace_prefix)


def author_of(actor: str) -> tuple[str, str] | None:
    match = _IDENTITY.match(actor)
    if match:
        return match["name"] or match["email"], match["email"]
    return None


@dataclass
class RunBook:
    """The run folder of one run; every ``save`` rewrites it and commits it to the trace."""

    folder: Path
    writer: TraceWriter
    last_commit: str | None = None
    _journal: TextIO | None = None

    @classmethod
    def open(cls, prepared: Prepared, folder: Path, writer: TraceWriter | None = None) -> RunBook:
        ignore_state_dir(prepared.place.settings.state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder=folder, writer=writer or trace_writer(prepared.place))

    def write_local(self, record: RunRecord) -> dict[str, bytes]:
        """Rewrite ``run.json`` and ``report.md`` on disk; return the whole folder's files
        (each step log is read once, for the report and the trace alike)."""
        files = self.files()

        def read_log(relative: str) -> str:
            return files.get(relative, b"").decode("utf-8", errors="replace")

        files["run.json"] = encode_record(to_json(record))
        files["report.md"] = report.render(record, read_log).encode("utf-8")
        (self.folder / "run.json").write_bytes(files["run.json"])
        (self.folder / "report.md").write_bytes(files["report.md"])
        return files

    def save(self, record: RunRecord) -> RunRecord:
        """Rewrite the run folder and commit it to the trace."""
        if record.state in (RunState.COMPLETED, RunState.FAILED) and self._journal is not None:
            self._journal.close()
            self._journal = None
        files = self.write_local(record)
        try:
            self.last_commit = self.writer.commit_run(
                record.workflow.id,
                record.run_id,
                files,
                state=record.state.value,
                author=author_of(record.trigger.actor),
            )
        except TracePushError as exc:
            # The run is recorded in the local trace; the next successful push carries it.
            self.last_commit = exc.commit
            log.warning("the trace is committed but could not be pushed: %s", exc)
        return record

    def note_step(self, step: StepRecord) -> None:
        """Append a step's change to the journal that crash recovery replays."""
        if self._journal is None:
            # Kept open for the run (line-buffered: each line reaches the file at once).
            self._journal = (self.folder / JOURNAL).open("a", encoding="utf-8", buffering=1)
        self._journal.write(json.dumps(to_json_step(step), separators=(",", ":")) + "\n")

    def files(self) -> dict[str, bytes]:
        return {
            path.relative_to(self.folder).as_posix(): path.read_bytes()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file() and path.name != JOURNAL
        }


def ignore_state_dir(state_dir: Path) -> None:
    """Keep ``.orch/`` out of ``git status`` without touching the repository's .gitignore."""
    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / ".gitignore"
    if not marker.exists():
        marker.write_text("# orch's local state: never committed\n*\n", encoding="utf-8")


def log_tail(folder: Path, relative: str, lines: int = 20) -> str:
    path = folder / relative
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def record_json(record: RunRecord) -> str:
    return json.dumps(to_json(record), indent=2, ensure_ascii=False)


def replay_journal(folder: Path) -> dict[str, bytes] | None:
    """The run folder as a dead run left it, with its journal replayed into ``run.json``."""
    record_path = folder / "run.json"
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_bytes())
    journal = folder / JOURNAL
    lines = journal.read_text(encoding="utf-8").splitlines() if journal.is_file() else []
    steps = {step.get("name"): step for step in record.get("steps") or []}
    for line in lines:
        try:
            change = json.loads(line)
        except ValueError:
            continue  # a line cut short by the crash
        if isinstance(change, dict) and change.get("name") in steps:
            steps[change["name"]].update(change)
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != JOURNAL
    }
    files["run.json"] = encode_record(record)
    return files
