"""DropBoxMini's edges: methods a route does not take, byte ranges of downloads, a baseline
the environment gets wrong, and how the server picks its protocol implementations."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.dropboxmini import server
from orchestrator.dropboxmini.protocol import ConfigError
from tests.dropboxmini.conftest import READ, Live, zip_bytes


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/api/dropbox/upload", "POST"), ("DELETE", "/health", "GET")],
)
def test_a_method_the_route_does_not_take_is_405_naming_it(
    live: Live, method: str, path: str, allowed: str
) -> None:
    with live.client() as http:
        response = http.request(method, path)
    assert response.status_code == 405
    assert response.json() == {
        "error": "method_not_allowed",
        "detail": f"{method} is not allowed on {path}",
    }
    assert response.headers["allow"] == allowed


def test_a_download_serves_the_byte_range_asked_for(live: Live, project: str) -> None:
    content = zip_bytes(f"ranges of {project}")
    uploaded = live.upload(content, artifactType="generic", project=project)
    assert uploaded.status_code == 201, uploaded.text
    artifact_id = uploaded.json()["artifactId"]
    with live.client(READ) as http:
        part = http.get(
            f"/api/dropbox/artifacts/{artifact_id}/download", headers={"Range": "bytes=4-9"}
        )
    assert part.status_code == 206
    assert part.content == content[4:10]
    assert part.headers["content-range"] == f"bytes 4-9/{len(content)}"
    assert part.headers["x-artifact-sha256"] == hashlib.sha256(content).hexdigest()


def test_the_baseline_from_the_environment() -> None:
    assert server.baseline_from_environment({"DROPBOX_BASELINE": "0042"}) == 42
    assert server.baseline_from_environment({}) is None
    with pytest.raises(ConfigError) as refused:
        server.baseline_from_environment({"DROPBOX_BASELINE": "forty-two"})
    assert refused.value.detail == (
        "field 'DROPBOX_BASELINE': must be a whole number such as 0018, got 'forty-two'"
    )


def test_a_bad_baseline_in_the_environment_stops_the_server_before_it_starts(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DROPBOX_")}
    environment["DROPBOX_API_KEYS_JSON"] = json.dumps(
        {"keys": [{"value": "k", "role": "readwrite"}]}
    )
    environment["DROPBOX_BASELINE"] = "abc"
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.dropboxmini", "--root", str(root), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "dropboxmini: field 'DROPBOX_BASELINE': must be a whole number such as 0018, got 'abc'\n"
    )
    assert not root.exists()


def test_the_c_protocol_implementations_are_used_when_installed() -> None:
    assert server.fastest_protocols() == ("httptools", "uvloop")


def test_without_them_the_pure_python_ones_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    # A module set to None in sys.modules cannot be imported: as if it were not installed.
    monkeypatch.setitem(sys.modules, "httptools", None)
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert server.fastest_protocols() == ("h11", "asyncio")


def test_freed_memory_is_kept_only_where_glibc_is(monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.keep_freed_memory() is sys.platform.startswith("linux")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert server.keep_freed_memory() is False
