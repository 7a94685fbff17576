"""``orch logs -f``: a running step's output reaches the follower while the step still runs,
read from the live log in the run's folder, which never holds a secret, not even one split
between two reads of the step's output."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.masking import Masker
from orchestrator.outputstream import MaskedStream
from tests.core.helpers import commit_documents, document, orch
from tests.steering.helpers import run_in_state, start

FRONT = "id: chatty\ntitle: Chatty\nstatus: approved\nsecrets: [API_TOKEN]\n"
BODY = """
# Chatty

```bash {step=prepare}
echo "preparing"
```

```bash {step=talk}
for i in 1 2 3; do echo "line $i"; sleep 0.1; done
printf 'token %s' "${API_TOKEN:0:9}"
sleep 0.5
printf '%s done\\n' "${API_TOKEN:9}"
while [ ! -e "$ORCH_REPO_ROOT/gate" ]; do sleep 0.05; done
echo "line 4"
```
"""
TOKEN = "tok-8c1f33a9-aa17-4ef0"


def _read_until(process: subprocess.Popen[bytes], wanted: bytes, timeout: float) -> bytes:
    """What ``process`` printed on stdout until ``wanted`` appeared (or ``timeout``)."""
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        if selector.select(0.1):
            seen += process.stdout.read() or b""
    return seen


def test_logs_follow_a_step_while_it_runs(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/chatty.md": document(FRONT, BODY)})
    env = {"API_TOKEN": TOKEN}
    applying = start(git_repo, "apply", "intents/chatty.md", env=env)
    run_id = run_in_state(git_repo, "running", "chatty")
    following = subprocess.Popen(
        ["orch", "logs", "-f", run_id],
        cwd=git_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    seen = _read_until(following, b"done\n", timeout=30)
    # The step still runs (it waits for the gate) and its lines are here already.
    assert applying.poll() is None
    assert (
        seen.decode()
        == "── prepare ──\npreparing\n── talk ──\nline 1\nline 2\nline 3\ntoken *** done\n"
    )
    live = git_repo / ".orch" / "runs" / "chatty" / run_id / "logs" / "02-talk.log"
    assert live.read_text() == "line 1\nline 2\nline 3\ntoken *** done\n"

    (git_repo / "gate").write_text("open")
    rest, errors = following.communicate(timeout=30)
    assert following.returncode == 0, errors
    assert rest.decode() == "line 4\n"
    assert errors.decode() == f"run {run_id} completed\n"
    assert applying.wait(30) == 0


def test_the_live_log_never_holds_a_secret_split_between_reads(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/chatty.md": document(FRONT, BODY)})
    applying = start(git_repo, "apply", "intents/chatty.md", env={"API_TOKEN": TOKEN})
    run_id = run_in_state(git_repo, "running", "chatty")
    live = git_repo / ".orch" / "runs" / "chatty" / run_id / "logs" / "02-talk.log"
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while "done" not in "".join(seen) and time.monotonic() < deadline:
        if live.exists():
            seen.add(live.read_text())
        time.sleep(0.01)
    # The first half of the token was printed 0.5 s before the rest, without a line end:
    # the live log never showed it, only the whole line, masked.
    assert "line 3\n" in "".join(seen)
    assert all(TOKEN[:9] not in text and "token tok" not in text for text in seen)
    assert live.read_text().endswith("token *** done\n")
    (git_repo / "gate").write_text("open")
    assert applying.wait(30) == 0
    trace = orch(git_repo, "logs", run_id, "talk")
    assert trace.stdout == "line 1\nline 2\nline 3\ntoken *** done\nline 4\n"


def test_following_a_finished_run_prints_its_logs_from_the_trace(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/chatty.md": document(FRONT, BODY)})
    (git_repo / "gate").write_text("open")
    done = orch(git_repo, "apply", "intents/chatty.md", "--json", env={"API_TOKEN": TOKEN})
    assert done.code == 0, done.stderr
    run_id = done.json()["run_id"]
    # Without this host's run folder the run is read from the trace alone.
    import shutil

    shutil.rmtree(git_repo / ".orch" / "runs")
    followed = orch(git_repo, "logs", "-f", run_id, "talk")
    assert followed.code == 0, followed.stderr
    assert followed.stdout == "line 1\nline 2\nline 3\ntoken *** done\nline 4\n"
    missing = orch(git_repo, "logs", "-f", run_id, "deploy")
    assert missing.code == 2
    assert missing.stderr == f"orch: run {run_id} has no step 'deploy'; steps: prepare, talk\n"


SECRETS = ("hunter2-hunter2", "pa$$word\nsecond-line", "ünïcödé-secret")


@settings(max_examples=300, deadline=None)
@given(
    secret=st.sampled_from(SECRETS),
    before=st.text(alphabet="ab \n", max_size=30),
    after=st.text(alphabet="ab \n", max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_a_stream_is_masked_wherever_it_is_cut(
    secret: str, before: str, after: str, cuts: list[int]
) -> None:
    masker = Masker([secret])
    text = f"{before}{secret}{after}\n{secret}\n"
    stream = MaskedStream(masker.mask, masker.forms)
    released = ""
    last = 0
    for cut in sorted({min(c, len(text)) for c in cuts}):
        released += stream.feed(text[last:cut])
        assert secret not in released
        assert all(line not in released for line in secret.splitlines() if len(line) >= 4)
        last = cut
    released += stream.feed(text[last:]) + stream.close()
    assert released == masker.mask(text)


PLACES = """
# Chatty

```bash {step=talk}
printf '%s: line %s: boom\\n' "$0" "$LINENO"
printf 'token %s' "${API_TOKEN:0:9}"
sleep 0.5
printf '%s done\\n' "${API_TOKEN:9}"
while [ ! -e "$ORCH_REPO_ROOT/gate" ]; do sleep 0.05; done
```
"""


def test_the_live_log_names_the_document_and_stays_masked(git_repo: Path) -> None:
    text = document(FRONT, PLACES)
    commit_documents(git_repo, {"intents/chatty.md": text})
    line = text.splitlines().index("printf '%s: line %s: boom\\n' \"$0\" \"$LINENO\"") + 1
    applying = start(git_repo, "apply", "intents/chatty.md", env={"API_TOKEN": TOKEN})
    run_id = run_in_state(git_repo, "running", "chatty")
    live = git_repo / ".orch" / "runs" / "chatty" / run_id / "logs" / "01-talk.log"
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while "done" not in "".join(seen) and time.monotonic() < deadline:
        if live.exists():
            seen.add(live.read_text())
        time.sleep(0.01)
    wanted = f"intents/chatty.md: line {line}: boom\ntoken *** done\n"
    # While the step runs: the document's place, never the temporary script's, and never
    # a part of the secret printed in two pieces.
    assert applying.poll() is None
    assert live.read_text() == wanted
    assert all(wanted.startswith(text) for text in seen), seen
    (git_repo / "gate").write_text("open")
    assert applying.wait(30) == 0
    assert orch(git_repo, "logs", run_id, "talk").stdout == wanted
