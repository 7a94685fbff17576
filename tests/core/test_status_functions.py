"""``if`` with ``always()``, ``success()``, ``failure()``, ``cancelled()``: cleanup steps run
after a failure, the run stays failed, and every skipped step says why. Real ``orch apply``
and ``orch plan`` processes, real bash."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

from orchestrator.process import process_alive
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch, trace_record

FRONT = """
id: demo
title: Demo
status: approved
"""

INTENTS = Path(__file__).resolve().parents[2] / "intents"


def _apply(repo: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    ran = orch(repo, "apply", "intents/demo.md", *args, "--json")
    assert ran.stdout, ran.stderr
    return ran.code, json.loads(ran.stdout), ran.stderr


def _steps(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in record["steps"]}


def test_after_a_failure_only_steps_that_ask_for_it_run(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=check}
echo checking
exit 3
```

```bash {step=plain}
touch plain.txt
```

```bash {step=guarded if="steps.check.exit_code == 3 or true"}
touch guarded.txt
```

```bash {step=on-success if="success()"}
touch success.txt
```

```bash {step=on-failure if="failure()"}
echo "check ended {{ steps.check.state }} with {{ steps.check.exit_code }}" > failure.txt
```

```bash {step=on-cancel if="cancelled()"}
touch cancelled.txt
```

```bash {step=cleanup if="always() and steps.check.state == 'failed'"}
echo "plain was {{ steps.plain.state }}" > cleanup.txt
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record, stderr = _apply(git_repo)
    assert code == 1, stderr
    steps = _steps(record)
    assert {name: step["state"] for name, step in steps.items()} == {
        "check": "failed",
        "plain": "skipped",
        "guarded": "skipped",
        "on-success": "skipped",
        "on-failure": "completed",
        "on-cancel": "skipped",
        "cleanup": "completed",
    }
    assert {name: step.get("skipped_because") for name, step in steps.items()} == {
        "check": None,
        "plain": "step 'check' failed before it",
        "guarded": "step 'check' failed before it",
        "on-success": "if: success() was false",
        "on-failure": None,
        "on-cancel": "if: cancelled() was false",
        "cleanup": None,
    }
    assert (git_repo / "failure.txt").read_text() == "check ended failed with 3\n"
    # A skipped step is visible to later conditions and templates as 'skipped'.
    assert (git_repo / "cleanup.txt").read_text() == "plain was skipped\n"
    assert not any((git_repo / f).exists() for f in ("plain.txt", "guarded.txt", "success.txt"))
    assert not (git_repo / "cancelled.txt").exists()
    # The cleanup succeeded; the run is failed all the same, for the check's reason.
    assert record["state"] == "failed"
    assert record["error"] == {"step": "check", "message": "exited with code 3"}
    trace = trace_record(git_repo, "demo", record["run_id"])
    assert trace["state"] == "failed" and trace["error"] == record["error"]
    assert "↷ plain  Demo  skipped: step 'check' failed before it" in stderr
    assert "↷ on-success  Demo  skipped: if: success() was false" in stderr
    report = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/report.md")
    assert "Skipped: step 'check' failed before it" in report
    shown = orch(git_repo, "show", record["run_id"]).stdout.splitlines()
    assert shown[shown.index("  └ exited with code 3") + 2] == (
        "  └ skipped: step 'check' failed before it"
    )
    assert "  └ skipped: if: cancelled() was false" in shown


def test_in_a_successful_run_failure_steps_are_skipped_and_the_rest_run(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=tolerated continue_on_error=true}
exit 4
```

```bash {step=on-success if="success()"}
touch success.txt
```

```bash {step=on-failure if="failure()"}
touch failure.txt
```

```bash {step=always if="always()"}
touch always.txt
```

```bash {step=plain}
touch plain.txt
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    code, record, stderr = _apply(git_repo)
    assert code == 0, stderr
    steps = _steps(record)
    # A failure with continue_on_error fails nothing: success() still holds.
    assert steps["tolerated"]["state"] == "failed" and steps["tolerated"]["continued_on_error"]
    assert [steps[n]["state"] for n in ("on-success", "on-failure", "always", "plain")] == [
        "completed",
        "skipped",
        "completed",
        "completed",
    ]
    assert steps["on-failure"]["skipped_because"] == "if: failure() was false"
    assert record["state"] == "completed" and record["error"] is None
    assert not (git_repo / "failure.txt").exists()


def test_a_failing_cleanup_keeps_the_first_failure_and_a_late_one_fails_the_run(
    git_repo: Path,
) -> None:
    first = """
# Demo

```bash {step=check}
exit 2
```

```bash {step=cleanup if="always()"}
echo "cleanup broke too"
exit 5
```

```bash {step=report if="failure()"}
touch reported.txt
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, first)})
    code, record, _ = _apply(git_repo)
    assert code == 1
    steps = _steps(record)
    assert (steps["cleanup"]["state"], steps["cleanup"]["exit_code"]) == ("failed", 5)
    assert steps["report"]["state"] == "completed"
    assert record["error"] == {"step": "check", "message": "exited with code 2"}

    # Only the always() step fails: it fails the run, and failure() steps after it run.
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, first.replace("exit 2", ""))})
    code, record, _ = _apply(git_repo)
    assert code == 1
    steps = _steps(record)
    assert [steps[n]["state"] for n in ("check", "cleanup", "report")] == [
        "completed",
        "failed",
        "completed",
    ]
    assert record["error"] == {"step": "cleanup", "message": "exited with code 5"}


def test_plan_says_which_conditions_only_the_run_decides(git_repo: Path) -> None:
    body = """
# Demo

```bash {step=build}
true
```

```bash {step=a if="always()"}
true
```

```bash {step=b if="failure()"}
true
```

```bash {step=c if="success()"}
true
```

```bash {step=d if="failure() and false"}
true
```

```bash {step=e if="always() and steps.build.state == 'failed'"}
true
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "plan", "intents/demo.md", "--json")
    assert ran.code == 0, ran.stderr
    verdicts = {step["step"]: step["will_run"] for step in ran.json()}
    assert verdicts == {"build": True, "a": True, "b": None, "c": None, "d": False, "e": None}
    text = orch(git_repo, "plan", "intents/demo.md")
    assert "a · Demo · script · runs" in text.stdout
    assert "b · Demo · script · if decided at run time" in text.stdout
    assert "d · Demo · script · skipped (if is false)" in text.stdout


def test_validate_refuses_status_functions_outside_if_and_dead_conditions(
    git_repo: Path,
) -> None:
    body = """
# Demo

```health {step=verify}
url: http://127.0.0.1:9/health
```

```bash {step=stop if="steps.verify.state == 'failed'"}
echo {{ failure() }}
```

```bash {step=stop-too if="steps.verify.state == 'failed'"}
echo stop
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    ran = orch(git_repo, "validate", "intents/demo.md")
    assert ran.code == 1
    assert ran.stdout.splitlines() == [
        "intents/demo.md:13:1: step 'stop' if: steps.verify.state == 'failed' is never "
        "true here: when 'verify' fails, only steps whose if calls a status function run (an "
        'if without one means success() and ...). Write if="failure() and '
        'steps.verify.state == \'failed\'" to run it after a failure, or if="always()" to run '
        "it in any case",
        "intents/demo.md:14:9: step 'stop' uses failure(), which only if conditions have: "
        "write it in the step's if attribute",
        "intents/demo.md:17:1: step 'stop-too' if: steps.verify.state == 'failed' is never "
        "true here: when 'verify' fails, only steps whose if calls a status function run (an "
        'if without one means success() and ...). Write if="failure() and '
        'steps.verify.state == \'failed\'" to run it after a failure, or if="always()" to run '
        "it in any case",
    ]
    applied = orch(git_repo, "apply", "intents/demo.md")
    assert applied.code == 2
    assert "step 'stop' uses failure(), which only if conditions have" in applied.stderr
    assert not (git_repo / ".orch" / "runs").exists()


def test_the_example_stops_its_server_when_the_check_fails(git_repo: Path) -> None:
    """``intents/web-server-check.md`` with a health expectation the server does not meet."""
    text = (INTENTS / "web-server-check.md").read_text()
    broken = text.replace("  status: ok\n", "  status: down\n").replace(
        "timeout: 10s", "timeout: 1s"
    )
    assert broken.count("status: down") == 1 and "timeout: 1s" in broken
    (git_repo / "intents").mkdir()
    shutil.copy(INTENTS / "web-server-check.md", git_repo / "intents" / "ok.md")
    commit_documents(git_repo, {"intents/demo.md": broken.replace("web-server-check", "demo")})
    code, record, stderr = _apply(git_repo)
    assert code == 1, stderr
    steps = _steps(record)
    assert [steps[n]["state"] for n in ("content", "start", "verify", "stop")] == [
        "completed",
        "completed",
        "failed",
        "completed",
    ]
    assert "status: wanted 'down', got 'ok'" in steps["verify"]["error"]
    assert record["error"]["step"] == "verify"
    log = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/logs/02-start.log")
    server = int(re.search(r"as process (\d+)", log).group(1))  # type: ignore[union-attr]
    stop_log = git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/logs/04-stop.log")
    assert stop_log == "stopped the server\n"
    deadline = time.monotonic() + 10
    while process_alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(server)
