"""``orch runs``, ``orch show`` and ``orch logs`` over real runs: the latest run by default,
JSON streamed as it is read, and why each step failed, in every place a person looks."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.cli.fixtures import RUNS, commit_history
from tests.core.helpers import commit_documents, document, orch

FRONT = "id: reasons\ntitle: Reasons\nstatus: approved\n"


class _Down(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "down", "service": "status"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unhealthy() -> Iterator[str]:
    """A real service on 127.0.0.1 whose health answer says it is down."""
    server = HTTPServer(("127.0.0.1", 0), _Down)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


def _body(url: str) -> str:
    return f"""# Reasons

## Checks

```bash {{step=slow timeout=1s continue_on_error=true}}
sleep 5
```

```bash {{step=killed continue_on_error=true}}
kill -9 $$
```

```bash {{step=three continue_on_error=true}}
echo about to fail
exit 3
```

```health {{step=healthy}}
url: {url}
expect:
  status: ok
timeout: 1s
interval: 200ms
```

```bash {{step=never}}
echo never
```
"""


def _seconds(text: str) -> str:
    """Elapsed times vary from run to run; everything else is asserted exactly."""
    text = re.sub(r"(?<= )\d+\.\ds(?= )", "N.Ns", text)  # the live display: 1.0s
    return re.sub(r"(?<= )\d+\.\d\d$", "N.N", text, flags=re.M)  # orch show: 1.01


TIMED_OUT = "timed out after 1s; its whole process tree was stopped"


def test_why_a_step_failed_is_shown_live_in_show_and_in_logs(
    git_repo: Path, unhealthy: str
) -> None:
    commit_documents(git_repo, {"intents/reasons.md": document(FRONT, _body(unhealthy))})
    applied = orch(git_repo, "apply", "intents/reasons.md")
    assert applied.code == 1, applied.stderr
    unhealthy_reason = (
        f"{unhealthy} did not become healthy within 1s: GET {unhealthy}: "
        "status: wanted 'ok', got 'down'"
    )
    live = [line for line in _seconds(applied.stderr).splitlines() if line[:2] in ("✗ ", "↷ ")]
    assert live == [
        f"✗ slow  Checks  N.Ns  failed: {TIMED_OUT} (continue_on_error: the run goes on)",
        "✗ killed  Checks  N.Ns  failed: killed by signal 9 (SIGKILL) "
        "(continue_on_error: the run goes on)",
        "✗ three  Checks  N.Ns  failed: exited with code 3 (continue_on_error: the run goes on)",
        f"✗ healthy  Checks  N.Ns  failed: {unhealthy_reason}",
        "↷ never  Checks  skipped: step 'healthy' failed before it",
    ]

    shown = orch(git_repo, "show", env={"COLUMNS": "120"})
    assert shown.code == 0, shown.stderr
    lines = _seconds(shown.stdout).splitlines()
    table = lines[lines.index("step     section  state    attempts  exit  seconds") :]
    assert table[: table.index("Evidence chain")] == [
        "step     section  state    attempts  exit  seconds",
        "slow     Checks   failed          1           N.N",
        f"  └ {TIMED_OUT} (continue_on_error: the run went on)",
        "killed   Checks   failed          1    -9     N.N",
        "  └ killed by signal 9 (SIGKILL) (continue_on_error: the run went on)",
        "three    Checks   failed          1     3     N.N",
        "  └ exited with code 3 (continue_on_error: the run went on)",
        "healthy  Checks   failed          1           N.N",
        f"  └ {unhealthy_reason}",
        "never    Checks   skipped         0",
        "  └ skipped: step 'healthy' failed before it",
    ]
    assert lines[2] == f"error in step healthy: {unhealthy_reason}"

    run_id = orch(git_repo, "runs", "--json").json()[0]["run_id"]
    logs = orch(git_repo, "logs", run_id)
    assert logs.code == 0, logs.stderr
    footers = [line for line in logs.stdout.splitlines() if " failed: " in line]
    assert footers == [
        f"── slow failed: {TIMED_OUT} (continue_on_error: the run went on) ──",
        "── killed failed: killed by signal 9 (SIGKILL) (continue_on_error: the run went on) ──",
        "── three failed: exited with code 3 (continue_on_error: the run went on) ──",
        f"── healthy failed: {unhealthy_reason} ──",
    ]
    one = orch(git_repo, "logs", run_id, "three")
    assert one.stdout.splitlines() == [
        "about to fail",
        "── three failed: exited with code 3 (continue_on_error: the run went on) ──",
    ]


def test_show_without_a_run_shows_the_latest(git_repo: Path) -> None:
    none = orch(git_repo, "show")
    assert none.code == 2
    assert none.stderr == (
        f"orch: no run is recorded in the trace of {git_repo} yet; "
        "run a document with `orch apply`\n"
    )
    commit_history(git_repo)
    latest = orch(git_repo, "show", "--json")
    assert latest.code == 0, latest.stderr
    assert latest.json()["run_id"] == RUNS[0][0]
    assert orch(git_repo, "show").stdout.splitlines()[1] == f"run {RUNS[0][0]}: completed"


def test_runs_json_is_one_array_written_record_by_record(git_repo: Path) -> None:
    empty = orch(git_repo, "runs", "--json")
    assert (empty.code, empty.stdout) == (0, "[]\n")
    table = orch(git_repo, "runs")
    assert (table.code, table.stdout) == (0, "no run is recorded in the trace yet\n")
    commit_history(git_repo)
    nothing = orch(git_repo, "runs", "--workflow", "nope")
    assert (nothing.code, nothing.stdout) == (0, "no run matches\n")
    listed = orch(git_repo, "runs", "--json", "-n", "3")
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 5
    records = json.loads(listed.stdout)
    assert [r["run_id"] for r in records] == [run[0] for run in RUNS[:3]]
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == records
    failed = orch(git_repo, "runs", "--json", "--state", "failed").json()
    assert [r["run_id"] for r in failed] == [RUNS[1][0]]
