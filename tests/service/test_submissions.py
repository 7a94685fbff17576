"""Submissions answered from the index of HEAD: what a new commit changes is seen at once, and
an uncommitted edit is refused exactly as ``enqueue`` refuses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.api import queued_runs, server_submissions
from orchestrator.errors import DocumentError
from orchestrator.trace import repo as gitrepo
from orchestrator.trace.objects import ObjectStore
from tests.conftest import git
from tests.core.helpers import commit_documents, document, trace_record
from tests.service.conftest import RUN

ONE = document(
    """
id: one
title: One
status: approved
inputs:
  target:
    type: string
    enum: [staging]
""",
    "```bash {step=a}\ntrue\n```\n",
)
SECRET = document(
    """
id: secretive
title: Secretive
status: approved
secrets: [TOKEN]
inputs:
  password:
    type: string
    secret: true
  level:
    type: integer
    default: 3
""",
    "```bash {step=a}\ntrue\n```\n",
)


def _post(client: Any, workflow: str, **inputs: Any) -> Any:
    return client.post("/api/runs", headers=RUN, json={"workflow": workflow, "inputs": inputs})


def test_a_new_commit_is_seen_by_the_next_submission(git_repo: Path, serve: Any) -> None:
    repo = commit_documents(git_repo, {"intents/one.md": ONE})
    with serve(repo, workers=1).client() as client:
        assert _post(client, "one", target="staging").status_code == 202
        assert _post(client, "two").status_code == 404
        assert _post(client, "one", target="production").status_code == 422

        widened = ONE.replace("enum: [staging]", "enum: [staging, production]")
        two = ONE.replace("id: one", "id: two").replace("title: One", "title: Two")
        commit_documents(repo, {"intents/one.md": widened, "intents/two.md": two})
        head = git(repo, "rev-parse", "HEAD").strip()

        changed = _post(client, "one", target="production")
        assert changed.status_code == 202, changed.text
        added = _post(client, "two", target="staging")
        assert added.status_code == 202, added.text
    record = trace_record(repo, "two", added.json()["runId"])
    assert record["document"]["commit"] == head
    assert record["workspace"]["commit"] == head
    assert record["document"]["blob"] == gitrepo.blob_id_of_text(two)


def test_a_checkout_of_another_branch_is_seen(git_repo: Path, serve: Any) -> None:
    repo = commit_documents(git_repo, {"intents/one.md": ONE})
    git(repo, "checkout", "-q", "-b", "other")
    commit_documents(repo, {"intents/one.md": ONE.replace("status: approved", "status: draft")})
    with serve(repo, workers=1).client() as client:
        assert _post(client, "one", target="staging").status_code == 422
        git(repo, "checkout", "-q", "-")
        assert _post(client, "one", target="staging").status_code == 202


def test_uncommitted_edits_are_refused_as_before(git_repo: Path, serve: Any) -> None:
    repo = commit_documents(git_repo, {"intents/one.md": ONE})
    with serve(repo, workers=1).client() as client:
        assert _post(client, "one", target="staging").status_code == 202
        path = repo / "intents" / "one.md"
        path.write_text(ONE.replace("title: One", "title: One, edited"))
        edited = _post(client, "one", target="staging")
        assert edited.status_code == 409, edited.text
        assert "intents/one.md" in edited.json()["detail"]
        # An invalid request for an edited document is reported as invalid first, as before.
        assert _post(client, "one", target="nowhere").status_code == 422

        new = repo / "intents" / "new.md"
        new.write_text(ONE.replace("id: one", "id: new"))
        assert _post(client, "new", target="staging").status_code == 409

        path.unlink()
        assert _post(client, "one", target="staging").status_code == 404
        git(repo, "checkout", "--", "intents/one.md")
        assert _post(client, "one", target="staging").status_code == 202


def test_an_old_text_after_a_new_commit_is_an_uncommitted_edit(git_repo: Path) -> None:
    repo = commit_documents(git_repo, {"intents/one.md": ONE})
    intake = server_submissions.Submissions(repo)
    intake.enqueue("one", {"target": "staging"}, actor="ci")
    first = intake.index
    assert first is not None and set(first.documents) == {"one"}

    commit_documents(repo, {"intents/one.md": ONE.replace("title: One", "title: One, v2")})
    git(repo, "checkout", "HEAD~1", "--", "intents/one.md")
    # The working copy holds the text of the old HEAD, which the old index would accept.
    with pytest.raises(queued_runs.UncommittedDocument):
        intake.enqueue("one", {"target": "staging"}, actor="ci")
    index = intake.index
    assert index is not None and index.head == git(repo, "rev-parse", "HEAD").strip()
    assert index.documents["one"].document.title == "One, v2"


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in record.items() if k not in ("run_id", "transitions")}
    shown["trigger"] = {k: v for k, v in record["trigger"].items() if k != "pid_started"}
    return shown


def test_the_fast_path_records_what_enqueue_records(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = commit_documents(git_repo, {"intents/secretive.md": SECRET})
    environ = {"TOKEN": "t0ken", "PATH": "/usr/bin:/bin"}
    monkeypatch.chdir(repo)
    inputs = {"password": "hunter2"}
    slow = queued_runs.enqueue(repo, "secretive", inputs, actor="ci", environ=environ)
    fast = server_submissions.Submissions(repo).enqueue(
        "secretive", inputs, actor="ci", environ=environ
    )
    assert (fast.workflow_id, fast.path, fast.commit) == (slow.workflow_id, slow.path, slow.commit)
    records = [trace_record(repo, "secretive", q.run_id) for q in (slow, fast)]
    assert _comparable(records[1]) == _comparable(records[0])
    assert records[1]["inputs"] == {"password": "***", "level": 3}
    assert "hunter2" not in json.dumps(records[1])
    with pytest.raises(DocumentError) as missing:
        server_submissions.Submissions(repo).enqueue("secretive", inputs, actor="ci", environ={})
    assert "secret TOKEN is not set" in str(missing.value)


def test_head_is_read_without_git_as_git_reads_it(git_repo: Path, tmp_path: Path) -> None:
    repo = commit_documents(git_repo, {"intents/one.md": ONE})
    store = ObjectStore(gitrepo.git_common_dir(repo))

    def same(root: Path) -> None:
        expected = git(root, "rev-parse", "HEAD").strip()
        assert gitrepo.read_head(gitrepo.own_git_dir(root), store) == expected

    same(repo)
    git(repo, "pack-refs", "--all")
    same(repo)
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    commit_documents(linked, {"intents/side.md": ONE.replace("id: one", "id: side")})
    same(linked)
    same(repo)
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    same(repo)
    git(repo, "checkout", "-q", "--orphan", "unborn")
    assert gitrepo.read_head(gitrepo.own_git_dir(repo), store) is None
