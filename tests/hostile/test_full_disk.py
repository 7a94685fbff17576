"""A full disk never strands a run: whatever fills up, the run ends ``failed`` with the reason
and exit code 1, and once there is space again the trace and ``open-runs.json`` agree.

Each case mounts a small tmpfs where the case needs it (the repository, ``.orch``, the trace
repository, TMPDIR, the outbox, the local store) and lets a real step or a real write fill it.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, document, orch
from tests.hostile.disk import fill, open_runs, small_disk

FRONT = """
id: demo
title: Demo
status: approved
"""


def _runs(repo: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    ran = orch(repo, "runs", "--json", env=env)
    assert ran.code == 0, ran.stderr
    runs: list[dict[str, Any]] = ran.json()
    return runs


def _shown(repo: Path, run_id: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    ran = orch(repo, "show", run_id, "--json", env=env)
    assert ran.code == 0, ran.stderr
    shown: dict[str, Any] = ran.json()
    return shown


def _run_id(ran: Ran) -> str:
    found = re.search(r"runs/demo/(\d{8}T\d{6}Z-[0-9a-f]{6})", ran.stderr)
    assert found, ran.stderr
    return found.group(1)


def _new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "--template=")
    (path / "README.md").write_text("test repository\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.mark.parametrize("padding", [0, 100_000], ids=["small-record", "record-over-reserve"])
def test_a_step_that_fills_the_disk_fails_the_run_and_recovery_records_it(
    tmp_path: Path, padding: int
) -> None:
    """With ``padding`` the final record is larger than the space reserved for it: what is
    kept is the record without step bodies and outputs (the logs and states are all there)."""
    comment = "# " + "p" * padding if padding else "# no padding"
    body = f"""
# Demo

```bash {{step=fill}}
{comment}
head -c 64M /dev/zero > filler.bin || true
echo "filled"
```

```bash {{step=after}}
echo "never runs"
```
"""
    with small_disk(tmp_path / "disk", "4m") as disk:
        repo = _new_repo(disk / "repo")
        commit_documents(repo, {"intents/demo.md": document(FRONT, body)})
        ran = orch(repo, "apply", "intents/demo.md")
        assert ran.code == 1, ran.stderr
        run_id = _run_id(ran)
        folder = repo / ".orch/runs/demo" / run_id
        log = folder / "logs/01-fill.log"
        reason = f"no space left on device while writing the log of step 'fill' ({log})"
        assert f"failed step 'fill': {reason}" in ran.stderr
        assert (
            f"orch: warning: run {run_id} could not be recorded in the trace: no space left on "
            f"device while writing the run's run.json ({folder / 'run.json'}); the next orch "
            "command on this host records it as failed once that is fixed"
        ) in ran.stderr
        assert not log.exists()

        # Still full: nothing can be committed, and the trace honestly says so.
        still_full = orch(repo, "runs", "--json")
        assert still_full.code == 0, still_full.stderr
        assert [(r["run_id"], r["state"]) for r in still_full.json()] == [(run_id, "running")]
        assert f"run {run_id} stays open in the trace for now: no space left" in still_full.stderr
        assert list(open_runs(repo)) == [f"demo/{run_id}"]

        (repo / "filler.bin").unlink()
        listed = _runs(repo)
        assert [(r["run_id"], r["state"]) for r in listed] == [(run_id, "failed")]
        assert listed[0]["error"] == {"step": "fill", "message": reason}
        assert open_runs(repo) == {}
        shown = _shown(repo, run_id)
        assert [(s["name"], s["state"]) for s in shown["steps"]] == [
            ("fill", "failed"),
            ("after", "skipped"),
        ]
        assert shown["steps"][1]["skipped_because"] == "step 'fill' failed before it"
        assert ("rendered" in shown["steps"][0]) is (padding == 0)
        assert [t["state"] for t in shown["transitions"]] == ["pending", "running", "failed"]
        report = git(repo, "show", f"orch-trace:runs/demo/{run_id}/report.md")
        assert "**Recorded late**: the run's own commit of its end failed (no space left" in report
        message = git(repo, "log", "-1", "--format=%B", "orch-trace")
        assert "Orch-State: failed" in message and "Orch-Recovered-By" in message
        assert not (folder / "final-record.reserved").exists()


def test_a_step_log_too_big_for_the_disk_fails_the_step_and_the_run_is_recorded(
    git_repo: Path, tmp_path: Path
) -> None:
    body = """
# Demo

```bash {step=loud}
head -c 3000000 /dev/zero | tr '\\0' x
```

```bash {step=after}
echo "never runs"
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    with small_disk(git_repo / ".orch", "1m"):
        ran = orch(git_repo, "apply", "intents/demo.md", env={"ORCH_LOG_CAP_BYTES": "16777216"})
        assert ran.code == 1, ran.stderr
        run_id = _run_id(ran)
        log = git_repo / ".orch/runs/demo" / run_id / "logs/01-loud.log"
        reason = f"no space left on device while writing the log of step 'loud' ({log})"
        assert f"failed step 'loud': {reason}" in ran.stderr
        assert "could not be recorded" not in ran.stderr  # the half-written log was removed
        # Recorded at once: no recovery needed.
        record = json.loads(git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/run.json"))
        assert record["state"] == "failed"
        assert record["error"] == {"step": "loud", "message": reason}
        assert [(s["name"], s["state"]) for s in record["steps"]] == [
            ("loud", "failed"),
            ("after", "skipped"),
        ]
        assert open_runs(git_repo) == {}
        assert _runs(git_repo)[0]["state"] == "failed"


def test_step_output_that_fills_tmpdir_fails_the_next_step_with_the_reason(
    git_repo: Path, tmp_path: Path
) -> None:
    body = """
# Demo

```bash {step=big}
{ printf 'big='; head -c 1000000 /dev/zero | tr '\\0' x; } >> "$ORCH_OUTPUT" 2>/dev/null || true
```

```bash {step=second}
echo "never runs"
```
"""
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    with small_disk(tmp_path / "tmp", "256k") as tmp:
        ran = orch(git_repo, "apply", "intents/demo.md", env={"TMPDIR": str(tmp)})
        assert ran.code == 1, ran.stderr
        run_id = _run_id(ran)
        shown = _shown(git_repo, run_id)
        assert [(s["name"], s["state"]) for s in shown["steps"]] == [
            ("big", "completed"),
            ("second", "failed"),
        ]
        assert shown["steps"][0]["outputs"]["big"].startswith("xxxx")
        pattern = (
            r"no space left on device while writing the script of step 'second' \("
            + re.escape(str(tmp))
            + r"/orch-run-[^/]+/second\.bash\)"
        )
        assert re.fullmatch(pattern, shown["error"]["message"]), shown["error"]
        assert shown["error"]["step"] == "second"
        assert f"failed step 'second': {shown['error']['message']}" in ran.stderr
        assert open_runs(git_repo) == {}
        assert not list(tmp.iterdir())  # the run's scratch folder is gone again


def test_a_full_trace_repository_fails_the_run_and_recovery_commits_it_later(
    git_repo: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "trace", "1m") as trace:
        git(trace, "init", "-q", "--bare", "--template=")
        body = f"""
# Demo

```bash {{step=work}}
echo "working"
head -c 8M /dev/zero > {trace}/filler.bin 2>/dev/null || true
```
"""
        commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
        env = {"ORCH_TRACE_REPOSITORY": str(trace)}
        ran = orch(git_repo, "apply", "intents/demo.md", env=env)
        assert ran.code == 1, ran.stderr
        run_id = _run_id(ran)
        objects = trace / "objects"
        problem = f"no space left on device while writing the trace's object database ({objects})"
        reason = f"the run's end could not be recorded: {problem}"
        assert f"failed {reason}" in ran.stderr
        assert f"could not be recorded in the trace: {problem}" in ran.stderr
        local = json.loads((git_repo / ".orch/runs/demo" / run_id / "run.json").read_text())
        assert local["state"] == "failed" and local["error"] == {"step": None, "message": reason}
        assert list(open_runs(trace)) == [f"demo/{run_id}"]
        assert [r["state"] for r in _runs(git_repo, env)] == ["running"]

        (trace / "filler.bin").unlink()
        listed = _runs(git_repo, env)
        assert [(r["run_id"], r["state"]) for r in listed] == [(run_id, "failed")]
        assert listed[0]["error"] == {"step": None, "message": reason}
        assert open_runs(trace) == {}
        steps = _shown(git_repo, run_id, env)["steps"]
        assert [(s["name"], s["state"]) for s in steps] == [("work", "completed")]
        assert git(trace, "show", f"orch-trace:runs/demo/{run_id}/logs/01-work.log") == (
            "working\n"
        )


ARTIFACT_FRONT = """
id: demo
title: Demo
status: approved
system: demo
artifacts:
  - name: bundle.zip
    type: evidence-bundle
    files: ["out/**"]
"""

ARTIFACT_BODY = """
# Demo

```bash {step=make}
mkdir -p out
head -c 600000 /dev/urandom > out/blob.bin
```
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_full_outbox_fails_the_run_with_the_reason(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/demo.md": document(ARTIFACT_FRONT, ARTIFACT_BODY)})
    outbox = git_repo / ".orch/outbox"
    env = {"ORCH_DROPBOX_URL": f"http://127.0.0.1:{_free_port()}", "ORCH_DROPBOX_KEY": "k"}
    with small_disk(outbox, "256k"):
        ran = orch(git_repo, "apply", "intents/demo.md", "--json", env=env)
        assert ran.code == 1, ran.stderr
        record = ran.json()
        run_id = record["run_id"]
        partial = outbox / "demo" / run_id / "00-bundle.zip"
        reason = f"no space left on device while writing the outbox ({partial})"
        assert record["error"] == {"step": None, "message": reason}
        assert f"failed {reason}" in ran.stderr
        assert not partial.exists()  # half a copy is no outbox entry
        stored = json.loads(git(git_repo, "show", f"orch-trace:runs/demo/{run_id}/run.json"))
        assert stored["state"] == "failed" and stored["error"] == record["error"]
        assert [s["state"] for s in stored["steps"]] == ["completed"]
        assert open_runs(git_repo) == {}
        # The package itself is kept.
        assert (git_repo / ".orch/packages" / run_id / "bundle.zip").is_file()


def test_a_full_local_store_fails_the_run_with_the_reason(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/demo.md": document(ARTIFACT_FRONT, ARTIFACT_BODY)})
    store = git_repo / ".orch/dropbox"
    with small_disk(store, "384k"):
        ran = orch(git_repo, "apply", "intents/demo.md", "--json")
        assert ran.code == 1, ran.stderr
        record = ran.json()
        reason = f"no space left on device while writing the local artifact store ({store})"
        assert record["error"] == {"step": None, "message": reason}
        assert f"failed {reason}" in ran.stderr
        stored = json.loads(
            git(git_repo, "show", f"orch-trace:runs/demo/{record['run_id']}/run.json")
        )
        assert stored["state"] == "failed" and stored["error"] == record["error"]
        assert open_runs(git_repo) == {}
        assert not list((store / ".tmp").iterdir())  # the half upload was discarded


def test_a_disk_full_before_the_run_starts_runs_nothing_and_leaves_nothing(
    git_repo: Path,
) -> None:
    body = "# Demo\n\n```bash {step=touch}\ntouch touched.txt\n```\n"
    commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
    state = git_repo / ".orch"
    with small_disk(state, "128k"):
        filler = fill(state)
        ran = orch(git_repo, "apply", "intents/demo.md")
        assert ran.code == 2, ran.stderr
        folder = re.escape(str(state / "runs/demo"))
        assert re.fullmatch(
            rf"orch: no space left on device while creating the run folder \({folder}/"
            r"\d{8}T\d{6}Z-[0-9a-f]{6}\); the run did not start \(nothing ran\)\n",
            ran.stderr,
        ), ran.stderr
        assert not (git_repo / "touched.txt").exists()
        assert not (state / "runs").exists()
        assert "orch-trace" not in git(git_repo, "branch", "--list", "orch-trace")
        filler.unlink()
        assert orch(git_repo, "apply", "intents/demo.md").code == 0
        assert (git_repo / "touched.txt").exists()
        # The ignore marker a full disk left empty was written again.
        assert git(git_repo, "status", "--porcelain") == "?? touched.txt\n"


def test_a_long_lived_process_closes_its_own_run_that_could_not_be_recorded(
    git_repo: Path, tmp_path: Path
) -> None:
    """``orch serve`` and ``orch schedule`` live on after a run: a run whose end they could
    not commit is closed by their own next recovery, although its owner (they) is alive."""
    from orchestrator.api.apply import RunRequest, apply
    from orchestrator.api.recovering import recover
    from orchestrator.api.workspace import locate

    with small_disk(tmp_path / "trace", "1m") as trace:
        git(trace, "init", "-q", "--bare", "--template=")
        fills = f"head -c 8M /dev/zero > {trace}/f 2>/dev/null || true"
        body = f"# Demo\n\n```bash {{step=work}}\n{fills}\n```\n"
        commit_documents(git_repo, {"intents/demo.md": document(FRONT, body)})
        environ = {**os.environ, "ORCH_TRACE_REPOSITORY": str(trace)}
        request = RunRequest(path=git_repo / "intents/demo.md", environ=environ)
        record = apply(request)
        assert record.state.value == "failed"
        assert record.error is not None and record.error.message.startswith(
            "the run's end could not be recorded: no space left on device"
        )
        place = locate(git_repo / "intents/demo.md", environ)
        assert recover(place) == []  # still full
        (trace / "f").unlink()
        assert recover(place) == [record.run_id]
        assert open_runs(trace) == {}
        stored = json.loads(git(trace, "show", f"orch-trace:runs/demo/{record.run_id}/run.json"))
        assert stored["state"] == "failed" and stored["error"]["message"] == record.error.message
