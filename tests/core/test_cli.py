"""The command line as people and scripts use it: inputs files, verbose output, interactive
confirmation, configuration, validation output and listings."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch

FRONT = """
id: demo
title: Demo
status: approved
"""


def test_inputs_file_and_command_line_precedence(git_repo: Path) -> None:
    front = FRONT + (
        "inputs:\n  region:\n    type: string\n    enum: [eu, us]\n"
        "  size:\n    type: integer\n    default: 1\n  tags:\n    type: array\n    default: []\n"
    )
    body = (
        "# Demo\n\n```bash {step=show}\n"
        'echo "$ORCH_INPUT_REGION $ORCH_INPUT_SIZE $ORCH_INPUT_TAGS"\n```\n'
    )
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    (git_repo / "in.yaml").write_text("region: eu\nsize: 3\ntags: [a, b]\n")
    (git_repo / "in.json").write_text('{"region": "us"}')
    ran = orch(
        git_repo, "apply", "intents/demo.md", "--inputs", "in.yaml", "-i", "size=7", "--json"
    )
    assert ran.code == 0, ran.stderr
    record = ran.json()
    assert record["inputs"] == {"region": "eu", "size": 7, "tags": ["a", "b"]}
    log = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/logs/01-show.log")
    assert log == 'eu 7 ["a","b"]\n'
    from_json = orch(git_repo, "apply", "intents/demo.md", "--inputs", "in.json", "--json")
    assert from_json.json()["inputs"]["region"] == "us"
    (git_repo / "bad.yaml").write_text("region: [unclosed\n")
    bad = orch(git_repo, "apply", "intents/demo.md", "--inputs", "bad.yaml")
    assert bad.code == 2 and "bad.yaml:" in bad.stderr


def test_verbose_streams_step_output(git_repo: Path) -> None:
    body = "# Demo\n\n```bash {step=talk}\necho first line\necho second line\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md", "-v")
    assert ran.code == 0
    assert "talk │ first line" in ran.stderr
    assert "talk │ second line" in ran.stderr


def test_manual_step_is_confirmed_at_an_interactive_terminal(git_repo: Path) -> None:
    body = (
        "# Demo\n\n```manual {step=check}\nLook at the dashboard.\n```\n\n"
        "```bash {step=after}\ntouch after.txt\n```\n"
    )
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md"],
        cwd=git_repo,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(follower)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Confirm" in seen:
            os.write(leader, b"y\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=30)
    os.close(leader)
    assert answered, seen.decode(errors="replace")
    assert b"Look at the dashboard." in seen
    assert process.returncode == 0, seen.decode(errors="replace")
    assert (git_repo / "after.txt").exists()


def test_configuration_file_and_its_mistakes(git_repo: Path) -> None:
    body = "# Demo\n\n```sh {step=a}\ntrue\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    (git_repo / "orch.toml").write_text('trace-branch = "evidence"\n')
    ran = orch(git_repo, "apply", "intents/demo.md")
    assert ran.code == 0, ran.stderr
    assert "evidence" in git(git_repo, "branch", "--list", "evidence")
    assert git(git_repo, "branch", "--list", "orch-trace") == ""
    (git_repo / "orch.toml").write_text('trace-brnach = "x"\n')
    typo = orch(git_repo, "apply", "intents/demo.md")
    assert typo.code == 2 and "unknown setting 'trace-brnach'" in typo.stderr
    (git_repo / "orch.toml").write_text('dropbox-key = "secret"\n')
    key = orch(git_repo, "apply", "intents/demo.md")
    assert key.code == 2 and "credential" in key.stderr


def test_validate_reports_every_problem_in_every_document(git_repo: Path) -> None:
    bad_one = document("id: one\ntitle: One\nstatsu: approved\n", "# One\n")
    bad_two = document(
        "id: two\ntitle: Two\n",
        "# Two\n\n```bash {step=a tiemout=1s}\ntrue\n```\n\n```cobol {step=b}\nx\n```\n",
    )
    good = document(FRONT, "# Demo\n\n```sh {step=a}\ntrue\n```\n")
    commit_documents(
        git_repo,
        {"intents/one.md": bad_one, "intents/two.md": bad_two, "intents/good.md": good},
    )
    ran = orch(git_repo, "validate")
    assert ran.code == 1
    lines = ran.stdout.strip().splitlines()
    assert any(line.startswith("intents/one.md:4:1:") and "statsu" in line for line in lines)
    assert any(line.startswith("intents/two.md:") and "tiemout" in line for line in lines)
    assert any(line.startswith("intents/two.md:") and "cobol" in line for line in lines)
    assert not any("good.md" in line for line in lines)
    assert orch(git_repo, "validate", "intents/good.md").code == 0


def test_list_shows_documents_and_their_triggers(git_repo: Path) -> None:
    front = FRONT + 'on:\n  paths: ["src/**"]\n'
    body = "# Demo\n\n```sh {step=a}\ntrue\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    ran = orch(git_repo, "list", "--json")
    assert ran.code == 0, ran.stderr
    (row,) = ran.json()
    assert row["id"] == "demo" and row["status"] == "approved"
    assert row["triggers"] == ["paths: src/**"]
    assert row["path"] == "intents/demo.md"


def test_report_is_the_document_as_it_ran(git_repo: Path) -> None:
    body = (
        "# Demo\n\n## Build\n\n```bash {step=build}\necho 'version=2' >> \"$ORCH_OUTPUT\"\n"
        "echo built\n```\n\n## Ship\n\n```bash {step=ship}\nexit 3\n```\n"
    )
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md", "--json")
    run_id = json.loads(ran.stdout)["run_id"]
    report = git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/report.md")
    assert report.startswith("# Demo\n")
    assert "**failed**" in report
    assert "### Build" in report and "### Ship" in report
    assert "`version` = `2`" in report
    assert "exit code 3" in report
    assert "built" in report


def test_a_trace_push_that_fails_warns_but_keeps_the_run(git_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(git_repo, "remote", "add", "evidence", str(remote))
    body = "# Demo\n\n```sh {step=a}\ntrue\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    (git_repo / "orch.toml").write_text('trace-remote = "evidence"\n')
    pushed = orch(git_repo, "apply", "intents/demo.md")
    assert pushed.code == 0, pushed.stderr
    assert "orch-trace" in git(remote, "branch", "--list")
    git(git_repo, "remote", "set-url", "evidence", str(tmp_path / "gone.git"))
    unpushed = orch(git_repo, "apply", "intents/demo.md", "--json")
    assert unpushed.code == 0, unpushed.stderr
    assert "warning: the trace is committed but could not be pushed" in unpushed.stderr
    run_id = unpushed.json()["run_id"]
    assert run_id in git(git_repo, "log", "--format=%s", "orch-trace")
