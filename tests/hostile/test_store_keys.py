"""``maxArtifactAgeHours`` as the contract gives it: ``0`` or absent is no age limit on a read
or readwrite key; an agent key needs a positive window. Tried against ``orch dropbox serve``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from orchestrator.dropboxmini.layout import DB_NAME
from tests.hostile.dropbox_helpers import DropBoxServer, serve_once

# The contract's own example configuration.
EXAMPLE = {
    "keys": [
        {"value": "example-read", "role": "read", "maxArtifactAgeHours": 0},
        {"value": "example-readwrite", "role": "readwrite", "maxArtifactAgeHours": 0},
        {"value": "example-agent", "role": "agent", "maxArtifactAgeHours": 24},
    ]
}
WHERE = "DROPBOX_API_KEYS_JSON keys[0]"


def _backdate(root: Path, artifact_id: str, created_utc: str) -> None:
    db = sqlite3.connect(root / DB_NAME)
    with db:
        db.execute(
            "UPDATE artifacts SET created_utc = ? WHERE artifact_id = ?", (created_utc, artifact_id)
        )
    db.close()


def test_the_contracts_example_configuration_serves_with_no_limit_on_zero(tmp_path: Path) -> None:
    keys = json.loads(json.dumps(EXAMPLE))
    keys["keys"].append({"value": "plain-read", "role": "read"})
    server = DropBoxServer(tmp_path / "store", keys_json=json.dumps(keys)).start()
    try:
        uploaded = server.upload(b"old evidence\n", "web", key="example-readwrite")
        assert uploaded.status_code == 201, uploaded.text
        artifact_id = uploaded.json()["artifactId"]
        _backdate(server.root, artifact_id, "2020-01-01T00:00:00Z")
        for key in ("example-read", "example-readwrite", "plain-read"):
            with server.http(key) as http:
                listed = http.get("/api/dropbox/artifacts").json()
                assert [a["artifactId"] for a in listed["artifacts"]] == [artifact_id]
                download = http.get(f"/api/dropbox/artifacts/{artifact_id}/download")
                assert download.content == b"old evidence\n"
        with server.http("example-agent") as http:
            assert http.get("/api/dropbox/artifacts").json()["count"] == 0
            refused = http.get(f"/api/dropbox/artifacts/{artifact_id}")
            assert refused.status_code == 403
            assert refused.json()["detail"] == (
                f"artifact {artifact_id} is older than this agent key's window of 24 hours"
            )
    finally:
        server.stop()
    assert "Traceback" not in server.stderr


def test_a_window_on_a_read_key_has_no_effect_and_is_logged(tmp_path: Path) -> None:
    keys = {"keys": [{"value": "rw", "role": "readwrite", "maxArtifactAgeHours": 1.5}]}
    server = DropBoxServer(tmp_path / "store", keys_json=json.dumps(keys)).start()
    try:
        uploaded = server.upload(b"x", "web", key="rw")
        _backdate(server.root, uploaded.json()["artifactId"], "2020-01-01T00:00:00Z")
        with server.http("rw") as http:
            assert http.get("/api/dropbox/artifacts").json()["count"] == 1
    finally:
        server.stop()
    assert (
        "DROPBOX_API_KEYS_JSON keys[0]: maxArtifactAgeHours 1.5 has no effect on a readwrite "
        "key (only agent keys are age-limited)"
    ) in server.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"role": "agent", "maxArtifactAgeHours": 0},
            f"{WHERE}.maxArtifactAgeHours must be a positive number of hours for an agent key, "
            "got 0",
        ),
        (
            {"role": "agent"},
            f"{WHERE}: an agent key needs maxArtifactAgeHours, a positive number of hours (its "
            "reads see only artifacts younger than that)",
        ),
        (
            {"role": "agent", "maxArtifactAgeHours": None},
            f"{WHERE}: an agent key needs maxArtifactAgeHours, a positive number of hours (its "
            "reads see only artifacts younger than that)",
        ),
        (
            {"role": "agent", "maxArtifactAgeHours": -2},
            f"{WHERE}.maxArtifactAgeHours must not be negative, got -2",
        ),
        (
            {"role": "read", "maxArtifactAgeHours": -1},
            f"{WHERE}.maxArtifactAgeHours must not be negative, got -1",
        ),
        (
            {"role": "readwrite", "maxArtifactAgeHours": "24"},
            f"{WHERE}.maxArtifactAgeHours must be a number of hours, got '24'",
        ),
        (
            {"role": "agent", "maxArtifactAgeHours": True},
            f"{WHERE}.maxArtifactAgeHours must be a number of hours, got True",
        ),
        (
            {"role": "agent", "maxArtifactAgeHours": float("inf")},
            f"{WHERE}.maxArtifactAgeHours must be a number of hours, got inf",
        ),
    ],
    ids=["agent-0", "agent-absent", "agent-null", "agent-negative", "read-negative",
         "text", "bool", "infinite"],
)  # fmt: skip
def test_orch_dropbox_serve_refuses_a_bad_window_naming_the_key(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    keys = json.dumps({"keys": [{"value": "k", **entry}]})
    code, stderr = serve_once(tmp_path / "store", keys_json=keys)
    assert code == 2
    assert stderr == f"orch: {message}\n"
