"""``python -m orchestrator.dropboxmini`` as a real process configured by the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.dropboxmini.conftest import zip_bytes
from tests.ports import unused_port


def start(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = unused_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.dropboxmini",
            "--root",
            str(root),
            "--port",
            str(port),
        ],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.communicate()[1]}")


def test_shared_key_alone_acts_as_readwrite_and_baseline_comes_from_env(tmp_path: Path) -> None:
    proc, url = start(tmp_path, {"DROPBOX_SHARED_KEY": "legacy-key", "DROPBOX_BASELINE": "0042"})
    try:
        assert httpx.get(f"{url}/health").json()["baseline"] == "0042"
        headers = {"X-API-Key": "legacy-key"}
        fields = {"artifactType": "delivery-patch", "project": "p", "baseline": "42", "patch": "1"}
        response = httpx.post(
            f"{url}/api/dropbox/upload",
            headers=headers,
            data=fields,
            files={"file": ("p.zip", zip_bytes())},
        )
        assert response.status_code == 201, response.text
        wrong = httpx.post(
            f"{url}/api/dropbox/upload",
            headers=headers,
            data={**fields, "baseline": "41", "patch": "2"},
            files={"file": ("p.zip", zip_bytes())},
        )
        assert wrong.status_code == 422 and "0042" in wrong.json()["detail"]
        assert httpx.get(f"{url}/api/dropbox/status", headers={"X-API-Key": "x"}).status_code == 401
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert "DROPBOX_SHARED_KEY is deprecated" in stderr
    assert (tmp_path / "artifacts" / "p" / "delivery-patch").is_dir()


def test_no_keys_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.dropboxmini", "--root", str(tmp_path), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("DROPBOX_")},
    )
    assert done.returncode == 2
    assert "no API keys configured" in done.stderr
