"""Following a run: its state, its steps' states, and what its steps print, as events.

``orch logs -f`` and the server-sent events of ``orch serve`` poll a ``RunWatch``. While the
run is in progress on this host it is read from its run folder (``run.json`` and the step
journal for states, each step's live log for output, read from where the last poll
stopped); a run this host has no folder of is read from the trace, whose logs appear as
each step's record is committed. Log text is passed on in complete lines while its step
runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.api.answers import RunNotFound
from orchestrator.api.recording_runs import trace_reader
from orchestrator.api.recovering import replayed_record
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.errors import TraceError
from orchestrator.trace.layout import TERMINAL_STATES

OPEN_STEP_STATES = frozenset({"pending", "running", "waiting"})
_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class RunEvent:
    """``state`` (the run's), ``step`` (a step's state), ``log`` (text a step printed, with
    its byte ``offset`` and ``end`` in the step's log) or ``end`` (the run ended)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class RunWatch:
    """Polls one run for what changed since the last poll.

    ``tail_bytes`` (for a page that shows the logs so far): the logs of steps that had ended
    when watching started are not sent, and a running step's log starts at most this many
    bytes before its end. Without it every log is sent from its start.
    """

    def __init__(
        self,
        place: DocumentHome,
        run: str,
        *,
        step: str | None = None,
        tail_bytes: int | None = None,
    ) -> None:
        self._reader = trace_reader(place)
        try:
            self.workflow, self.run_id = self._reader.find_run(run)
        except TraceError as exc:
            raise RunNotFound(str(exc)) from None
        self._folder = place.settings.state_dir / "runs" / self.workflow / self.run_id
        self._step = step
        self._tail = tail_bytes
        self._state: str | None = None
        self._steps: dict[str, str] = {}
        self._offsets: dict[str, int] = {}
        self._first = True
        self.ended = False
        if step is not None:
            names = [str(entry.get("name")) for entry in self._record()[0].get("steps") or []]
            if step not in names:
                raise RunNotFound(
                    f"run {self.run_id} has no step {step!r}; steps: {', '.join(names)}"
                )

    @property
    def local(self) -> bool:
        """Whether the run is read from this host's run folder (else from the trace)."""
        return (self._folder / "run.json").is_file()

    def poll(self) -> list[RunEvent]:
        record, local = self._record()
        steps: list[RunEvent] = []
        for entry in record.get("steps") or []:
            if not isinstance(entry, dict):
                continue
            name = str(entry.get("name"))
            if self._step is not None and name != self._step:
                continue
            steps += self._step_events(name, entry, local)
        self._first = False
        state = str(record.get("state"))
        if state == self._state:
            events = steps
        else:
            self._state = state
            error = record.get("error") or {}
            change = RunEvent(
                "state",
                {
                    "run_id": self.run_id,
                    "workflow": self.workflow,
                    "state": state,
                    "waiting": record.get("waiting"),
                    "error": error.get("message") if isinstance(error, dict) else None,
                },
            )
            # A run starts before its steps do; it waits or ends after what led to it.
            events = [change, *steps] if state in ("pending", "running") else [*steps, change]
        if state in TERMINAL_STATES:
            self.ended = True
            events.append(RunEvent("end", {"run_id": self.run_id, "state": state}))
        return events

    def _step_events(self, name: str, entry: dict[str, Any], local: bool) -> list[RunEvent]:
        state = str(entry.get("state"))
        changed = state != self._steps.get(name)
        self._steps[name] = state
        change = RunEvent("step", {"step": name, "state": state, "error": entry.get("error")})
        if name not in self._offsets:
            self._offsets[name] = self._start_offset(entry, local)
        logs = self._log_events(name, entry, local, final=state not in OPEN_STEP_STATES)
        if not changed:
            return logs
        # What a step printed comes after it started and before it ended.
        return [change, *logs] if state in OPEN_STEP_STATES else [*logs, change]

    def _start_offset(self, entry: dict[str, Any], local: bool) -> int:
        if self._tail is None or not self._first:
            return 0
        size = self._size(entry, local)
        if str(entry.get("state")) not in OPEN_STEP_STATES:
            return size  # the page shows what a step that had ended printed
        return max(0, size - self._tail)

    def _size(self, entry: dict[str, Any], local: bool) -> int:
        log = entry.get("log")
        if not isinstance(log, str):
            return 0
        if local:
            try:
                return (self._folder / log).stat().st_size
            except OSError:
                return 0
        data = self._trace_log(log)
        return len(data) if data is not None else 0

    def _log_events(
        self, name: str, entry: dict[str, Any], local: bool, *, final: bool
    ) -> list[RunEvent]:
        log = entry.get("log")
        if not isinstance(log, str) or entry.get("state") == "skipped":
            return []
        offset = self._offsets[name]
        if local:
            data = _read_from(self._folder / log, offset, None if final else _READ_BYTES)
        elif final:
            whole = self._trace_log(log)
            data = whole[offset:] if whole is not None else b""
        else:
            data = b""  # the trace holds a step's log once its record is committed
        if not final:
            data = data[: data.rfind(b"\n") + 1]  # complete lines only while it runs
        if not data:
            return []
        end = offset + len(data)
        self._offsets[name] = end
        text = data.decode("utf-8", errors="replace")
        return [RunEvent("log", {"step": name, "text": text, "offset": offset, "end": end})]

    def _trace_log(self, log: str) -> bytes | None:
        try:
            if log not in self._reader.list_files(self.run_id):
                return None
            return self._reader.read_file(self.run_id, log)
        except TraceError:
            return None

    def _record(self) -> tuple[dict[str, Any], bool]:
        record = replayed_record(self._folder)
        if record is not None:
            return record, True
        try:
            return self._reader.read_run(self.run_id), False
        except TraceError as exc:
            raise RunNotFound(str(exc)) from None


def watch(
    where: Path, run: str, *, step: str | None = None, tail_bytes: int | None = None
) -> RunWatch:
    """A ``RunWatch`` of ``run`` in ``where``'s repository (``RunNotFound`` when no run or
    step has that name)."""
    return RunWatch(locate(where), run, step=step, tail_bytes=tail_bytes)


def _read_from(path: Path, offset: int, limit: int | None) -> bytes:
    """The bytes of ``path`` from ``offset`` on (at most ``limit``). A log that is shorter
    than ``offset`` is being rewritten whole at its step's end: nothing yet."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(-1 if limit is None else limit)
    except OSError:
        return b""
