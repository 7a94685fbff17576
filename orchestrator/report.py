"""``report.md``: the document as it ran, for people, readable on any forge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orchestrator.record import ArtifactRecord, RunRecord, StepRecord, timestamp
from orchestrator.templating import value_text

_STATE_MARK = {
    "completed": "✅",
    "failed": "❌",
    "skipped": "⏭️",
    "running": "⏳",
    "pending": "⏸️",
    "waiting": "✋",
    "cancelled": "🚫",
}


def render(record: RunRecord, read_log: Callable[[str], str]) -> str:
    """Markdown for a run; ``read_log(relative path)`` gives a step's stored log."""
    lines = [
        f"# {record.workflow.title}",
        "",
        f"{_STATE_MARK.get(record.state.value, '')} Run `{record.run_id}` of workflow "
        f"`{record.workflow.id}`: **{record.state.value}**",
        "",
        "| | |",
        "|---|---|",
        f"| document | `{record.document.path}` at `{_short(record.document.commit)}`"
        f"{' (uncommitted changes)' if record.document.dirty else ''} |",
        f"| document status | {record.workflow.status} |",
        f"| trigger | {record.trigger.source.value} by {record.trigger.actor} "
        f"on {record.trigger.host} (orch {record.trigger.orch_version}) |",
        f"| ran in | {record.workspace.kind} at `{_short(record.workspace.commit)}` |",
        f"| started | {_when(record.started_at)} |",
        f"| ended | {_when(record.ended_at)} |",
        f"| duration | {_seconds(record.duration_seconds)} |",
        f"| inputs digest | `{record.inputs_digest}` |",
        "",
    ]
    if record.error is not None:
        where = f" in step `{record.error.step}`" if record.error.step else ""
        how = "Cancelled" if record.cancelled is not None else "Failed"
        lines += [f"> **{how}{where}:** {record.error.message}", ""]
    if record.waiting is not None:
        waiting = record.waiting
        lines += [
            f"> **Waiting for a person** at step `{waiting.step}` until "
            f"{_when(waiting.until)}: `orch confirm {record.run_id}` or "
            f"`orch cancel {record.run_id}`",
            "",
        ]
    if record.rerun_of is not None:
        lines += [f"Runs again run `{record.rerun_of}` (the same revision and inputs).", ""]
    if record.resumes is not None:
        taken = ", ".join(f"`{name}`" for name in record.resumes.steps) or "no steps"
        forced = " (with `--force`)" if record.resumes.forced else ""
        lines += [f"Resumes run `{record.resumes.run}`, taking over {taken}{forced}.", ""]
    if record.inputs:
        lines += ["## Inputs", "", "| name | value |", "|---|---|"]
        lines += [f"| `{k}` | {_value(v)} |" for k, v in record.inputs.items()]
        lines.append("")
    lines += ["## Steps", ""]
    section = None
    for step in record.steps:
        if step.section != section:
            section = step.section
            lines += [f"### {section}", ""]
        lines += _step(step, read_log)
    if record.artifacts:
        lines += ["## Artifacts", ""]
        lines += [
            "| name | type | sha256 | payload sha256 | publication |",
            "|---|---|---|---|---|",
        ]
        lines += [_artifact(artifact) for artifact in record.artifacts]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _step(step: StepRecord, read_log: Callable[[str], str]) -> list[str]:
    mark = _STATE_MARK.get(step.state.value, "")
    facts = [step.state.value]
    if step.attempts > 1:
        facts.append(f"{step.attempts} attempts")
    if step.exit_code is not None:
        facts.append(f"exit code {step.exit_code}")
    if step.started_at and step.ended_at:
        facts.append(_seconds((step.ended_at - step.started_at).total_seconds()))
    lines = [
        f"#### {mark} `{step.name}` ({step.kind.value}, line {step.line})",
        "",
        ", ".join(facts),
        "",
    ]
    if step.skipped_because:
        lines += [f"Skipped: {step.skipped_because}", ""]
    if step.error:
        lines += [f"Error: {step.error}", ""]
    if step.file is not None:
        change = "changed" if step.file.changed else "unchanged"
        lines += [f"Wrote `{step.file.path}` (sha256 `{step.file.sha256}`, {change})", ""]
    if step.confirmed_by:
        lines += [f"Confirmed by {step.confirmed_by}", ""]
    if step.answer is not None and step.answer.action == "cancel":
        lines += [f"Cancelled by {step.answer.by} at {_when(step.answer.at)}", ""]
    if step.taken_over_from:
        lines += [f"Taken over from run `{step.taken_over_from}` (not run again)", ""]
    if step.rendered is not None:
        lines += _fenced(step.rendered)
    if step.outputs:
        lines += ["Outputs:", ""] + [f"- `{k}` = `{v}`" for k, v in step.outputs.items()] + [""]
    log = read_log(step.log) if step.log and step.state.value != "skipped" else ""
    if log.strip():
        excerpt = log.rstrip("\n").splitlines()[-20:]
        lines += [
            f"<details><summary>Log (last {len(excerpt)} lines; full log: `{step.log}`)</summary>",
            "",
        ]
        lines += _fenced("\n".join(excerpt) + "\n")
        lines += ["</details>", ""]
    return lines


def _fenced(text: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence, text.rstrip("\n"), fence, ""]


def _artifact(artifact: ArtifactRecord) -> str:
    publication = artifact.publication
    if publication.state == "published":
        where = (
            f"[{publication.artifact_id}]({publication.url})"
            if publication.url
            else (publication.artifact_id or "")
        )
        status = f"published {where}"
    else:
        status = f"{publication.state}: {publication.error or ''}"
    return (
        f"| `{artifact.file_name}` | {artifact.type} | `{artifact.sha256[:12]}` "
        f"| `{artifact.payload_sha256[:12]}` | {status} |"
    )


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "no commit"


def _when(moment: datetime | None) -> str:
    return timestamp(moment) if moment is not None else "—"


def _seconds(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.2f} s"


def _value(value: object) -> str:
    """An input as templates write it (``true``, ``false``; null as an empty cell)."""
    text = value_text(value)
    return f"`{text}`" if text else ""
