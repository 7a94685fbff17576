"""Manual steps of unattended runs wait for a person: a hook's run is recorded ``waiting``
with the instruction, keeps its workflow's lock, and goes on when ``orch confirm`` answers,
ends ``cancelled`` on ``orch cancel``, fails when nobody answers within the step's timeout,
and is recorded failed when its process dies. A run by hand that cannot ask is refused."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from orchestrator.api import hooks as hooks_api
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch
from tests.steering.helpers import (
    PERSON,
    eventually,
    run_in_state,
    runs,
    shown,
    states,
    step_of,
)

FRONT = "id: release\ntitle: Release\nstatus: approved\n"


def body(timeout: str = "60s") -> str:
    return f"""
# Release

```bash {{step=build}}
echo "version=2.4" >> "$ORCH_OUTPUT"
touch "$ORCH_REPO_ROOT/../built-$ORCH_RUN_ID"
```

```manual {{step=approve timeout={timeout}}}
Check that version {{{{ steps.build.outputs.version }}}} is on the dashboard.
```

```bash {{step=ship}}
echo "shipped {{{{ steps.build.outputs.version }}}}"
```
"""


def _commit_through_hook(repo: Path, text: str) -> subprocess.Popen[str]:
    """Commit the document with orch's hooks installed: post-commit runs it (trigger hook)
    and, while its run waits, the commit waits too."""
    hooks_api.install_hooks(repo)
    (repo / "intents").mkdir(exist_ok=True)
    (repo / "intents" / "release.md").write_text(document(FRONT, text))
    git(repo, "add", "intents/release.md")
    return subprocess.Popen(
        ["git", "commit", "-q", "-m", "release"],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_hook_run_waits_until_a_person_confirms(git_repo: Path) -> None:
    committing = _commit_through_hook(git_repo, body())
    run_id = run_in_state(git_repo, "waiting", "release")
    assert [r["run_id"] for r in runs(git_repo, "--state", "waiting")] == [run_id]

    waiting = shown(git_repo, run_id)
    assert waiting["trigger"]["source"] == "hook"
    assert states(waiting["transitions"]) == ["pending", "running", "waiting"]
    assert waiting["waiting"]["step"] == "approve"
    assert waiting["waiting"]["instruction"] == "Check that version 2.4 is on the dashboard."
    assert step_of(waiting, "approve")["state"] == "waiting"
    assert step_of(waiting, "ship")["state"] == "pending"
    subjects = git(git_repo, "log", "--format=%s", "orch-trace")
    assert f"orch: release {run_id} waiting" in subjects.splitlines()
    text = orch(git_repo, "show", run_id)
    assert "waits for a person at step approve until" in text.stdout
    assert f"orch confirm {run_id} approve" in text.stdout

    wrong = orch(git_repo, "confirm", run_id, "ship")
    assert wrong.code == 2
    assert wrong.stderr == f"orch: run {run_id} waits at step 'approve', not at 'ship'\n"

    confirmed = orch(git_repo, "confirm", run_id)
    assert confirmed.code == 0, confirmed.stderr
    assert re.fullmatch(
        rf"run {run_id}: step 'approve' confirmed by {re.escape(PERSON)}; "
        r"the run is (running|completed)\n",
        confirmed.stdout,
    )
    assert committing.wait(60) == 0
    record = shown(git_repo, run_id)
    assert record["state"] == "completed"
    assert states(record["transitions"]) == [
        "pending",
        "running",
        "waiting",
        "running",
        "completed",
    ]
    approve = step_of(record, "approve")
    assert approve["confirmed_by"] == PERSON
    assert approve["answer"]["action"] == "confirm"
    assert approve["answer"]["by"] == PERSON
    assert states(approve["transitions"]) == ["running", "waiting", "running", "completed"]
    assert record["waiting"] is None
    log = git(git_repo, "show", f"orch-trace:runs/release/{run_id}/logs/03-ship.log")
    assert log == "shipped 2.4\n"
    again = orch(git_repo, "confirm", run_id)
    assert again.code == 2
    assert again.stderr == (
        f"orch: run {run_id} has ended (completed): there is nothing to confirm\n"
    )


def test_cancel_ends_a_waiting_run_cancelled(git_repo: Path) -> None:
    committing = _commit_through_hook(git_repo, body())
    run_id = run_in_state(git_repo, "waiting", "release")
    # Something that is not an answer, left where answers go, is taken and dropped.
    answer = git_repo / ".orch" / "runs" / "release" / run_id / "answer.json"
    answer.write_text('{"action": "confirm", "by": ""}')
    eventually(lambda: not answer.exists(), "the run to take the file")
    assert shown(git_repo, run_id)["state"] == "waiting"
    cancelled = orch(git_repo, "cancel", run_id)
    assert cancelled.code == 0, cancelled.stderr
    assert cancelled.stdout == (
        f"run {run_id} cancelled (cancelled by {PERSON} during step 'approve')\n"
    )
    committing.wait(60)
    record = shown(git_repo, run_id)
    assert record["state"] == "cancelled"
    assert states(record["transitions"]) == ["pending", "running", "waiting", "cancelled"]
    assert record["error"] == {
        "step": "approve",
        "message": f"cancelled by {PERSON} during step 'approve'",
    }
    assert record["cancelled"]["by"] == PERSON
    approve = step_of(record, "approve")
    assert approve["state"] == "cancelled"
    assert approve["error"] == f"cancelled by {PERSON}"
    assert states(approve["transitions"]) == ["running", "waiting", "cancelled"]
    ship = step_of(record, "ship")
    assert (ship["state"], ship["skipped_because"]) == (
        "skipped",
        "the run was cancelled during step 'approve'",
    )
    assert [r["run_id"] for r in runs(git_repo, "--state", "cancelled")] == [run_id]
    late = orch(git_repo, "confirm", run_id)
    assert late.code == 2
    assert late.stderr == f"orch: run {run_id} has ended (cancelled): there is nothing to confirm\n"


def test_nobody_answering_within_the_timeout_fails_the_step(git_repo: Path) -> None:
    committing = _commit_through_hook(git_repo, body(timeout="1s"))
    committing.wait(60)
    [record] = runs(git_repo, "--workflow", "release")
    assert record["state"] == "failed"
    message = "nobody confirmed manual step 'approve' within its timeout (1s)"
    assert record["error"] == {"step": "approve", "message": message}
    approve = step_of(record, "approve")
    assert approve["error"] == message
    assert states(approve["transitions"]) == ["running", "waiting", "failed"]
    assert step_of(record, "ship")["state"] == "skipped"
    assert states(record["transitions"]) == ["pending", "running", "waiting", "failed"]


def test_a_waiting_run_whose_process_died_is_recorded_failed(git_repo: Path) -> None:
    committing = _commit_through_hook(git_repo, body())
    run_id = run_in_state(git_repo, "waiting", "release")
    owner = int(shown(git_repo, run_id)["trigger"]["pid"])
    os.kill(owner, signal.SIGKILL)
    committing.wait(60)
    answered = orch(git_repo, "confirm", run_id)
    assert answered.code == 2
    assert (
        answered.stderr == f"orch: run {run_id} has ended (failed): there is nothing to confirm\n"
    )
    record = shown(git_repo, run_id)
    assert record["error"]["step"] == "approve"
    assert record["error"]["message"].startswith(f"orch process {owner} on ")
    assert record["error"]["message"].endswith(
        "died while the run waited for a person; recorded as failed by a later orch command"
    )
    assert step_of(record, "approve")["error"] == "orch died while this step waited for a person"
    assert record["waiting"] is None


def test_a_run_by_hand_that_cannot_ask_is_refused_before_anything_runs(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/release.md": document(FRONT, body())})
    ran = orch(git_repo, "apply", "intents/release.md")
    assert ran.code == 2
    assert ran.stderr == (
        "intents/release.md:14:1: manual step 'approve' needs a person to confirm it, and this "
        "run cannot ask one (no terminal): confirm it in advance with --confirm approve\n"
    )
    assert not list(git_repo.parent.glob("built-*"))
    assert git(git_repo, "branch", "--list", "orch-trace") == ""

    unknown = orch(
        git_repo, "apply", "intents/release.md", "--confirm", "approve", "--confirm", "deploy"
    )
    assert unknown.code == 2
    assert unknown.stderr == (
        "intents/release.md:1:1: --confirm deploy: the document has no manual step 'deploy' "
        "(its manual steps: approve)\n"
    )
    confirmed = orch(git_repo, "apply", "intents/release.md", "--confirm", "approve")
    assert confirmed.code == 0, confirmed.stderr
