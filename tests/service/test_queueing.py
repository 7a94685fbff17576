"""The run queue of the HTTP service, at the API: what it lists, what it refuses, what it
restores from the trace, and how a queued run that cannot start is recorded.

Real repositories and the real trace; records that an older orch or a hand may have left in a
trace are written with the trace writer itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.api import inspect, queued_runs
from orchestrator.errors import UsageError
from orchestrator.masking import MASK
from orchestrator.trace import TraceWriter, encode_record
from tests.conftest import git
from tests.core.helpers import commit_documents, document, trace_record
from tests.trace.records import record

DEPLOY = document(
    """
id: deploy
title: Deploy
status: approved
inputs:
  target:
    type: string
    enum: [staging, production]
    default: staging
    description: Where to deploy
  password:
    type: string
    secret: true
  replicas:
    type: integer
    required: true
""",
    "```bash {step=a}\necho deploying to $ORCH_INPUT_TARGET\n```\n",
)
BROKEN = "---\nid: broken\ntitle: Broken\n---\n\n```bash {step=a timeout=soon}\ntrue\n```\n"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return commit_documents(git_repo, {"intents/deploy.md": DEPLOY, "intents/broken.md": BROKEN})


def pending_record(
    workflow: str, rid: str, *, commit: str | None, queued_at: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    """A run record in state ``pending`` as the trace holds it."""
    pending = record(workflow, rid, "pending")
    pending["document"]["commit"] = commit
    pending["workspace"] = {"kind": "worktree", "commit": commit, "dirty": False}
    pending["transitions"] = [{"state": "pending", "at": queued_at}]
    pending["trigger"]["source"] = "api"
    pending["inputs"] = inputs
    pending["started_at"] = None
    pending["steps"] = []
    return pending


def write_pending(repo: Path, rec: dict[str, Any]) -> None:
    files = {"run.json": encode_record(rec)}
    TraceWriter(repo).commit_run(rec["workflow"]["id"], rec["run_id"], files, state="pending")


def test_workflows_lists_the_valid_documents_with_their_inputs(repo: Path) -> None:
    assert inspect.workflows(repo) == [
        {
            "id": "deploy",
            "title": "Deploy",
            "status": "approved",
            "path": "intents/deploy.md",
            "inputs": {
                "target": {
                    "type": "string",
                    "enum": ["staging", "production"],
                    "required": False,
                    "secret": False,
                    "description": "Where to deploy",
                    "default": "staging",
                },
                "password": {"type": "string", "required": False, "secret": True},
                "replicas": {"type": "integer", "required": True, "secret": False},
            },
        }
    ]


def test_enqueue_outside_a_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "intents").mkdir()
    (tmp_path / "intents" / "deploy.md").write_text(DEPLOY)
    with pytest.raises(UsageError) as refused:
        queued_runs.enqueue(tmp_path, "deploy", {"replicas": 2}, actor="ci")
    assert str(refused.value) == (
        f"{tmp_path} is not a git repository: queued runs run committed documents"
    )
    assert not (tmp_path / ".git").exists()


def test_enqueue_of_an_unknown_workflow_names_it(repo: Path) -> None:
    with pytest.raises(inspect.UnknownWorkflow) as refused:
        queued_runs.enqueue(repo, "broken", {}, actor="ci")
    assert str(refused.value) == "no intent document has the workflow id 'broken'"
    assert git(repo, "branch", "--list", "orch-trace") == ""


def test_no_trace_means_nothing_pending(repo: Path) -> None:
    assert queued_runs.pending_runs(repo) == []


def test_pending_runs_come_back_in_queue_order(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    later = pending_record(
        "deploy",
        "20261125T101500Z-aaaaaa",
        commit=head,
        queued_at="2026-11-25T10:15:00.500Z",
        inputs={"replicas": 1},
    )
    earlier = pending_record(
        "deploy",
        "20261125T101500Z-bbbbbb",
        commit=head,
        queued_at="2026-11-25T10:15:00.200Z",
        inputs={"replicas": 2, "password": MASK},
    )
    write_pending(repo, later)
    write_pending(repo, earlier)
    first, second = queued_runs.pending_runs(repo)
    assert first == queued_runs.Queued(
        run_id="20261125T101500Z-bbbbbb",
        workflow_id="deploy",
        path="intents/deploy.md",
        commit=head,
        actor="ann",
        queued_at=datetime(2026, 11, 25, 10, 15, 0, 200000, tzinfo=UTC),
        inputs={"replicas": 2},
        masked=frozenset({"password"}),
        blob=earlier["document"]["blob"],
    )
    assert (second.run_id, second.inputs, second.masked) == (
        "20261125T101500Z-aaaaaa",
        {"replicas": 1},
        frozenset(),
    )


def test_a_pending_record_without_a_commit_is_not_restored(repo: Path) -> None:
    rec = pending_record(
        "deploy",
        "20261125T101500Z-cccccc",
        commit=None,
        queued_at="2026-11-25T10:15:00Z",
        inputs={},
    )
    write_pending(repo, rec)
    assert queued_runs.pending_runs(repo) == []


def test_an_unreadable_queue_time_restores_as_now(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    rec = pending_record(
        "deploy", "20261125T101500Z-dddddd", commit=head, queued_at="yesterday", inputs={}
    )
    write_pending(repo, rec)
    before = datetime.now(UTC)
    (restored,) = queued_runs.pending_runs(repo)
    assert before <= restored.queued_at <= datetime.now(UTC)


def run_and_read(repo: Path, queued: queued_runs.Queued) -> tuple[str, dict[str, Any]]:
    state = queued_runs.run_queued(repo, queued)
    return state, trace_record(repo, queued.workflow_id, queued.run_id)


def test_a_commit_that_is_gone_fails_the_run_before_it_starts(repo: Path) -> None:
    missing = "0123456789" * 4
    rec = pending_record(
        "deploy",
        "20261125T101500Z-eeeeee",
        commit=missing,
        queued_at="2026-11-25T10:15:00Z",
        inputs={"replicas": 1},
    )
    write_pending(repo, rec)
    (queued,) = queued_runs.pending_runs(repo)
    state, stored = run_and_read(repo, queued)
    assert state == "failed"
    assert stored["state"] == "failed"
    assert stored["error"]["step"] is None
    assert stored["error"]["message"].startswith(f"could not check out {missing}: ")
    assert [t["state"] for t in stored["transitions"]] == ["pending", "failed"]
    report = git(repo, "show", f"orch-trace:runs/deploy/{queued.run_id}/report.md")
    assert report.startswith(f"# deploy run {queued.run_id}\n\n> **Failed** before it started: ")
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_a_secret_input_lost_in_a_restart_fails_the_run_with_the_reason(repo: Path) -> None:
    queued = queued_runs.enqueue(
        repo, "deploy", {"replicas": 3, "password": "s3cret-value"}, actor="ci"
    )
    (restored,) = queued_runs.pending_runs(repo)
    assert restored.run_id == queued.run_id and restored.masked == {"password"}
    state, stored = run_and_read(repo, restored)
    assert state == "failed"
    assert stored["error"] == {
        "step": None,
        "message": "secret input(s) password are never written down and were lost when the "
        "server restarted before the run started; submit the run again",
    }
    assert "s3cret-value" not in git(repo, "log", "-p", "orch-trace")


def test_inputs_the_document_no_longer_accepts_fail_the_run_before_it_starts(
    repo: Path,
) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    rec = pending_record(
        "deploy",
        "20261125T101500Z-ffffff",
        commit=head,
        queued_at="2026-11-25T10:15:00Z",
        inputs={"replicas": "many"},
    )
    write_pending(repo, rec)
    (queued,) = queued_runs.pending_runs(repo)
    state, stored = run_and_read(repo, queued)
    assert state == "failed"
    # The document is read in the run's temporary worktree, whose path the message names.
    assert re.fullmatch(
        r"the run could not start: /\S+/intents/deploy\.md:14:1: "
        r"input 'replicas': 'many' is not of type 'integer'",
        stored["error"]["message"],
    ), stored["error"]["message"]
    assert stored["steps"] == []


def test_fail_pending_leaves_a_run_that_is_not_pending_alone(repo: Path) -> None:
    queued = queued_runs.enqueue(repo, "deploy", {"replicas": 1}, actor="ci")
    assert queued_runs.run_queued(repo, queued) == "completed"
    tip = git(repo, "rev-parse", "orch-trace").strip()
    reason = "the server was asked to drop it"
    assert queued_runs.fail_pending(queued_runs.locate(repo), queued, reason) == "completed"
    assert git(repo, "rev-parse", "orch-trace").strip() == tip
    assert trace_record(repo, "deploy", queued.run_id)["state"] == "completed"


def test_fail_pending_of_a_run_the_trace_does_not_hold(repo: Path) -> None:
    queued_runs.enqueue(repo, "deploy", {"replicas": 1}, actor="ci")
    tip = git(repo, "rev-parse", "orch-trace").strip()
    unknown = queued_runs.Queued(
        run_id="20261125T101500Z-999999",
        workflow_id="deploy",
        path="intents/deploy.md",
        commit=tip,
        actor="ci",
        queued_at=datetime.now(UTC),
    )
    assert queued_runs.fail_pending(queued_runs.locate(repo), unknown, "gone") == "failed"
    assert git(repo, "rev-parse", "orch-trace").strip() == tip
