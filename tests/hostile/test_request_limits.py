"""Request and input limits: an oversized body or input is refused before anything stores it.

A real ``orch serve`` on 127.0.0.1 (raw sockets where the body must not even be sent) and real
``orch apply`` processes; each case asserts the status or exit code, the exact message, and
that the trace did not grow by the payload.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_file_tree, git
from tests.core.helpers import commit_documents, document, orch
from tests.service.conftest import RUN, Server, start_server, wait_for_run

BLOB = document(
    """
id: blob
title: Blob
status: approved
inputs:
  blob:
    type: string
  more:
    type: array
  extra:
    type: string
  note:
    type: string
  tag:
    type: string
""",
    '```bash {step=size}\nprintf "%s" "$ORCH_INPUT_BLOB" | wc -c\n```\n',
)
SCHEDULED = document(
    """
id: nightly
title: Nightly
status: approved
inputs:
  blob:
    type: string
on:
  schedule: "0 3 * * *"
  inputs:
    blob: "%s"
"""
    % ("x" * 70_000),
    "```bash {step=a}\ntrue\n```\n",
)
REQUEST_LIMIT = "the request body is larger than {} bytes, the most this server accepts "
REQUEST_LIMIT += "(setting max-request-bytes)"


def value_limit(name: str, size: int, limit: int = 65536, origin: str = "") -> str:
    return (
        f"input '{name}'{origin} is {size} bytes: an input value may be at most {limit} bytes "
        "(setting max-input-bytes)"
    )


TOKEN = document(
    """
id: token
title: Token
status: approved
inputs:
  token:
    type: string
    secret: true
""",
    '```bash {step=use}\ntest "$ORCH_INPUT_TOKEN" != fail\n```\n',
)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    documents = {"intents/blob.md": BLOB, "intents/nightly.md": SCHEDULED}
    return commit_documents(git_repo, {**documents, "intents/token.md": TOKEN})


@pytest.fixture
def server(repo: Path) -> Iterator[Server]:
    started = start_server(repo)
    yield started
    started.stop()


def objects_size(repo: Path) -> int:
    """Bytes in the repository's object database (loose objects and packs)."""
    return sum(f.stat().st_size for f in (repo / ".git" / "objects").rglob("*") if f.is_file())


def trace_tip(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(objectname)", "refs/heads/orch-trace")


def raw_request(server: Server, head: str, chunks: Any = ()) -> tuple[str, int]:
    """Send a request's head (and body chunks) on a raw socket until the server answers;
    returns the answer and how many body bytes were sent by then."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        sent = 0
        connection.settimeout(0.05)
        answer = b""
        for chunk in chunks:
            with contextlib.suppress(TimeoutError):
                answer = connection.recv(65536)
            if answer:
                break
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        connection.settimeout(10)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            more = connection.recv(65536)
            if not more:
                break
            answer += more
    return answer.decode(), sent


def test_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    repo: Path, server: Server
) -> None:
    before = objects_size(repo)
    answer, _ = raw_request(
        server,
        "POST /api/runs HTTP/1.1\nHost: orch\nX-API-Key: run-key\n"
        "Content-Type: application/json\nContent-Length: 62914560\n",
    )
    head, body = answer.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 413 ")
    assert "connection: close" in head.lower()
    assert json.loads(body) == {"error": "too-large", "detail": REQUEST_LIMIT.format(1048576)}
    assert trace_tip(repo) == ""
    assert objects_size(repo) == before


def test_chunked_body_is_cut_off_once_it_passes_the_limit(repo: Path, server: Server) -> None:
    before = objects_size(repo)
    chunks = (b"x" * 65536 for _ in range(1000))  # 62.5 MiB if the server read it all
    answer, sent = raw_request(
        server,
        "POST /api/runs HTTP/1.1\nHost: orch\nX-API-Key: run-key\n"
        "Content-Type: application/json\nTransfer-Encoding: chunked\n",
        chunks,
    )
    head, body = answer.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 413 ")
    assert json.loads(body)["detail"] == REQUEST_LIMIT.format(1048576)
    # The answer came as soon as the limit was passed, not after the whole stream.
    assert 1048576 < sent < 8 * 1048576
    assert trace_tip(repo) == ""
    assert objects_size(repo) == before


def test_the_issue_case_a_60_mb_input_value(repo: Path, server: Server) -> None:
    before = objects_size(repo)
    payload = {"workflow": "blob", "inputs": {"blob": "A" * 60_000_000}}
    with server.client() as client:
        answer = client.post("/api/runs", headers=RUN, content=json.dumps(payload))
    assert answer.status_code == 413
    assert answer.json() == {"error": "too-large", "detail": REQUEST_LIMIT.format(1048576)}
    assert trace_tip(repo) == ""
    assert objects_size(repo) - before < 4096


def test_an_input_value_over_its_limit_in_a_small_body(repo: Path, server: Server) -> None:
    before = objects_size(repo)
    with server.client() as client:
        answer = client.post(
            "/api/runs", headers=RUN, json={"workflow": "blob", "inputs": {"blob": "B" * 65537}}
        )
        assert objects_size(repo) == before
        fits = client.post(
            "/api/runs", headers=RUN, json={"workflow": "blob", "inputs": {"blob": "C" * 65536}}
        )
        assert fits.status_code == 202, fits.text
        run = wait_for_run(client, fits.json()["runId"])
    assert answer.status_code == 413, answer.text
    assert answer.json() == {
        "error": "too-large",
        "detail": value_limit("blob", 65537) + "; nothing was queued",
        "problems": ["<request>:1:1: " + value_limit("blob", 65537)],
    }
    # The largest value allowed is taken whole.
    assert run["state"] == "completed"
    assert run["steps"][0]["log"]
    assert run["inputs"]["blob"] == "C" * 65536
    assert "B" * 100 not in git(repo, "log", "-p", "orch-trace")


def test_a_secret_given_again_over_its_limit_gets_the_same_answer(
    repo: Path, server: Server
) -> None:
    with server.client() as client:
        first = client.post(
            "/api/runs", headers=RUN, json={"workflow": "token", "inputs": {"token": "fail"}}
        )
        assert first.status_code == 202, first.text
        run_id = first.json()["runId"]
        assert wait_for_run(client, run_id)["state"] == "failed"  # so that it may resume too
        tip = trace_tip(repo)
        for again in ("rerun", "resume"):
            answer = client.post(
                f"/api/runs/{run_id}/{again}", headers=RUN, json={"inputs": {"token": "T" * 65537}}
            )
            assert answer.status_code == 413, answer.text
            assert answer.json() == {
                "error": "too-large",
                "detail": value_limit("token", 65537) + "; nothing was queued",
                "problems": ["<request>:1:1: " + value_limit("token", 65537)],
            }
    assert trace_tip(repo) == tip


def test_inputs_over_the_total_limit(repo: Path, server: Server) -> None:
    inputs = {name: "x" * 60000 for name in ("blob", "extra", "note", "tag")}
    inputs["more"] = ["z" * 20000] * 3
    with server.client() as client:
        answer = client.post("/api/runs", headers=RUN, json={"workflow": "blob", "inputs": inputs})
    assert answer.status_code == 413, answer.text
    total = 4 * 60000 + (3 * 20002 + 2 + 2)
    message = (
        f"the inputs are {total} bytes together: at most 262144 bytes are accepted "
        "(setting max-input-total-bytes)"
    )
    assert answer.json()["problems"] == [f"{repo / 'intents/blob.md'}:5:1: {message}"]
    assert trace_tip(repo) == ""


def test_on_inputs_over_the_limit_refuse_an_unattended_run(repo: Path, server: Server) -> None:
    with server.client() as client:
        answer = client.post("/api/runs", headers=RUN, json={"workflow": "nightly"})
    assert answer.status_code == 413, answer.text
    where = f"{repo / 'intents/nightly.md'}:8:1: "
    assert answer.json()["problems"] == [where + value_limit("blob", 70000, origin=" in on.inputs")]
    assert trace_tip(repo) == ""


def test_limits_come_from_orch_toml_and_the_environment(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "orch.toml").write_text("max-request-bytes = 2048\nmax-input-bytes = 100\n")
    git(repo, "add", "orch.toml")
    git(repo, "commit", "-qm", "limits")
    server = start_server(repo)
    try:
        with server.client() as client:
            big = client.post(
                "/api/runs", headers=RUN, json={"workflow": "blob", "inputs": {"blob": "x" * 3000}}
            )
            assert big.status_code == 413
            assert big.json()["detail"] == REQUEST_LIMIT.format(2048)
            value = client.post(
                "/api/runs", headers=RUN, json={"workflow": "blob", "inputs": {"blob": "x" * 101}}
            )
            assert value.status_code == 413
            assert value.json()["problems"] == ["<request>:1:1: " + value_limit("blob", 101, 100)]
            # The input limits are read for every submission: the environment wins over the file.
            monkeypatch.setenv("ORCH_MAX_INPUT_BYTES", "200")
            fits = client.post(
                "/api/runs", headers=RUN, json={"workflow": "blob", "inputs": {"blob": "x" * 101}}
            )
            assert fits.status_code == 202, fits.text
    finally:
        server.stop()


def test_cli_value_over_the_limit(repo: Path) -> None:
    before = objects_size(repo)
    ran = orch(repo, "apply", "intents/blob.md", "-i", "blob=" + "D" * 70000)
    assert ran.code == 2, ran.stderr
    assert (
        ran.stderr == f"<command line>:1:1: {value_limit('blob', 70000, origin=' given with -i')}\n"
    )
    assert trace_tip(repo) == ""
    assert objects_size(repo) == before


def test_cli_inputs_file_value_names_its_line(repo: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(f"extra: small\n\nblob: {'E' * 70000}\n")
    ran = orch(repo, "apply", "intents/blob.md", "--inputs", str(inputs))
    assert ran.code == 2, ran.stderr
    assert (
        ran.stderr == f"{inputs}:3:1: {value_limit('blob', 70000, origin=' in the inputs file')}\n"
    )
    as_json = tmp_path / "inputs.json"
    as_json.write_text(json.dumps({"blob": "F" * 70000}))
    ran = orch(repo, "apply", "intents/blob.md", "--inputs", str(as_json))
    assert ran.code == 2, ran.stderr
    assert (
        ran.stderr == f"{as_json}:1:1: {value_limit('blob', 70000, origin=' in the inputs file')}\n"
    )
    assert trace_tip(repo) == ""


def test_cli_inputs_file_over_the_request_limit_is_not_parsed(repo: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "huge.yaml"
    inputs.write_text("blob: [" + "1, " * 400_000 + "1]\n")  # 1.2 MB
    message = (
        f"{inputs}:1:1: the inputs file is larger than 1048576 bytes, the most orch reads "
        "(setting max-request-bytes)\n"
    )
    ran = orch(repo, "apply", "intents/blob.md", "--inputs", str(inputs))
    assert (ran.code, ran.stderr) == (2, message)
    # An endless file (a FIFO fed forever, /dev/zero) is cut off the same way.
    ran = orch(repo, "apply", "intents/blob.md", "--inputs", "/dev/zero")
    assert ran.code == 2
    assert ran.stderr == message.replace(str(inputs), "/dev/zero")
    assert trace_tip(repo) == ""


def test_cli_limits_from_the_environment(repo: Path) -> None:
    env = {"ORCH_MAX_INPUT_BYTES": "10", "ORCH_MAX_INPUT_TOTAL_BYTES": "15"}
    ran = orch(repo, "apply", "intents/blob.md", "-i", "blob=" + "x" * 11, env=env)
    assert (ran.code, ran.stderr) == (
        2,
        f"<command line>:1:1: {value_limit('blob', 11, 10, origin=' given with -i')}\n",
    )
    ran = orch(repo, "apply", "intents/blob.md", "-i", "blob=12345678", "-i", "extra=12345678")
    assert ran.code == 0, ran.stderr
    ran = orch(
        repo, "apply", "intents/blob.md", "-i", "blob=12345678", "-i", "extra=12345678", env=env
    )
    assert (ran.code, ran.stderr) == (
        2,
        "intents/blob.md:5:1: the inputs are 16 bytes together: at most 15 bytes "
        "are accepted (setting max-input-total-bytes)\n",
    )


@pytest.mark.parametrize(
    ("setting", "value", "shown"),
    [("max-input-bytes", "0", "0"), ("max-request-bytes", '"lots"', "'lots'")],
)
def test_a_limit_must_be_a_positive_number(
    repo: Path, setting: str, value: str, shown: str
) -> None:
    (repo / "orch.toml").write_text(f"{setting} = {value}\n")
    ran = orch(repo, "apply", "intents/blob.md", "-i", "blob=x")
    assert ran.code == 2
    assert ran.stderr == (
        f"orch: {repo / 'orch.toml'}: setting '{setting}' must be a positive whole number "
        f"of bytes, not {shown}\n"
    )


def test_a_scheduled_run_with_oversized_on_inputs_does_not_start(git_repo: Path) -> None:
    every_minute = SCHEDULED.replace('"0 3 * * *"', '"* * * * *"')
    build_file_tree(git_repo, {"intents/nightly.md": every_minute})
    git(git_repo, "add", "-A")
    subprocess.run(
        ["git", "commit", "-qm", "nightly"],
        cwd=git_repo,
        env={**os.environ, "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z"},
        check=True,
    )
    ran = orch(git_repo, "schedule", "--once")
    assert ran.code == 1
    (line,) = [line for line in (ran.stdout + ran.stderr).splitlines() if "not run" in line]
    assert line.endswith(
        "/intents/nightly.md:8:1: " + value_limit("blob", 70000, origin=" in on.inputs")
    )
    assert line.startswith("not run intents/nightly.md (")
    assert trace_tip(git_repo) == ""
