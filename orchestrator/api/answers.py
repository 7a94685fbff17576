"""People answering a run in progress: ``orch confirm``, ``orch cancel`` and their HTTP forms.

A run is executed by one orch process (``orch apply``, a hook, ``orch schedule``, a worker of
``orch serve``); the person answering uses another. They meet in the run's local folder on
the run's host: the answer is written to ``answer.json`` there (a temporary file, then a
hard link, so it appears whole and a second answer cannot replace a first one that was not
picked up yet), and the running process, which looks for it a few times a second, takes it
(removes it) and records it in the trace. The answering side waits until the answer was
taken and the record shows what became of the run.

An answer for a run whose process died is never taken: the answering side first closes such
runs (recovery records them failed), then refuses, as for any run that has ended.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.api.recording_runs import ANSWER, trace_reader
from orchestrator.api.recovering import recover, replayed_record
from orchestrator.api.workspace import DocumentHome, git_identity, locate
from orchestrator.errors import OrchError, TraceError, UsageError
from orchestrator.process import host_name
from orchestrator.record import Answer, timestamp, utc_now
from orchestrator.runner.steering import CANCEL, CONFIRM
from orchestrator.trace.layout import TERMINAL_STATES, progress_rank

log = logging.getLogger("orch")

# How long the answering side waits for the run to take its answer, and then for the run's
# record to show the outcome (a cancel stops processes: TERM, up to 2 s, then KILL).
PICKUP_SECONDS = 10.0
OUTCOME_SECONDS = 30.0
_POLL_SECONDS = 0.1


class RunNotFound(TraceError):
    """No run of the trace has this id (or prefix)."""


class NotAnswerable(UsageError):
    """The run cannot take this answer now (it ended, does not wait, runs elsewhere)."""


class NotPickedUp(OrchError):
    """The answer was written but the run did not take it in time."""


def encode_answer(answer: Answer) -> bytes:
    data = {
        "action": answer.action,
        "by": answer.by,
        "at": timestamp(answer.at),
        "step": answer.step,
    }
    return json.dumps(data).encode()


def decode_answer(data: bytes) -> Answer | None:
    """An answer file's answer; None when it is not one (it is then ignored)."""
    try:
        found = json.loads(data)
        at = datetime.fromisoformat(str(found["at"]))
    except (ValueError, KeyError, TypeError):
        return None
    action, by, step = found.get("action"), found.get("by"), found.get("step")
    if action not in (CONFIRM, CANCEL) or not isinstance(by, str) or not by:
        return None
    if step is not None and not isinstance(step, str):
        return None
    return Answer(action=str(action), by=by, at=at, step=step)


def write_answer(folder: Path, answer: Answer) -> Path:
    """Put ``answer`` in the run folder whole; ``NotAnswerable`` when another answer waits
    there to be taken."""
    target = folder / ANSWER
    temporary = folder / f".answer.{secrets.token_hex(4)}.tmp"
    try:
        temporary.write_bytes(encode_answer(answer))
        try:
            os.link(temporary, target)
        except FileExistsError:
            waiting = decode_answer(_read(target) or b"")
            what = f"{waiting.action} by {waiting.by}" if waiting else "an answer"
            raise NotAnswerable(
                f"the run has not yet taken the previous answer ({what}): try again in a moment"
            ) from None
    except OSError as exc:
        raise UsageError(f"could not write the answer into {folder}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
    return target


def take_answer(folder: Path) -> Answer | None:
    """The answer waiting in the run folder, removed from it (None when there is none)."""
    path = folder / ANSWER
    data = _read(path)
    if data is None:
        return None
    with contextlib.suppress(OSError):
        path.unlink()
    return decode_answer(data)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@dataclass(frozen=True)
class Answered:
    """What an answer did: the run's id and workflow, the step, and the run's state after."""

    run_id: str
    workflow: str
    action: str
    step: str | None
    by: str
    state: str
    record: Mapping[str, Any]
    # A cancel taken by a run that still runs cleanup steps (``always()``, ``cancelled()``):
    # those steps, which a second cancel stops.
    cleanup: tuple[str, ...] = ()


def person(place: DocumentHome) -> str:
    """Who answers from this command line: git's identity, else the login name."""
    return git_identity(place.root) or os.environ.get("USER") or "unknown"


def confirm(
    where: Path, run: str, step: str | None = None, *, actor: str | None = None
) -> Answered:
    """Confirm the manual step run ``run`` waits at (``step``, when given, must be it)."""
    return _answer(where, run, CONFIRM, step, actor)


def cancel(where: Path, run: str, *, actor: str | None = None) -> Answered:
    """Cancel a run that is queued, running or waiting: a running step's processes are
    stopped, and the run is recorded ``cancelled``."""
    return _answer(where, run, CANCEL, None, actor)


def _answer(where: Path, run: str, action: str, step: str | None, actor: str | None) -> Answered:
    place = locate(where)
    recover(place)  # a waiting run whose process died is closed first, never answered
    workflow, run_id, record = current_record(place, run)
    step = _check(record, run_id, action, step)
    folder = place.settings.state_dir / "runs" / workflow / run_id
    state = str(record.get("state"))
    if state == "pending":
        folder.mkdir(parents=True, exist_ok=True)
    answer = Answer(action=action, by=actor or person(place), at=utc_now(), step=step)
    path = write_answer(folder, answer)
    log.info("run %s of %s: %s by %s, for the run to take", run_id, workflow, action, answer.by)
    if state == "pending":
        # Nothing runs it yet: the run takes the cancel when it would start, and runs nothing.
        return Answered(run_id, workflow, action, step, answer.by, state, record)
    if not _gone(path, PICKUP_SECONDS):
        state = str(current_record(place, run_id)[2].get("state"))
        if state in TERMINAL_STATES:
            with contextlib.suppress(OSError):
                path.unlink()
            raise NotAnswerable(f"run {run_id} ended ({state}) before it took the answer")
        pid = (record.get("trigger") or {}).get("pid")
        raise NotPickedUp(
            f"run {run_id} has not taken the answer within {PICKUP_SECONDS:g}s (is its "
            f"process, pid {pid}, stopped?); the answer stays in {path} for it to take"
        )
    final = _outcome(place, run_id, answer)
    if action == CONFIRM and not _answered(final, step):
        raise NotAnswerable(
            f"run {run_id} no longer waited at step '{step}' when the answer arrived "
            f"(it is {final.get('state')})"
        )
    state = str(final.get("state"))
    cleanup = () if state in TERMINAL_STATES or action != CANCEL else _cleanup_steps(final)
    return Answered(run_id, workflow, action, step, answer.by, state, final, cleanup)


def current_record(place: DocumentHome, run: str) -> tuple[str, str, dict[str, Any]]:
    """(workflow, run id, record) of ``run``: this host's run folder when it is further
    along than the trace (a run in progress), else the trace's."""
    reader = trace_reader(place)
    try:
        workflow, run_id = reader.find_run(run)
        record = reader.read_run(run_id)
    except TraceError as exc:
        raise RunNotFound(str(exc)) from None
    local = local_record(place, workflow, run_id)
    if local is not None and progress_rank(local) >= progress_rank(record):
        record = local
    return workflow, run_id, record


def local_record(place: DocumentHome, workflow: str, run_id: str) -> dict[str, Any] | None:
    """The record of a run as this host's run folder holds it (None when it has none)."""
    return replayed_record(place.settings.state_dir / "runs" / workflow / run_id)


def _check(record: Mapping[str, Any], run_id: str, action: str, step: str | None) -> str | None:
    state = str(record.get("state"))
    trigger = record.get("trigger") or {}
    host = trigger.get("host")
    verb = "confirm" if action == CONFIRM else "cancel"
    if state in TERMINAL_STATES:
        raise NotAnswerable(f"run {run_id} has ended ({state}): there is nothing to {verb}")
    if host and host != host_name():
        raise NotAnswerable(
            f"run {run_id} runs on host {host} (pid {trigger.get('pid')}): {verb} it there"
        )
    if action == CANCEL:
        return None
    waiting = record.get("waiting") or {}
    if state != "waiting" or not isinstance(waiting, dict):
        raise NotAnswerable(
            f"run {run_id} is {state}, not waiting for a person: there is no step to confirm"
        )
    at = str(waiting.get("step"))
    if step is not None and step != at:
        raise NotAnswerable(f"run {run_id} waits at step '{at}', not at '{step}'")
    return at


def _gone(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _outcome(place: DocumentHome, run_id: str, answer: Answer) -> dict[str, Any]:
    """The run's record once it shows what the answer did (or the newest, after a while): a
    cancel ended the run, or it runs cleanup steps now, cancelled by this answer."""
    deadline = time.monotonic() + OUTCOME_SECONDS
    while True:
        record = current_record(place, run_id)[2]
        state = str(record.get("state"))
        if answer.action == CANCEL and (state in TERMINAL_STATES or _cancelled_by(record, answer)):
            return record
        if answer.action == CONFIRM and (state != "waiting" or _answered(record, answer.step)):
            return record
        if time.monotonic() > deadline:
            return record
        time.sleep(_POLL_SECONDS)


def _cancelled_by(record: Mapping[str, Any], answer: Answer) -> bool:
    """Whether the run in progress records ``answer`` as the cancel it took (it does once a
    cleanup step runs after it)."""
    cancelled = record.get("cancelled")
    return (
        isinstance(cancelled, dict)
        and cancelled.get("by") == answer.by
        and cancelled.get("at") == timestamp(answer.at)
    )


def _cleanup_steps(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The steps a cancelled run still runs (or waits at): its cleanup."""
    return tuple(
        str(entry.get("name"))
        for entry in record.get("steps") or []
        if isinstance(entry, dict) and entry.get("state") in ("running", "waiting")
    )


def _answered(record: Mapping[str, Any], step: str | None) -> bool:
    for entry in record.get("steps") or []:
        if isinstance(entry, dict) and entry.get("name") == step and entry.get("answer"):
            return True
    return False
