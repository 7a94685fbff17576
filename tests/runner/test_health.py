"""Health steps: the body's rules, the comparison of fields, and polling a real HTTP server.

The server is a real one on 127.0.0.1 that answers from a script, one answer a request (the
last one again and again), so what the poller sees does not depend on timing.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runner.health import (
    HealthSpec,
    HealthSpecError,
    duration,
    mismatches,
    parse_spec,
    poll,
)
from tests.core.helpers import commit_documents, document, orch


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


def json_answer(value: Any) -> Answer:
    return Answer(body=json.dumps(value).encode(), headers={"Content-Type": "application/json"})


class Endpoint:
    """A scripted HTTP server; ``seen`` holds each request's path and headers."""

    def __init__(self) -> None:
        self.answers: list[Answer] = [json_answer({})]
        self.seen: list[tuple[str, dict[str, str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.seen.append((self.path, dict(self.headers.items())))
                index = min(len(endpoint.seen), len(endpoint.answers)) - 1
                answer = endpoint.answers[index]
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    running = Endpoint()
    yield running
    running.close()


def spec(url: str, expect: dict[str, Any], **options: Any) -> HealthSpec:
    return HealthSpec(url=url, expect=expect, **options)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(5, 5.0), (1.5, 1.5), ("10", 10.0), ("500ms", 0.5), ("2m", 120.0), ("1m30s", 90.0)],
)
def test_durations(value: object, seconds: float) -> None:
    assert duration(value) == seconds


# The document's validator refuses these ("1s2": a number after a unit, "1m1h": units not
# from the largest down); the health step reads durations with the same parser, so a body
# rendered at run time cannot mean something the validator would not accept.
@pytest.mark.parametrize(
    ("value", "shown"),
    [("soon", "'soon'"), (True, "True"), ("", "''"), ("1s2", "'1s2'"), ("1m1h", "'1m1h'")],
)
def test_a_bad_duration_says_how_to_write_one(value: object, shown: str) -> None:
    with pytest.raises(HealthSpecError) as refused:
        duration(value)
    assert str(refused.value) == f"{shown} is not a duration: write 30s, 2m or 1h"


def test_a_body_with_every_key() -> None:
    body = (
        "url: https://status.example/health\n"
        "expect: {status: ok, build: {baseline: '0018'}}\n"
        "timeout: 2m\n"
        "interval: 250ms\n"
        "headers: {X-Token: 12}\n"
    )
    assert parse_spec(body) == HealthSpec(
        url="https://status.example/health",
        expect={"status": "ok", "build": {"baseline": "0018"}},
        timeout_seconds=120.0,
        interval_seconds=0.25,
        headers={"X-Token": "12"},
    )
    assert parse_spec("url: http://h/\n") == HealthSpec(url="http://h/", expect={})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- url\n", "the health step's body must be a YAML map with url and expect"),
        (
            "url: http://h/\nretries: 3\nverb: GET\n",
            "unknown key(s) retries, verb: use expect, headers, interval, timeout, url",
        ),
        ("url: ftp://h/\n", "url must be an http:// or https:// address"),
        ("expect: {status: ok}\n", "url must be an http:// or https:// address"),
        (
            "url: http://h/\nexpect: [ok]\n",
            "expect must be a map of JSON fields to expected values",
        ),
        ("url: http://h/\nheaders: [X-Token]\n", "headers must be a map"),
        ("url: http://h/\ninterval: often\n", "'often' is not a duration: write 30s, 2m or 1h"),
    ],
)
def test_bad_bodies_are_refused(body: str, message: str) -> None:
    with pytest.raises(HealthSpecError) as refused:
        parse_spec(body)
    assert str(refused.value) == message


def test_a_body_that_is_not_yaml() -> None:
    with pytest.raises(HealthSpecError) as refused:
        parse_spec("url: [http://h/\n")
    assert str(refused.value).startswith("the health step's body is not YAML: ")
    assert "line 2" in str(refused.value)


def test_fields_compare_as_platforms_write_them() -> None:
    expect = {
        "status": "ok",
        "build": {"baseline": "0018", "version": "1.2", "region": "eu"},
        "count": 3,
        "ratio": "1.5",
        "name": "status",
        "mode": "on",
        "flag": "1",
        "tags": "['a']",
    }
    actual = {
        "status": "ok",
        "build": {"baseline": 18, "version": 1.2},
        "count": "0003",
        "ratio": 1.5,
        "mode": "off",
        "flag": True,
        "tags": ["a"],
    }
    assert mismatches(expect, actual) == [
        "build.region: wanted 'eu', field missing",
        "name: wanted 'status', field missing",
        "mode: wanted 'on', got 'off'",
        "flag: wanted '1', got True",
        "tags: wanted \"['a']\", got ['a']",
    ]
    assert mismatches({"build": {"baseline": 18}}, {"build": "0018"}) == [
        "build.baseline: wanted 18, field missing"
    ]


def test_polls_until_every_field_matches(endpoint: Endpoint) -> None:
    endpoint.answers = [
        Answer(status=503, body=b"starting"),
        Answer(body=b"<html>not yet</html>"),
        json_answer({"status": "ok", "version": "1.0"}),
        json_answer({"status": "ok", "version": "2.0"}),
    ]
    outcome = poll(
        spec(endpoint.url, {"status": "ok", "version": "2.0"}, interval_seconds=0.01), 60
    )
    assert outcome.ok and outcome.error is None
    url = endpoint.url
    assert outcome.log == (
        f"GET {url}: HTTP 503\n"
        f"GET {url}: the answer is not JSON\n"
        f"GET {url}: version: wanted '2.0', got '1.0'\n"
        "ok\n"
    )
    assert len(endpoint.seen) == 4


def test_gives_up_after_the_timeout_naming_the_last_answer(endpoint: Endpoint) -> None:
    endpoint.answers = [json_answer({"status": "degraded"})]
    wanted = spec(endpoint.url, {"status": "ok"}, timeout_seconds=0.3, interval_seconds=0.05)
    outcome = poll(wanted, 60)
    last = f"GET {endpoint.url}: status: wanted 'ok', got 'degraded'"
    assert not outcome.ok
    assert outcome.error == f"{endpoint.url} did not become healthy within 0.3s: {last}"
    tries = outcome.log.splitlines()
    assert tries == [last] * len(endpoint.seen)


def test_the_step_timeout_caps_the_wait_and_the_message_says_so(endpoint: Endpoint) -> None:
    endpoint.answers = [Answer(status=500)]
    outcome = poll(spec(endpoint.url, {}, timeout_seconds=60, interval_seconds=0.05), 0.2)
    assert outcome.error == (
        f"{endpoint.url} did not become healthy within 0.2s: GET {endpoint.url}: HTTP 500"
    )


def test_a_refused_connection_is_an_answer_too() -> None:
    # Bound but not listening: every connection is refused, and no one else gets the port.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}/health"
        outcome = poll(spec(url, {}, timeout_seconds=0.1, interval_seconds=0.05), 60)
    assert outcome.error is not None
    assert outcome.error.startswith(f"{url} did not become healthy within 0.1s: GET {url}: ")
    assert outcome.error.endswith("ConnectError: [Errno 111] Connection refused")


def test_headers_are_sent_and_redirects_followed(endpoint: Endpoint) -> None:
    endpoint.answers = [
        Answer(status=302, body=b"", headers={"Location": "/ready"}),
        json_answer({"ready": True}),
    ]
    wanted = spec(endpoint.url, {"ready": True}, headers={"X-Token": "abc"})
    assert poll(wanted, 60).log == "ok\n"
    assert [(path, headers["X-Token"]) for path, headers in endpoint.seen] == [
        ("/health", "abc"),
        ("/ready", "abc"),
    ]


FRONT = """
id: check
title: Check
status: approved
inputs:
  url:
    type: string
"""

BODY = """
# Check

```health {step=verify}
url: "{{ inputs.url }}"
expect:
  status: ok
timeout: 30s
interval: 10ms
```
"""


def test_a_health_step_runs_in_orch_apply(git_repo: Path, endpoint: Endpoint) -> None:
    endpoint.answers = [Answer(status=503), json_answer({"status": "ok"})]
    commit_documents(git_repo, {"intents/check.md": document(FRONT, BODY)})
    ran = orch(git_repo, "apply", "intents/check.md", "-i", f"url={endpoint.url}", "--json")
    assert ran.code == 0, ran.stderr
    (step,) = ran.json()["steps"]
    assert (step["name"], step["state"]) == ("verify", "completed")
    assert len(endpoint.seen) == 2


def test_a_rendered_body_that_breaks_the_rules_fails_the_step(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/check.md": document(FRONT, BODY)})
    ran = orch(git_repo, "apply", "intents/check.md", "-i", "url=ftp://files.example/", "--json")
    assert ran.code == 1, ran.stderr
    record = ran.json()
    assert record["state"] == "failed"
    assert record["error"] == {
        "step": "verify",
        "message": "url must be an http:// or https:// address",
    }
