"""Writing a run as it goes: its run folder (``run.json``, ``report.md``, ``logs/``) and its
trace commits (reading recorded runs is ``reading_runs``).

The folder is written under ``.orch/runs/`` first (so a run that cannot reach git still leaves
its evidence on disk) and every save commits exactly that folder to the trace.

Every write can fail (a full disk is the usual reason), and none may strand a run:

- the first record fails: nothing has run, the run folder is removed, the caller says so;
- a journal line fails: the run goes on (the journal only serves crash recovery);
- the final record fails: the run ends ``failed`` with the reason, and its final record is
  kept where the next orch command finds it: ``run.json`` when the folder can still be
  written, and in any case the space reserved for it when the run started (overwritten in
  place, which needs no new space); recovery commits it once the trace can be written.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import report
from orchestrator.api.run_request import Prepared
from orchestrator.api.workspace import DocumentHome
from orchestrator.errors import TraceError, describe_os_error
from orchestrator.process import process_start_token
from orchestrator.record import RunRecord, StepRecord, to_json, to_json_step
from orchestrator.trace import (
    TracePushError,
    TraceReader,
    TraceWriter,
    encode_record,
    own_trace_repository,
)

log = logging.getLogger("orch")

# Step changes of a run in progress, one JSON line each; never committed (run.json has them).
JOURNAL = "journal.jsonl"
# Space taken when a run starts, for its final record when nothing else can be written.
RESERVE = "final-record.reserved"
RESERVE_BYTES = 64 * 1024
# A person's answer to the run in progress (orch confirm / orch cancel), until the run takes it.
ANSWER = "answer.json"
_LOCAL_ONLY = frozenset({JOURNAL, RESERVE, ANSWER})
DID_NOT_START = "the run did not start (nothing ran)"
_IDENTITY = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>\s*$")
# Runs this process is executing right now: recovery leaves them alone even though their
# owner (this process) is alive, and closes this process's other open runs.
ACTIVE_RUNS: set[str] = set()


def run_folder(prepared: Prepared, run_id: str) -> Path:
    return prepared.place.settings.state_dir / "runs" / prepared.document.id / run_id


def trace_repository(place: DocumentHome) -> Path:
    settings = place.settings
    if settings.trace_repository is not None:
        return settings.trace_repository
    return place.root if place.in_repository else own_trace_repository()


@functools.lru_cache(maxsize=32)
def trace_writer(place: DocumentHome) -> TraceWriter:
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
def trace_reader(place: DocumentHome) -> TraceReader:
    settings = place.settings
    return TraceReader(trace_repository(place), settings.trace_branch, prefix=settings.trace_prefix)


def author_of(actor: str) -> tuple[str, str] | None:
    match = _IDENTITY.match(actor)
    if match:
        return match["name"] or match["email"], match["email"]
    return None


@dataclass
class RunRecorder:
    """The run folder of one run; every ``save`` rewrites it and commits it to the trace."""

    folder: Path
    writer: TraceWriter
    created: bool = False
    journal_problem: str | None = None
    _journal: int | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls, prepared: Prepared, folder: Path, writer: TraceWriter | None = None
    ) -> RunRecorder:
        created = not folder.exists()
        try:
            ignore_state_dir(prepared.place.settings.state_dir)
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = describe_os_error(exc, "creating the run folder", folder)
            raise TraceError(f"{problem}; {DID_NOT_START}") from None
        return cls(folder=folder, writer=writer or trace_writer(prepared.place), created=created)

    def write_local(self, record: RunRecord) -> dict[str, bytes]:
        """Rewrite ``run.json`` and ``report.md`` on disk; return the whole folder's files
        (each step log is read once, for the report and the trace alike). Raises
        ``TraceError`` when the folder cannot be written; the previous files stay whole."""
        try:
            files = self.files()
        except OSError as exc:
            raise TraceError(describe_os_error(exc, "reading the run folder")) from None

        def read_log(relative: str) -> str:
            return files.get(relative, b"").decode("utf-8", errors="replace")

        files["run.json"] = encode_record(to_json(record))
        files["report.md"] = report.render(record, read_log).encode("utf-8")
        for name in ("run.json", "report.md"):
            try:
                _replace_file(self.folder / name, files[name])
            except OSError as exc:
                doing = f"writing the run's {name}"
                raise TraceError(describe_os_error(exc, doing, self.folder / name)) from None
        return files

    def save(self, record: RunRecord) -> RunRecord:
        """Rewrite the run folder and commit it to the trace (``TraceError`` when either fails)."""
        files = self.write_local(record)
        try:
            self.writer.commit_run(
                record.workflow.id,
                record.run_id,
                files,
                state=record.state.value,
                author=author_of(record.trigger.actor),
            )
        except TracePushError as exc:
            # The run is recorded in the local trace; the next successful push carries it.
            log.warning("the trace is committed but could not be pushed: %s", exc)
        return record

    def start(self, record: RunRecord) -> RunRecord:
        """Record a run that is about to run its first step. When that fails, nothing is left
        behind (no folder, no trace commit) and ``TraceError`` says why."""
        ACTIVE_RUNS.add(record.run_id)
        try:
            self._reserve()
            return self.save(record)
        except TraceError as exc:
            ACTIVE_RUNS.discard(record.run_id)
            self.abandon()
            raise TraceError(f"{exc}; {DID_NOT_START}") from None

    def abandon(self) -> None:
        """Forget a run that never started: remove the folder this book made for it."""
        self._close_journal()
        if self.created:
            shutil.rmtree(self.folder, ignore_errors=True)

    def finish(self, record: RunRecord) -> str | None:
        """Record a run's end; returns why it could not be recorded (then the caller decides
        what the run's outcome is and calls ``keep_for_recovery``), or None."""
        self._close_journal()
        try:
            self.save(record)
        except TraceError as exc:
            return str(exc)
        ACTIVE_RUNS.discard(record.run_id)
        with contextlib.suppress(OSError):
            (self.folder / RESERVE).unlink(missing_ok=True)
        return None

    def keep_for_recovery(self, record: RunRecord, problem: str) -> None:
        """Keep a final record that could not be committed where recovery finds it."""
        ACTIVE_RUNS.discard(record.run_id)
        with contextlib.suppress(TraceError):
            self.write_local(record)
        with contextlib.suppress(OSError):
            _fill_reserve(self.folder / RESERVE, to_json(record), problem)

    def write_logs(self, logs: dict[str, bytes]) -> None:
        """Put logs into the run folder (those of the steps a resumed run took over)."""
        for relative, data in logs.items():
            path = self.folder / relative
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except OSError as exc:
                log.warning("%s", describe_os_error(exc, "copying a taken-over step's log", path))

    def note_step(self, step: StepRecord) -> None:
        """Append a step's change to the journal that crash recovery replays."""
        self._append({**to_json_step(step)})

    def note_process(self, step: str, pid: int) -> None:
        """Note a step's process group (its leader's pid and start time) for recovery."""
        started = process_start_token(pid)
        self._append({"process": {"step": step, "pgid": pid, "started": started}})

    def _append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        try:
            if self._journal is None:
                # One write per line on an O_APPEND descriptor: a line is whole or absent.
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                self._journal = os.open(self.folder / JOURNAL, flags, 0o644)
            os.write(self._journal, line)
        except OSError as exc:
            # The journal only helps recovery; the run's own record does not depend on it.
            if self.journal_problem is None:
                self.journal_problem = describe_os_error(
                    exc, "writing the run's journal", self.folder / JOURNAL
                )
                log.warning("%s; the run goes on", self.journal_problem)

    def _close_journal(self) -> None:
        if self._journal is not None:
            with contextlib.suppress(OSError):
                os.close(self._journal)
            self._journal = None

    def _reserve(self) -> None:
        path = self.folder / RESERVE
        try:
            # Writing the bytes takes the space (file systems reserve it at write time); no
            # fsync: the reserve only matters while this process lives to overwrite it.
            path.write_bytes(b" " * RESERVE_BYTES)
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            doing = "reserving space for the run's record"
            raise TraceError(describe_os_error(exc, doing, path)) from None

    def files(self) -> dict[str, bytes]:
        return folder_files(self.folder)


def folder_files(folder: Path) -> dict[str, bytes]:
    """The files of a run folder that belong in the trace."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in _LOCAL_ONLY and not path.name.startswith(".")
    }


def _replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a full disk must not leave half a run.json."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def _fill_reserve(path: Path, record: dict[str, Any], problem: str) -> None:
    """Overwrite the reserved space in place (no new space needed) with the final record, or
    with as much of it as fits: without step bodies and outputs, else without steps."""
    steps = record.get("steps") or []
    slim_steps = [
        {k: v for k, v in step.items() if k not in ("rendered", "outputs")} for step in steps
    ]
    candidates = (
        record,
        {**record, "steps": slim_steps, "artifacts": []},
        {k: v for k, v in record.items() if k not in ("steps", "artifacts")},
    )
    for candidate in candidates:
        data = json.dumps({"record": candidate, "unrecorded_because": problem}).encode()
        if len(data) <= RESERVE_BYTES:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.pwrite(fd, data.ljust(RESERVE_BYTES), 0)
                os.fsync(fd)
            finally:
                os.close(fd)
            return


def ignore_state_dir(state_dir: Path) -> None:
    """Keep ``.orch/`` out of ``git status`` without touching the repository's .gitignore."""
    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / ".gitignore"
    # An empty marker is what a full disk left behind: it ignores nothing, so write it again.
    if not marker.exists() or marker.stat().st_size == 0:
        _replace_file(marker, b"# orch's local state: never committed\n*\n")


def log_tail(folder: Path, relative: str, lines: int = 20) -> str:
    path = folder / relative
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
