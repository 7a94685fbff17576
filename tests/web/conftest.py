"""A real ``orch serve`` process over a real git repository, for the web view's tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.helpers import document

KEYS = {
    "keys": [
        {"value": "run-key-7f3a", "role": "run", "name": "release-bot"},
        {"value": "read-key-91c2", "role": "read", "name": "dashboard"},
    ]
}
RUN_KEY, READ_KEY = "run-key-7f3a", "read-key-91c2"
RUN, READ = {"X-API-Key": RUN_KEY}, {"X-API-Key": READ_KEY}
# Secret values that must never reach a page: one from the server's environment
# (a `secrets:` variable), one given as a secret input through the API.
SECRET_ENV_VALUE = "env-secret-Qx81-zzTop"
SECRET_INPUT_VALUE = "input-secret-Lm42-hunter2"

DEMO = document(
    """
id: demo
title: Deploy the web service
owner: platform-team
status: approved
inputs:
  count:
    type: integer
    required: true
    minimum: 1
    maximum: 10
    description: How many instances to roll.
  target:
    type: string
    enum: [staging, production]
    default: staging
  dry_run:
    type: boolean
    default: false
artifacts:
  - name: rollout-report
    type: generic
    files: out/rollout.txt
    format: file
""",
    """
# Deploy the web service

Rolls the service out one instance at a time, then checks it answers.

## Build

```bash {step=build}
echo "building for $ORCH_INPUT_TARGET"
sleep 0.2
```

## Roll out

```bash {step=rollout retries=1}
if [ "$ORCH_INPUT_COUNT" -gt 4 ]; then echo "only 4 hosts are in the pool" >&2; exit 1; fi
mkdir -p out
echo "rolled $ORCH_INPUT_COUNT instance(s) to $ORCH_INPUT_TARGET" | tee out/rollout.txt
sleep 0.1
```

```bash {step=verify}
echo "verified"
```
""",
)
BROKEN = document(
    """
id: nightly-backup
title: Nightly database backup
status: approved
on:
  schedule: "0 2 * * *"
  timezone: Europe/Berlin
""",
    """
# Nightly database backup

```bash {step=dump}
echo "dumping the database"
```

```bash {step=upload retries=2}
echo "no space left on /backups" >&2
exit 3
```

```bash {step=prune}
echo "never runs"
```
""",
)
SECRETIVE = document(
    """
id: rotate-keys
title: Rotate the signing keys
status: approved
secrets: [DEPLOY_TOKEN]
inputs:
  password:
    type: string
    secret: true
""",
    """
# Rotate the signing keys

Old keys stop working at once <script>alert("x")</script>.

```bash {step=rotate}
echo "token=$DEPLOY_TOKEN password=$ORCH_INPUT_PASSWORD"
```
""",
)
NEEDS_SECRET = document(
    """
id: vault-login
title: Log in to the vault
status: approved
inputs:
  vault_password:
    type: string
    secret: true
    required: true
""",
    """
# Log in to the vault

```bash {step=login}
test -n "$ORCH_INPUT_VAULT_PASSWORD"
```
""",
)
GATE = document(
    """
id: gated
title: Waits for a gate file
status: approved
inputs:
  gate:
    type: string
    required: true
""",
    """
# Gated

```bash {step=wait}
while [ ! -e "$ORCH_INPUT_GATE" ]; do sleep 0.05; done
echo "gate opened"
```

```bash {step=after}
echo "after the gate"
```
""",
)
DOCUMENTS = {
    "intents/demo.md": DEMO,
    "intents/backup.md": BROKEN,
    "intents/rotate.md": SECRETIVE,
    "intents/vault.md": NEEDS_SECRET,
    "intents/gated.md": GATE,
}


def isolated_env(home: Path) -> dict[str, str]:
    """The environment of git and orch processes: nothing from the real home or config."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Person\n\temail = test@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "ORCH_", "DROPBOX_")) and k != "DEPLOY_TOKEN"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
    )
    return env


def make_repository(base: Path, env: Mapping[str, str]) -> Path:
    repo = base / "repo"
    for relative, text in DOCUMENTS.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "intent documents"]):
        subprocess.run(["git", *args], cwd=repo, env=dict(env), check=True)
    return repo


@dataclass
class Served:
    url: str
    repo: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_serve(repo: Path, env: Mapping[str, str], log: Path, workers: int = 2) -> Served:
    """``orch serve --port 0`` as a process; its address from uvicorn's start-up line."""
    environment = {
        **env,
        "ORCH_API_KEYS_JSON": json.dumps(KEYS),
        "DEPLOY_TOKEN": SECRET_ENV_VALUE,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["orch", "serve", "-C", str(repo), "--port", "0", "--workers", str(workers)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        found = re.search(r"running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            return Served(found.group(1), repo, process, log)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"orch serve did not start:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("web")
    env = isolated_env(base / "home")
    repo = make_repository(base, env)
    server = start_serve(repo, env, base / "serve.log")
    try:
        yield server
    finally:
        server.stop()


def login(client: httpx.Client, key: str) -> str:
    """Log ``client`` in with ``key``; the session's CSRF token."""
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post("/login", data={"key": key, "login_token": token.group(1)})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def queue_run(server: Served, workflow: str, inputs: Mapping[str, Any] | None = None) -> str:
    with server.client() as client:
        answer = client.post(
            "/api/runs", headers=RUN, json={"workflow": workflow, "inputs": dict(inputs or {})}
        )
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["runId"]
    return run_id


def wait_for_run(server: Served, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while True:
            answer = client.get(f"/api/runs/{run_id}", headers=READ)
            if answer.status_code == 200 and answer.json()["state"] in ("completed", "failed"):
                record: dict[str, Any] = answer.json()
                return record
            assert time.monotonic() < deadline, f"run {run_id} did not finish: {answer.text}"
            time.sleep(0.1)
