"""One run of a workflow at a time: a second ``orch apply`` waits, says so, and then runs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
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
for _ in $(seq 600); do test -f release && break; sleep 0.1; done
test -f release
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
    # The first run holds the lock until the test sees the second one waiting for it.
    assert second.stderr is not None
    seen: list[str] = []
    waiting = threading.Event()

    def read_second_stderr() -> None:
        assert second.stderr is not None
        for line in second.stderr:
            seen.append(line)
            if "waiting for run" in line:
                waiting.set()

    reader = threading.Thread(target=read_second_stderr, daemon=True)
    reader.start()
    assert waiting.wait(timeout=60), "".join(seen)
    (git_repo / "release").touch()
    out_first, err_first = first.communicate(timeout=60)
    assert second.stdout is not None
    out_second = second.stdout.read()
    second.wait(timeout=60)
    reader.join(timeout=10)
    err_second = "".join(seen)
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    assert "waiting for run" in err_second
    assert "of slow to finish" in err_second
    a, b = json.loads(out_first), json.loads(out_second)
    assert a["run_id"] in err_second
    assert (a["state"], b["state"]) == ("completed", "completed")
    assert _moment(a["steps"][-1]["ended_at"]) <= _moment(b["steps"][0]["started_at"])
    assert _moment(a["ended_at"]) <= _moment(b["started_at"])
