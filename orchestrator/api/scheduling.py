"""``orch schedule``: find the due runs of the committed documents and run each one.

Documents are read as committed at HEAD (never the working copy), and each due run executes
in a fresh temporary worktree of that commit with trigger ``schedule``, the cron time it is
for, and the document's ``on.inputs``.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator import document, runner
from orchestrator.api.apply import run_prepared
from orchestrator.api.receiving import prepare
from orchestrator.api.recording_runs import trace_reader, trace_writer
from orchestrator.api.run_request import RunRequest
from orchestrator.api.workspace import DocumentHome, locate
from orchestrator.api.worktrees import temporary_worktree
from orchestrator.errors import Diagnostic, DocumentError, OrchError, UsageError
from orchestrator.model import Document, DocumentStatus, RunState, Trigger
from orchestrator.record import RunRecord
from orchestrator.schedule import ScheduleProblem, claims
from orchestrator.schedule.due import Due, due_time, iso_utc, next_run, parse_iso
from orchestrator.trace import TraceReader, repo
from orchestrator.trace import claims as remote_claims

ACTOR = "orch schedule"
MAX_SLEEP_SECONDS = 60.0
# Claims on the trace remote are deleted once this much older than the newest run's.
REMOTE_CLAIMS_KEPT = timedelta(days=7)
Notice = Callable[[str], None]
# How the scheduler recognises a document it cannot read that asks for scheduled runs.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*$", re.DOTALL | re.MULTILINE)
_SCHEDULE_KEY = re.compile(r"(?:^|[{,\s])schedule\s*:", re.MULTILINE)
_APPROVED = re.compile(r"^status\s*:\s*[\"']?approved[\"']?\s*(?:#.*)?$", re.MULTILINE)


@dataclass(frozen=True)
class SchedulePass:
    """What one pass of the scheduler did."""

    records: list[RunRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    next_due: datetime | None = None
    # Approved scheduled documents whose schedule cannot be evaluated (an invalid document,
    # an unknown time zone, a cron expression that never fires): they never run until fixed.
    unevaluated: list[Diagnostic] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """True when every due run completed (or nothing was due) and nothing went wrong."""
        # A run sent to a broker's workers is pending: it went where it should.
        sent = (RunState.COMPLETED, RunState.PENDING)
        return (
            not self.problems
            and not self.unevaluated
            and all(r.state in sent for r in self.records)
        )


def _scheduled(doc: Document) -> bool:
    return (
        doc.status is DocumentStatus.APPROVED
        and doc.triggers is not None
        and bool(doc.triggers.schedule)
    )


def last_cron_time(reader: TraceReader, workflow_id: str) -> datetime | None:
    """The cron time of the workflow's newest scheduled run in the trace (any state)."""
    for limit in (20, None):
        records = reader.list_runs(workflow=workflow_id, limit=limit)
        times = [t for t in (_cron_time(r) for r in records) if t is not None]
        if times:
            return max(times)
        if limit is not None and len(records) < limit:
            return None
    return None


def _cron_time(record: dict[str, Any]) -> datetime | None:
    trigger = record.get("trigger")
    if not isinstance(trigger, dict) or trigger.get("source") != Trigger.SCHEDULE.value:
        return None
    value = trigger.get("cron_time")
    try:
        return parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None


def due_runs(
    root: Path,
    documents: Sequence[Document],
    reader: TraceReader,
    now: datetime,
    unevaluated: list[Diagnostic] | None = None,
) -> list[Due]:
    """The runs due at ``now``: one per approved, scheduled, committed document at most.

    ``documents`` are read from ``root``'s HEAD (their paths below ``root``). Status
    ``approved`` is required; ``publication`` plays no part (a published draft never runs).
    A document whose schedule cannot be evaluated is added to ``unevaluated``.
    """
    found: list[Due] = []
    for doc in documents:
        if not _scheduled(doc):
            continue
        assert doc.triggers is not None
        relpath = doc.path.resolve().relative_to(root.resolve()).as_posix()
        commit = repo.file_commit(root, relpath)
        if commit is None:
            continue
        try:
            due = due_time(
                doc.triggers.schedule,
                doc.triggers.timezone,
                now,
                changed_at=repo.commit_time(root, commit),
                last_cron_time=last_cron_time(reader, doc.id),
            )
        except ScheduleProblem as exc:
            if unevaluated is not None:
                unevaluated.append(_schedule_diagnostic(relpath, doc, exc))
            continue
        if due is not None:
            found.append(
                Due(relpath, doc.id, due[0], iso_utc(due[1]), timezone=doc.triggers.timezone)
            )
    return found


def _schedule_diagnostic(relpath: str, doc: Document, problem: ScheduleProblem) -> Diagnostic:
    line = doc.triggers.line if doc.triggers is not None else 1
    return Diagnostic(relpath, line, 1, f"on.schedule cannot be evaluated: {problem}")


def committed_documents(
    place: DocumentHome, commit: str
) -> tuple[list[Document], list[Diagnostic]]:
    """The intent documents as ``commit`` holds them, and the problems of those that cannot
    be read but ask for scheduled runs (``status: approved`` and a ``schedule`` key): such a
    document would otherwise never run, silently. Other invalid documents are left out."""
    docs: list[Document] = []
    problems: list[Diagnostic] = []
    for path in document.discover(place.root, place.settings.intents):
        relpath = path.relative_to(place.root).as_posix()
        data = repo.file_at(place.root, commit, relpath)
        if data is None:
            continue
        text = data.decode("utf-8", errors="replace")
        try:
            docs.append(document.parse(data.decode("utf-8"), place.root / relpath))
        except UnicodeDecodeError as exc:
            if asks_for_schedule(text):
                message = f"not UTF-8 text (byte {exc.start}): save it as UTF-8"
                problems.append(Diagnostic(relpath, 1, 1, message))
        except DocumentError as exc:
            if asks_for_schedule(text):
                shown = str(place.root / relpath)
                problems.extend(
                    dataclasses.replace(d, path=relpath) if d.path == shown else d
                    for d in exc.diagnostics
                )
    return docs, problems


def asks_for_schedule(text: str) -> bool:
    """Whether a document's front matter, read as text, is approved and has a schedule."""
    front = _FRONT_MATTER.match(text.replace("\r\n", "\n"))
    return (
        front is not None
        and _SCHEDULE_KEY.search(front.group(1)) is not None
        and _APPROVED.search(front.group(1)) is not None
    )


def next_due(documents: Sequence[Document], now: datetime) -> datetime | None:
    times = []
    for doc in documents:
        if not _scheduled(doc):
            continue
        try:
            moment = next_run(doc, now)
        except ScheduleProblem:
            continue  # reported by due_runs
        if moment is not None:
            times.append(moment)
    return min(times) if times else None


def schedule_once(
    where: Path, now: datetime | None = None, *, notify: Notice | None = None
) -> SchedulePass:
    """Run every due scheduled document once, each in a temporary worktree of HEAD."""
    place = locate(where)
    if not place.in_repository:
        raise UsageError(
            f"{where} is not in a git repository: orch schedule runs committed documents"
        )
    moment = now or datetime.now(UTC)
    head = repo.head_commit(place.root)
    if head is None:
        return SchedulePass()
    docs, unevaluated = committed_documents(place, head)
    reader = trace_reader(place)
    records: list[RunRecord] = []
    problems: list[str] = []
    for due in due_runs(place.root, docs, reader, moment, unevaluated):
        try:
            record = run_due(place, head, due, reader, notify)
        except OrchError as exc:
            problems.append(f"{due.path} ({due.cron_time}): {exc}")
            continue
        if record is not None:
            records.append(record)
    return SchedulePass(records, problems, next_due(docs, moment), unevaluated)


def run_due(
    place: DocumentHome, commit: str, due: Due, reader: TraceReader, notify: Notice | None = None
) -> RunRecord | None:
    """Claim the due time and run it; None when another scheduler had claimed it."""
    cron_time = parse_iso(due.cron_time)
    state_dir = place.settings.state_dir
    if not claims.claim(state_dir, due.workflow_id, cron_time):
        return None
    last = last_cron_time(reader, due.workflow_id)
    if last is not None and last >= cron_time:
        return None
    if place.settings.trace_remote and not _claim_on_remote(place, due, cron_time):
        return None
    if notify is not None:
        notify(f"running {due.path} for {due.cron_time} ({due.expression!r} {due.timezone})")
    if place.settings.broker_url:
        record = _send_due(place, commit, due)
    else:
        record = _run_due_here(place, commit, due, notify)
    claims.prune(state_dir, due.workflow_id, cron_time)
    if place.settings.trace_remote:
        oldest_kept = claims.claim_name(cron_time - REMOTE_CLAIMS_KEPT)
        remote_claims.prune(trace_writer(place), due.workflow_id, oldest_kept)
    return record


def _run_due_here(place: DocumentHome, commit: str, due: Due, notify: Notice | None) -> RunRecord:
    with temporary_worktree(place.root, commit) as tree:
        prepared = prepare(
            RunRequest(
                path=tree.path / due.path,
                workdir=tree.path,
                worktree=tree,
                trigger=Trigger.SCHEDULE,
                cron_time=due.cron_time,
                actor=ACTOR,
            )
        )
        return run_prepared(prepared, runner.SilentObserver(), notify)


def _send_due(place: DocumentHome, commit: str, due: Due) -> RunRecord:
    """With a broker: record the due run ``pending`` and send it to the workers."""
    from orchestrator.api import dispatch

    data = repo.file_at(place.root, commit, due.path)
    if data is None:
        raise UsageError(f"{due.path} is not in commit {commit[:12]}")
    doc = document.parse(data.decode("utf-8"), place.root / due.path)
    sent = dispatch.submit_committed(
        place, commit, doc, due.path, trigger=Trigger.SCHEDULE, actor=ACTOR, cron_time=due.cron_time
    )
    assert sent.record is not None
    return sent.record


def _claim_on_remote(place: DocumentHome, due: Due, cron_time: datetime) -> bool:
    """Take the cron time among every host pushing to the trace remote.

    When the remote cannot be asked, the local claim is given back and the error raised:
    the time runs on a later pass, once the remote answers, rather than possibly twice.
    """
    purpose = f"Scheduled run of {due.path} for {due.cron_time} ({due.expression!r})"
    try:
        return remote_claims.claim(
            trace_writer(place), due.workflow_id, claims.claim_name(cron_time), purpose
        )
    except OrchError:
        claims.release(place.settings.state_dir, due.workflow_id, cron_time)
        raise


def schedule_forever(where: Path, stop: threading.Event, *, notify: Notice | None = None) -> None:
    """Run due documents until ``stop`` is set, sleeping until the next cron time (≤ 60 s).

    Documents are read again at every wake, so a newly committed schedule is noticed within a
    minute. A run in progress finishes before the loop looks at ``stop``. A schedule that
    cannot be evaluated is reported when it is first seen, not at every wake.
    """
    reported: set[str] = set()
    while not stop.is_set():
        started = datetime.now(UTC)
        wake = started + timedelta(seconds=MAX_SLEEP_SECONDS)
        try:
            result = schedule_once(where, started, notify=notify)
        except OrchError as exc:
            if notify is not None:
                notify(f"orch schedule: {exc}")
        else:
            current = {str(diagnostic) for diagnostic in result.unevaluated}
            for problem in sorted(current - reported):
                if notify is not None:
                    notify(f"not scheduled: {problem}")
            reported = current
            for problem in result.problems:
                if notify is not None:
                    notify(problem)
            for record in result.records:
                if notify is not None:
                    notify(f"{record.workflow.id} run {record.run_id} {record.state.value}")
            if result.next_due is not None:
                wake = min(wake, result.next_due)
        delay = (wake - datetime.now(UTC)).total_seconds()
        stop.wait(max(delay, 0.2))
