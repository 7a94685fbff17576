"""post-commit and post-merge: approved documents run in a temporary worktree of the commit,
through real ``git commit`` and ``git merge`` runs of the installed hooks."""

from __future__ import annotations

import os
import time
from pathlib import Path

from orchestrator.api import hooks as hooks_api
from tests.conftest import git
from tests.hooks.helpers import AUTHOR, approved, commit, draft, head, installed, stage, trace_runs

TOUCHING = """
# Touch everything

```bash {step=touch}
echo "step ran in $PWD"
touch made-by-step.txt
echo "changed by the step" >> README.md
git add -A
test -z "$GIT_INDEX_FILE" && test -z "$GIT_DIR"
```
"""

ECHO = """
# Echo

```bash {step=echo}
echo "ran for $(git rev-parse --short HEAD)"
```
"""


def test_an_approved_document_runs_in_a_worktree_leaving_the_user_alone(git_repo: Path) -> None:
    installed(git_repo)
    (git_repo / "README.md").write_text("my uncommitted edit\n")
    (git_repo / "scratch.txt").write_text("untracked\n")
    stage(git_repo, {"intents/demo.md": approved("demo", TOUCHING)})
    status = git(git_repo, "status", "--porcelain").splitlines()

    done = commit(git_repo, "-m", "add demo", f"--author={AUTHOR}")
    assert done.returncode == 0, done.stderr
    commit_id = head(git_repo)

    (run,) = trace_runs(git_repo, "demo")
    assert run["state"] == "completed", run
    assert run["trigger"]["source"] == "hook"
    assert run["trigger"]["actor"] == AUTHOR
    assert run["workspace"] == {"kind": "worktree", "commit": commit_id, "dirty": False}
    assert run["document"]["commit"] == commit_id
    assert f"demo ({'intents/demo.md'}) run {run['run_id']}: completed" in done.stderr

    assert git(git_repo, "status", "--porcelain").splitlines() == [
        line for line in status if not line.endswith("intents/demo.md")
    ]
    assert (git_repo / "README.md").read_text() == "my uncommitted edit\n"
    assert not (git_repo / "made-by-step.txt").exists()
    assert git(git_repo, "diff", "--cached", "--name-only") == ""
    assert head(git_repo) == commit_id
    assert git(git_repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert len(git(git_repo, "worktree", "list").splitlines()) == 1


def test_drafts_do_not_run_and_paths_trigger_approved_documents(git_repo: Path) -> None:
    installed(git_repo)
    paths = 'on:\n  paths: ["src/**"]\n'
    stage(
        git_repo,
        {
            "intents/build.md": approved("build", ECHO, paths),
            "intents/later.md": draft("later", ECHO, paths),
        },
    )
    assert commit(git_repo, "-m", "documents").returncode == 0
    assert len(trace_runs(git_repo, "build")) == 1  # the document itself changed

    stage(git_repo, {"src/deep/x.py": "x = 1\n"})
    done = commit(git_repo, "-m", "touch src")
    assert done.returncode == 0, done.stderr
    runs = trace_runs(git_repo, "build")
    assert len(runs) == 2
    assert runs[1]["workspace"]["commit"] == head(git_repo)
    assert runs[1]["state"] == "completed"

    stage(git_repo, {"docs/notes.md": "notes\n"})
    done = commit(git_repo, "-m", "touch docs")
    assert done.returncode == 0, done.stderr
    assert "orch:" not in done.stderr
    assert len(trace_runs(git_repo, "build")) == 2
    assert trace_runs(git_repo, "later") == []


def test_a_failing_run_is_reported_but_the_commit_stays(git_repo: Path) -> None:
    installed(git_repo)
    failing = "# Fail\n\n```bash {step=fails}\necho broken >&2\nexit 3\n```\n"
    stage(git_repo, {"intents/fails.md": approved("fails", failing)})
    done = commit(git_repo, "-m", "failing document")
    assert done.returncode == 0  # git ignores post-commit's exit code
    assert "fails (intents/fails.md) run " in done.stderr
    assert ": failed: step 'fails'" in done.stderr
    assert git(git_repo, "log", "-1", "--format=%s").strip() == "failing document"
    (run,) = trace_runs(git_repo, "fails")
    assert run["state"] == "failed"


def test_inside_an_orch_run_the_hook_does_nothing(git_repo: Path) -> None:
    stage(git_repo, {"intents/demo.md": approved("demo", ECHO)})
    git(git_repo, "commit", "-q", "-m", "demo")
    inside = hooks_api.run_hook(
        "post-commit", git_repo, environ={**os.environ, "ORCH_ACTIVE_RUN": "x"}
    )
    assert inside.runs == ()
    assert inside.skipped is not None and "inside orch run x" in inside.skipped
    assert trace_runs(git_repo, "demo") == []
    outside = hooks_api.run_hook("post-commit", git_repo, environ=dict(os.environ))
    assert [(r.workflow, r.state) for r in outside.runs] == [("demo", "completed")]
    assert len(trace_runs(git_repo, "demo")) == 1


def test_detached_runs_return_at_once_and_land_in_the_trace(git_repo: Path, tmp_path: Path) -> None:
    installed(git_repo)
    # The step waits for a gate the test opens only after the commit returned: the commit
    # cannot have waited for the run, however slow the machine.
    gate = tmp_path / "gate"
    wait = f"until [ -e '{gate}' ]; do sleep 0.05; done"
    slow = f"# Slow\n\n```bash {{step=slow timeout=60s}}\n{wait}\n```\n"
    stage(git_repo, {"intents/slow.md": approved("slow", slow)})
    done = commit(git_repo, "-m", "slow", env={"ORCH_HOOKS_DETACH": "1"})
    assert done.returncode == 0, done.stderr
    assert "running intents/slow.md in the background" in done.stderr
    assert not [r for r in trace_runs(git_repo, "slow") if r["state"] == "completed"]
    gate.touch()
    logs = list((git_repo / ".orch" / "hooks").glob("*.log"))
    assert len(logs) == 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = trace_runs(git_repo, "slow")
        if runs and runs[0]["state"] == "completed":
            break
        time.sleep(0.3)
    (run,) = trace_runs(git_repo, "slow")
    assert run["state"] == "completed", logs[0].read_text()
    assert run["trigger"]["source"] == "hook"
    assert run["workspace"]["commit"] == head(git_repo)
    assert git(git_repo, "status", "--porcelain") == ""


def _merge_brings_a_document(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    stage(repo, {"intents/merged.md": approved("merged", ECHO)})
    git(repo, "commit", "-q", "-m", "document from elsewhere")
    git(repo, "checkout", "-q", "main")
    installed(repo)


def test_post_merge_is_off_by_default(git_repo: Path) -> None:
    _merge_brings_a_document(git_repo)
    git(git_repo, "merge", "-q", "--ff-only", "feature")
    assert trace_runs(git_repo, "merged") == []


def test_post_merge_runs_what_the_merge_brought_when_enabled(git_repo: Path) -> None:
    _merge_brings_a_document(git_repo)
    (git_repo / "orch.toml").write_text("hooks-post-merge = true\n")
    git(git_repo, "merge", "-q", "--ff-only", "feature")
    (run,) = trace_runs(git_repo, "merged")
    assert run["state"] == "completed"
    assert run["trigger"]["source"] == "hook"
    assert run["workspace"]["commit"] == head(git_repo)


def test_a_rebase_does_not_run_the_commits_it_replays(git_repo: Path) -> None:
    git(git_repo, "checkout", "-q", "-b", "feature")
    stage(git_repo, {"intents/demo.md": approved("demo", ECHO)})
    git(git_repo, "commit", "-q", "-m", "demo on a branch")
    git(git_repo, "checkout", "-q", "main")
    stage(git_repo, {"other.txt": "other\n"})
    git(git_repo, "commit", "-q", "-m", "main moves on")
    git(git_repo, "checkout", "-q", "feature")
    installed(git_repo)
    git(git_repo, "rebase", "-q", "main")
    assert git(git_repo, "log", "-1", "--format=%s").strip() == "demo on a branch"
    assert trace_runs(git_repo, "demo") == []
