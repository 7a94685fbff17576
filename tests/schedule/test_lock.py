"""One run of a workflow at a time: a second ``orch apply`` waits, says so, and then runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.core.helpers import commit_documents, document

FRONT = """
id: slow
title: Slow
status: approved
"""
BODY = """
# Slow

```bash {step=first}
sleep 2
```

```bash {step=second}
echo done
```
"""


def _apply(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "apply", "intents/slow.md", "--json"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_second_apply_waits_for_the_first(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/slow.md": document(FRONT, BODY)})
    lock = git_repo / ".orch" / "locks" / "slow.lock"
    first = _apply(git_repo)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and str(first.pid) not in (
        lock.read_text() if lock.exists() else ""
    ):
        time.sleep(0.05)
    second = _apply(git_repo)
    out_first, err_first = first.communicate(timeout=60)
    out_second, err_second = second.communicate(timeout=60)
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    assert "waiting for run" in err_second
    assert "of slow to finish" in err_second
    a, b = json.loads(out_first), json.loads(out_second)
    assert a["run_id"] in err_second
    assert (a["state"], b["state"]) == ("completed", "completed")
    assert _moment(a["steps"][-1]["ended_at"]) <= _moment(b["steps"][0]["started_at"])
    assert _moment(a["ended_at"]) <= _moment(b["started_at"])
