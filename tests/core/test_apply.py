"""``orch apply`` end to end: real repositories, real processes, the real trace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch, trace_record

FRONT = """
id: demo
title: Demo
status: approved
"""


def _apply_json(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    ran = orch(repo, "apply", *args, "--json", env=env)
    assert ran.stdout, ran.stderr
    return ran.code, json.loads(ran.stdout)


def test_steps_run_in_order_and_pass_outputs(git_repo: Path) -> None:
    body = """
# Demo

## Make

```bash {step=make}
echo "made" > made.txt
echo "greeting=hello $ORCH_INPUT_WHO" >> "$ORCH_OUTPUT"
```

## Use

```sh {step=use}
echo {{ steps.make.outputs.greeting | sh }} from {{ run.trigger }} in {{ workflow.id }}
test -f made.txt
```
"""
    front = FRONT + "inputs:\n  who:\n    type: string\n    default: world\n"
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    code, record = _apply_json(git_repo, "intents/demo.md", "-i", "who=orch")
    assert code == 0
    assert record["state"] == "completed"
    assert [s["name"] for s in record["steps"]] == ["make", "use"]
    assert record["steps"][0]["outputs"] == {"greeting": "hello orch"}
    assert [t["state"] for t in record["transitions"]] == ["pending", "running", "completed"]
    assert record["steps"][1]["section"] == "Use"
    log = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/logs/02-use.log")
    assert log == "hello orch from manual in demo\n"
    assert trace_record(git_repo, "demo", record["run_id"])["state"] == "completed"
    assert record["document"]["path"] == "intents/demo.md"
    assert record["document"]["dirty"] is False
    assert record["workspace"]["kind"] == "working-copy"


def test_failure_stops_the_run_and_says_where(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=first}
echo before
```

```bash {step=breaks}
echo "about to fail"
false
echo "never printed"
```

```bash {step=after}
touch after.txt
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md")
    assert ran.code == 1
    assert "about to fail" in ran.stderr
    assert "never printed" not in ran.stderr
    assert "step 'breaks': exited with code 1" in ran.stderr
    assert not (git_repo / "after.txt").exists()
    record = json.loads(next((git_repo / ".orch/runs/demo").glob("*/run.json")).read_text())
    assert [s["state"] for s in record["steps"]] == ["completed", "failed", "skipped"]
    assert record["error"] == {"step": "breaks", "message": "exited with code 1"}


def test_continue_on_error_retries_and_if(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=flaky retries=2 retry_delay=0}
n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
test $n -ge 3
```

```bash {step=allowed continue_on_error=true}
exit 4
```

```bash {step=never if="inputs.go == 'yes'"}
touch never.txt
```

```bash {step=always if="steps.allowed.state == 'failed'"}
touch always.txt
```
"""
    front = FRONT + "inputs:\n  go:\n    type: string\n    enum: [yes, no]\n    default: no\n"
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    code, record = _apply_json(git_repo, "intents/demo.md")
    assert code == 0, record
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["flaky"]["attempts"] == 3 and steps["flaky"]["state"] == "completed"
    assert steps["allowed"]["state"] == "failed" and steps["allowed"]["exit_code"] == 4
    assert steps["allowed"]["continued_on_error"] is True
    assert steps["never"]["state"] == "skipped"
    assert steps["always"]["state"] == "completed"
    assert not (git_repo / "never.txt").exists()
    assert (git_repo / "always.txt").exists()


def _running(pid: int, command: bytes) -> bool:
    """Whether process ``pid`` still runs ``command`` (a zombie or a reused id does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z" and Path(f"/proc/{pid}/cmdline").read_bytes() == command
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_timeout_kills_the_whole_process_tree(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=hangs timeout=1s}
sleep 300 &
echo $! > orphan.pid
sleep 30
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record = _apply_json(git_repo, "intents/demo.md")
    assert code == 1
    assert "timed out after 1s" in record["error"]["message"]
    orphan = int((git_repo / "orphan.pid").read_text())
    command = b"sleep\x00300\x00"
    # The tree is killed before apply returns; the wait only covers the signal's delivery.
    deadline = time.monotonic() + 10
    while _running(orphan, command) and time.monotonic() < deadline:
        time.sleep(0.02)
    survived = _running(orphan, command)
    if survived:
        os.kill(orphan, signal.SIGKILL)
    assert not survived, "the step's background process outlived the timeout"


def test_file_step_writes_exact_content_atomically(git_repo: Path) -> None:
    body = """
# Demo

```yaml {step=conf file=deep/er/app.yaml mode=0600}
name: {{ inputs.name }}
```

```text {step=verbatim file=raw.txt render=false}
{{ not rendered }} ${#ARR[@]}
```
"""
    front = FRONT + "inputs:\n  name:\n    type: string\n    default: app\n"
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    code, record = _apply_json(git_repo, "intents/demo.md")
    assert code == 0, record
    target = git_repo / "deep/er/app.yaml"
    assert target.read_text() == "name: app\n"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert (git_repo / "raw.txt").read_text() == "{{ not rendered }} ${#ARR[@]}\n"
    assert record["steps"][0]["file"]["changed"] is True
    code, record = _apply_json(git_repo, "intents/demo.md")
    assert record["steps"][0]["file"]["changed"] is False


@pytest.mark.parametrize(
    ("info", "complaint"),
    [
        ("text {step=bad file=../outside.txt}", "outside the working tree"),
        ("text {step=bad file=.git/config}", "inside .git/"),
        ("text {step=bad file=.orch/x}", "inside .orch/"),
        ("text {step=bad file=link/escape.txt}", "outside the working tree"),
        ("bash {step=bad cwd=../}", "outside the working tree"),
        ("bash {step=bad cwd=link}", "outside the working tree"),
    ],
)
def test_paths_outside_the_tree_are_refused_before_anything_runs(
    git_repo: Path, tmp_path: Path, info: str, complaint: str
) -> None:
    (git_repo / "link").symlink_to(tmp_path)
    body = """
# Demo

```bash {step=marker}
touch marker.txt
```

```INFO
x
```
""".replace("INFO", info)
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md")
    assert ran.code == 2, ran.stderr
    assert complaint in ran.stderr
    assert "intents/demo.md:" in ran.stderr
    assert not (git_repo / "marker.txt").exists()
    assert git(git_repo, "branch", "--list", "orch-trace") == ""


def test_secrets_are_required_masked_and_credentials_withheld(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=uses}
echo "token is $DEPLOY_TOKEN and input is $ORCH_INPUT_PASSWORD"
echo "leak=$DEPLOY_TOKEN" >> "$ORCH_OUTPUT"
echo "dropbox key: ${ORCH_DROPBOX_KEY:-absent}"
```
"""
    front = FRONT + (
        "secrets: [DEPLOY_TOKEN]\n"
        "inputs:\n  password:\n    type: string\n    secret: true\n    required: true\n"
    )
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    missing = orch(git_repo, "apply", "intents/demo.md", "-i", "password=hunter22")
    assert missing.code == 2
    assert "secret DEPLOY_TOKEN is not set" in missing.stderr
    env = {"DEPLOY_TOKEN": "s3cr3t-value", "ORCH_DROPBOX_KEY": "orch-own-key"}
    code, record = _apply_json(git_repo, "intents/demo.md", "-i", "password=hunter22", env=env)
    assert code == 0, record
    assert record["inputs"] == {"password": "***"}
    assert record["steps"][0]["outputs"] == {"leak": "***"}
    trace = git(git_repo, "log", "-p", "orch-trace")
    everything = trace + json.dumps(record)
    for folder in (git_repo / ".orch").rglob("*"):
        if folder.is_file():
            everything += folder.read_text(errors="replace")
    assert "s3cr3t-value" not in everything
    assert "hunter22" not in everything
    assert "orch-own-key" not in everything
    assert "token is *** and input is ***" in trace
    assert "dropbox key: absent" in trace


@pytest.mark.parametrize(
    ("status", "flag", "code"),
    [
        ("draft", [], 2),
        ("draft", ["--allow-draft"], 0),
        ("in_review", ["--allow-draft"], 0),
        ("rejected", ["--allow-draft"], 2),
        ("superseded", ["--allow-draft"], 2),
    ],
)
def test_governance_status_gates_runs(
    git_repo: Path, status: str, flag: list[str], code: int
) -> None:
    front = f"id: demo\ntitle: Demo\nstatus: {status}\n"
    body = "# Demo\n\n```bash {step=marker}\ntouch marker.txt\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    ran = orch(git_repo, "apply", "intents/demo.md", *flag)
    assert ran.code == code, ran.stderr
    assert (git_repo / "marker.txt").exists() == (code == 0)
    if code == 2:
        assert "intents/demo.md:4:1:" in ran.stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["-i", "count=many"], "count"),
        (["-i", "unknown=1"], "unknown"),
        (["-i", "count"], "NAME=VALUE"),
        (["-i", "count=0"], "count"),
    ],
)
def test_bad_inputs_run_nothing(git_repo: Path, args: list[str], complaint: str) -> None:
    front = FRONT + "inputs:\n  count:\n    type: integer\n    minimum: 1\n    default: 2\n"
    body = "# Demo\n\n```bash {step=marker}\ntouch marker.txt\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(front, body)})
    ran = orch(git_repo, "apply", "intents/demo.md", *args)
    assert ran.code == 2, ran.stderr
    assert complaint in ran.stderr
    assert not (git_repo / "marker.txt").exists()


def test_template_failure_at_run_time_names_the_document_line(git_repo: Path) -> None:
    body = """# Demo

```bash {step=first}
echo "value=1" >> "$ORCH_OUTPUT"
```

```bash {step=second}
echo ok
echo "{{ steps.first.outputs.missing }}"
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md")
    assert ran.code == 1
    # The front matter takes lines 1-5; the failing expression sits on file line 15.
    assert "intents/demo.md:15:1: step 'second'" in ran.stderr
    assert "missing" in ran.stderr


def test_hostile_template_is_refused(git_repo: Path) -> None:
    body = """# Demo

```text {step=hostile file=out.txt}
{{ ''.__class__.__mro__[1].__subclasses__() }}
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md")
    # The body uses no earlier step's output, so it is rendered before the run starts.
    assert (ran.code, ran.stderr) == (
        2,
        "intents/demo.md:10:1: step 'hostile': refused by the template sandbox: access to "
        "attribute '__class__' of 'str' object is unsafe.\n",
    )
    assert "Popen" not in ran.stderr + ran.stdout
    assert not (git_repo / "out.txt").exists()


def test_manual_step_needs_confirmation(git_repo: Path) -> None:
    body = "# Demo\n\n```manual {step=check}\nLook at the dashboard.\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "apply", "intents/demo.md")
    # Without a terminal nobody can be asked: refused before anything runs.
    assert ran.code == 2
    assert ran.stderr == (
        "intents/demo.md:9:1: manual step 'check' needs a person to confirm it, and this run "
        "cannot ask one (no terminal): confirm it in advance with --confirm check\n"
    )
    code, record = _apply_json(git_repo, "intents/demo.md", "--confirm", "check")
    assert code == 0
    assert record["steps"][0]["confirmed_by"]


def test_plan_executes_nothing(git_repo: Path) -> None:
    body = """# Demo

```yaml {step=conf file=app.yaml}
mode: {{ inputs.mode }}
```

```bash {step=marker}
touch marker.txt
echo "v=1" >> "$ORCH_OUTPUT"
```

```bash {step=skipped if="inputs.mode == 'fast'"}
echo {{ steps.marker.outputs.v }}
```
"""
    front = (
        FRONT + "inputs:\n  mode:\n    type: string\n    enum: [slow, fast]\n    default: slow\n"
    )
    commit_documents(
        git_repo, {"intents/demo.md": document(front, body), "app.yaml": "mode: old\n"}
    )
    ran = orch(git_repo, "plan", "intents/demo.md", "--json")
    assert ran.code == 0, ran.stderr
    planned = {p["step"]: p for p in json.loads(ran.stdout)}
    assert "-mode: old\n+mode: slow" in planned["conf"]["diff"]
    assert planned["skipped"]["will_run"] is False
    assert planned["skipped"]["body"] == "echo <steps.marker.outputs.v>\n"
    assert not (git_repo / "marker.txt").exists()
    assert (git_repo / "app.yaml").read_text() == "mode: old\n"
    assert git(git_repo, "branch", "--list", "orch-trace") == ""


def test_history_commands_read_the_trace(git_repo: Path) -> None:
    body = "# Demo\n\n## Say\n\n```bash {step=say}\necho spoken-words\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record = _apply_json(git_repo, "intents/demo.md")
    assert code == 0
    run_id = record["run_id"]
    listed = orch(git_repo, "runs", "--json")
    assert [r["run_id"] for r in listed.json()] == [run_id]
    shown = orch(git_repo, "show", run_id[:17])
    assert shown.code == 0 and "Evidence chain" in shown.stdout and run_id in shown.stdout
    logs = orch(git_repo, "logs", run_id, "say")
    assert logs.stdout == "spoken-words\n"
    missing = orch(git_repo, "show", "19990101T000000Z-000000")
    assert missing.code == 2 and "orch runs" in missing.stderr


def test_a_killed_run_is_recorded_as_failed_by_the_next_command(git_repo: Path) -> None:
    body = "# Demo\n\n```bash {step=slow}\ntouch started.txt\nsleep 60\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/demo.md"],
        cwd=git_repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not (git_repo / "started.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    runs = orch(git_repo, "runs", "--json").json()
    assert len(runs) == 1
    assert runs[0]["state"] == "failed"
    assert "died" in runs[0]["error"]["message"]
    assert runs[0]["error"]["step"] == "slow"


def test_outside_a_repository_the_trace_goes_to_orchs_own(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "doc.md").write_text(document(FRONT, "# Demo\n\n```sh {step=a}\necho hi\n```\n"))
    ran = orch(folder, "apply", "doc.md")
    assert ran.code == 0, ran.stderr
    own = Path(os.environ["HOME"]) / ".local/share/orch/trace.git"
    assert "orch-trace" in git(own, "branch", "--list")
