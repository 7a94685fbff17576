"""No message orch prints carries a secret: YAML and JSON errors in inputs files, schema
errors that would echo a value, the API's 422 answers.

Each case runs the real ``orch`` (or the real server over HTTP), asserts the exact message,
and asserts that the secret is in neither stdout, stderr, the answer, nor anything stored
(every object of the repository and every file under ``.orch/``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, document, orch
from tests.hostile.stored import assert_absent, stored_bytes
from tests.service.conftest import RUN, Server, start_server, wait_for_run

SECRETIVE = document(
    """
id: secretive
title: Secretive
status: approved
secrets: [DEPLOY_TOKEN]
inputs:
  tok:
    type: string
    secret: true
    pattern: "^tok_[a-z]+$"
    minLength: 12
  pin:
    type: integer
    secret: true
  target:
    type: string
    enum: [staging, production]
  count:
    type: integer
  meta:
    type: object
    maxProperties: 1
""",
    '```bash {step=show}\necho "token: $DEPLOY_TOKEN input: $ORCH_INPUT_TOK"\n```\n',
)
TOKEN = "EnvSekret-7Hq2xv"
ENV = {"DEPLOY_TOKEN": TOKEN}
TOK_LINE, PIN_LINE, TARGET_LINE, COUNT_LINE, META_LINE = 7, 12, 15, 18, 20
HIDDEN = " (the value is not shown)"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return commit_documents(git_repo, {"intents/secretive.md": SECRETIVE})


def apply(repo: Path, *args: str) -> Ran:
    return orch(repo, "apply", "intents/secretive.md", *args, env=ENV)


def refused(ran: Ran, *lines: str) -> None:
    """``orch`` ran nothing (exit 2) and printed exactly ``lines`` on stderr."""
    assert (ran.code, ran.stdout) == (2, ""), ran.stderr
    assert ran.stderr.splitlines() == list(lines)


def at(line: int, message: str) -> str:
    return f"intents/secretive.md:{line}:1: {message}"


def test_duplicate_secret_key_in_an_inputs_file(repo: Path, tmp_path: Path) -> None:
    """The issue's case: the YAML parser's own message names both values."""
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("tok: SEKRETDUP\ntok: SEKRETDUP2\n")
    ran = apply(repo, "--inputs", str(inputs))
    refused(ran, f"{inputs}:2:1: duplicate key 'tok' (first at line 1): keep one of the two")
    assert_absent(["SEKRETDUP", TOKEN], ran.stdout, ran.stderr, stored_bytes(repo))


def test_duplicate_key_inside_a_secret_value(repo: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("meta: {SEKRETKEY: 1, SEKRETKEY: 2}\n")
    ran = apply(repo, "--inputs", str(inputs))
    refused(
        ran, f"{inputs}:1:22: duplicate key 'SEKRETKEY' (first at line 1): keep one of the two"
    )
    # Keys are shown: they are names, and a secret input's value is a string or a number.


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pin: !!int SEKRETPIN\n", "1:6: YAML tag '!!int': the value is not an integer"),
        ("pin: !!float SEKRETPIN\n", "1:6: YAML tag '!!float': the value is not a number"),
        (
            "tok: !!python/str SEKRETPIN\n",
            "1:6: YAML tag '!!python/str' is not allowed in an inputs file",
        ),
        (
            'tok: "SEKRETPIN\\q"\n',
            "1:17: invalid YAML: found unknown escape character 'q' (while scanning a "
            "double-quoted scalar)",
        ),
        (
            'tok: "SEKRETPIN\n',
            '1:6: invalid YAML: the quote " opened here is never closed: end the value with " '
            '(a " inside it is written \\")',
        ),
        (
            "tok: SEKRETPIN: x\n",
            "1:15: invalid YAML: the ': ' in the value of 'tok' would start another key: put "
            "the value in quotes",
        ),
        (
            "tok: SEKRETPIN\n---\npin: 1\n",
            "2:1: invalid YAML: more than one document: an inputs file is one YAML document",
        ),
    ],
)
def test_yaml_errors_in_an_inputs_file(repo: Path, tmp_path: Path, text: str, message: str) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(text)
    ran = apply(repo, "--inputs", str(inputs))
    refused(ran, f"{inputs}:{message}")
    assert_absent(["SEKRETPIN"], ran.stdout, ran.stderr, stored_bytes(repo))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"tok": "SEKRETJSON", "pin": SEKRETJSON}', "1:30: invalid JSON: Expecting value"),
        ('{"tok": "SEKRETJSON\x01"}', "1:20: invalid JSON: Invalid control character at"),
        ('{"tok": "SEKRETJSON" "pin": 1}', "1:22: invalid JSON: Expecting ',' delimiter"),
        ('["SEKRETJSON"]', "1:1: an inputs file is a mapping of input name to value"),
        ('{"tok": ' * 100_000, "1:1: invalid JSON: nested too deeply"),
    ],
)
def test_json_errors_in_an_inputs_file(repo: Path, tmp_path: Path, text: str, message: str) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(text.replace('{"tok": ' * 100_000, '{"tok": ' + "[" * 100_000))
    ran = apply(repo, "--inputs", str(inputs))
    refused(ran, f"{inputs}:{message}")
    assert_absent(["SEKRETJSON"], ran.stdout, ran.stderr)


def test_schema_errors_of_secret_inputs_never_show_the_value(repo: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"pin": "SEKRETPIN4711"}))
    ran = apply(repo, "--inputs", str(inputs), "-i", "tok=SEKRETSHRT")
    refused(
        ran,
        at(TOK_LINE, "secret input 'tok' does not match the pattern '^tok_[a-z]+$'" + HIDDEN),
        at(TOK_LINE, "secret input 'tok' is shorter than 12 characters" + HIDDEN),
        at(PIN_LINE, "secret input 'pin' is not of type 'integer'" + HIDDEN),
    )
    assert_absent(["SEKRETSHRT", "SEKRETPIN4711"], ran.stdout, ran.stderr, stored_bytes(repo))


def test_other_inputs_that_hold_a_secret_are_masked_in_messages(repo: Path) -> None:
    tok = "tok_sekretvalid"
    ran = apply(
        repo,
        "-i",
        f"tok={tok}",
        "-i",
        f"target={TOKEN}",
        "-i",
        f"count={tok}",
        "-i",
        f"meta={{a: {tok}, b: {TOKEN}}}",
    )
    refused(
        ran,
        at(TARGET_LINE, "input 'target': '***' is not one of ['staging', 'production']"),
        at(COUNT_LINE, "input 'count': '***' is not of type 'integer'"),
        at(META_LINE, "input 'meta': {'a': '***', 'b': '***'} has too many properties"),
    )
    assert_absent([tok, TOKEN], ran.stdout, ran.stderr, stored_bytes(repo))


def test_a_mistyped_argument_is_not_repeated(repo: Path) -> None:
    ran = apply(repo, "-i", "tok=tok_abcdefghij", "-i", "SEKRETNOEQUALS", "-i", "=SEKRETNONAME")
    refused(
        ran,
        "<command line>:1:1: -i argument 2: expected NAME=VALUE",
        "<command line>:1:1: -i argument 3: expected NAME=VALUE",
    )
    assert_absent(["SEKRETNO"], ran.stdout, ran.stderr)


def test_validate_never_shows_a_secret_from_on_inputs(git_repo: Path) -> None:
    scheduled = SECRETIVE.replace(
        "---\n\n",
        'on:\n  schedule: "0 3 * * *"\n  inputs:\n    tok: SEKRETONINPUT\n'
        "    pin: !!int SEKRETONPIN\n---\n\n",
        1,
    )
    repo = commit_documents(git_repo, {"intents/secretive.md": scheduled})
    ran = orch(repo, "validate")
    assert ran.code == 1
    assert ran.stdout.splitlines() == [
        "intents/secretive.md:27:10: YAML tag '!!int': the value is not an integer",
    ]
    assert_absent(["SEKRETON"], ran.stdout, ran.stderr)
    fixed = scheduled.replace("    pin: !!int SEKRETONPIN\n", "")
    repo = commit_documents(repo, {"intents/secretive.md": fixed})
    ran = orch(repo, "validate")
    assert ran.stdout.splitlines() == [
        "intents/secretive.md:26:10: on.inputs: secret input 'tok' does not match the pattern "
        "'^tok_[a-z]+$'" + HIDDEN,
    ]
    assert_absent(["SEKRETON"], ran.stdout, ran.stderr)


@pytest.fixture
def server(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    started = start_server(repo)
    yield started
    started.stop()


def test_the_api_answers_422_without_secrets(repo: Path, server: Server) -> None:
    tok = "SEKRETAPIVALUE"
    inputs = {"tok": tok, "pin": 7, "target": TOKEN, "count": tok, "meta": {"x": tok}}
    with server.client() as client:
        answer = client.post(
            "/api/runs", headers=RUN, json={"workflow": "secretive", "inputs": inputs}
        )
    path = repo / "intents/secretive.md"
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid",
        "detail": "the run is invalid: nothing was queued",
        "problems": [
            f"{path}:{TOK_LINE}:1: secret input 'tok' does not match the pattern "
            "'^tok_[a-z]+$'" + HIDDEN,
            f"{path}:{TARGET_LINE}:1: input 'target': '***' is not one of "
            "['staging', 'production']",
            f"{path}:{COUNT_LINE}:1: input 'count': '***' is not of type 'integer'",
        ],
    }
    assert git(repo, "branch", "--list", "orch-trace") == ""
    assert_absent([tok, TOKEN], answer.text, stored_bytes(repo))


def test_a_queued_run_keeps_its_secrets_out_of_the_trace(repo: Path, server: Server) -> None:
    tok = "tok_sekretqueued"
    with server.client() as client:
        answer = client.post(
            "/api/runs",
            headers=RUN,
            json={"workflow": "secretive", "inputs": {"tok": tok, "pin": 918273645}},
        )
        assert answer.status_code == 202, answer.text
        record = wait_for_run(client, answer.json()["runId"])
        log = client.get(f"/api/runs/{record['run_id']}/logs/show", headers=RUN).text
    assert record["state"] == "completed"
    assert record["inputs"] == {"tok": "***", "pin": "***"}
    assert log == "token: *** input: ***\n"
    assert_absent([tok, TOKEN, "918273645"], json.dumps(record), log, stored_bytes(repo))


def test_a_key_value_in_the_role_field_is_not_repeated(repo: Path) -> None:
    keys = {"keys": [{"value": "run", "role": "SEKRETAPIKEY", "name": "ci"}]}
    ran = orch(repo, "serve", "--port", "0", env={"ORCH_API_KEYS_JSON": json.dumps(keys)})
    assert ran.code == 2
    assert ran.stderr == "orch: ORCH_API_KEYS_JSON keys[0]: role must be one of read, run\n"


def test_an_input_that_holds_a_secret_is_masked_in_the_record(repo: Path) -> None:
    tok = "tok_sekretrecorded"
    ran = apply(repo, "--json", "-i", f"tok={tok}", "-i", f"meta={{note: deploy {TOKEN}}}")
    assert ran.code == 0, ran.stderr
    run_id = ran.json()["run_id"]
    record = json.loads(git(repo, "show", f"orch-trace:runs/secretive/{run_id}/run.json"))
    assert record["inputs"] == {"tok": "***", "meta": {"note": "deploy ***"}}
    assert_absent([tok, TOKEN], ran.stdout, ran.stderr, stored_bytes(repo))


def test_a_queued_input_recorded_masked_is_not_restored_as_masked(repo: Path) -> None:
    """After a restart, a run whose input was recorded masked fails with the reason: it
    never runs with ``***`` in place of the value."""
    from orchestrator.api import queued_runs

    environ = {**os.environ, **ENV}
    queued = queued_runs.enqueue(
        repo, "secretive", {"meta": {"note": f"deploy {TOKEN}"}}, actor="t", environ=environ
    )
    (restored,) = queued_runs.pending_runs(repo)
    assert restored.run_id == queued.run_id
    assert restored.masked == {"meta"} and restored.inputs == {}
    assert queued_runs.run_queued(repo, restored, environ) == "failed"
    record = json.loads(git(repo, "show", f"orch-trace:runs/secretive/{queued.run_id}/run.json"))
    assert record["error"]["message"] == (
        "input(s) meta held a secret, so they were recorded masked and were lost when the "
        "server restarted before the run started; submit the run again"
    )
    assert_absent([TOKEN], stored_bytes(repo))
