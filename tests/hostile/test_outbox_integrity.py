"""The evidence matches the bytes: a package that changed while it waited in the outbox is
never published.

End to end with real parts: ``orch apply`` while DropBoxMini is down (a port with nothing
listening) exits 3 and leaves the package in the outbox; the package is edited; the real
server starts on that port; ``orch publish`` refuses the package (exit 1), keeps it, and
records the refusal with both digests on the run's artifact in the trace; ``orch show`` says
so. An untouched package is still published, and the server then holds exactly the bytes
whose sha256 the trace lists.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from orchestrator.artifacts import Destination, Digest, publish
from orchestrator.dropboxmini import UploadFields
from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, document, orch, trace_record
from tests.hostile.dropbox_helpers import RW_KEY, DropBoxServer, free_port, running

FRONT = """
id: release
title: Release evidence
status: approved
system: shop
artifacts:
  - name: evidence.zip
    type: evidence-bundle
    files: ["out/**"]
"""
BODY = "# Release\n\n```bash {step=make}\nmkdir -p out\necho 'all tests passed' > out/result.txt\n```\n"  # noqa: E501


def _env(port: int) -> dict[str, str]:
    return {"ORCH_DROPBOX_URL": f"http://127.0.0.1:{port}", "ORCH_DROPBOX_KEY": RW_KEY}


def _apply_while_down(repo: Path, port: int) -> tuple[dict[str, Any], Path]:
    """``orch apply`` with nothing listening on ``port``: the run record and the outbox file."""
    commit_documents(repo, {"intents/release.md": document(FRONT, BODY)})
    ran = orch(repo, "apply", "intents/release.md", "--json", env=_env(port))
    assert ran.code == 3, ran.stderr
    record: dict[str, Any] = ran.json()
    assert record["state"] == "completed"
    assert record["artifacts"][0]["publication"]["state"] == "pending"
    assert "artifact evidence.zip waits to be published" in ran.stderr
    waiting = repo / ".orch" / "outbox" / "release" / record["run_id"] / "00-evidence.zip"
    assert waiting.is_file()
    return record, waiting


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refusal(artifact: dict[str, Any], data: bytes, waiting: Path) -> str:
    return (
        "not published: the bytes changed after the run recorded them: the run recorded "
        f"sha256 {artifact['sha256']} ({artifact['size']} bytes), the outbox holds sha256 "
        f"{_sha256(data)} ({len(data)} bytes). It stays in {waiting} for inspection"
    )


def _stored(server: DropBoxServer) -> list[dict[str, Any]]:
    with server.http() as http:
        listed: list[dict[str, Any]] = http.get("/api/dropbox/artifacts").json()["artifacts"]
        return listed


def _show(repo: Path, run_id: str) -> Ran:
    shown = orch(repo, "show", run_id)
    assert shown.code == 0, shown.stderr
    return shown


def test_a_package_edited_in_the_outbox_is_refused_kept_and_recorded(
    git_repo: Path, tmp_path: Path
) -> None:
    port = free_port()
    record, waiting = _apply_while_down(git_repo, port)
    run_id, artifact = record["run_id"], record["artifacts"][0]
    original = waiting.read_bytes()
    assert (_sha256(original), len(original)) == (artifact["sha256"], artifact["size"])
    tampered = original + b"\nappended after the run\n"
    waiting.write_bytes(tampered)
    refusal = _refusal(artifact, tampered, waiting)

    with running(tmp_path / "store", port) as server:
        refused = orch(git_repo, "publish", env=_env(port))
        assert refused.code == 1, refused.stdout + refused.stderr
        assert refused.stdout == f"refused release/{run_id} evidence.zip: {refusal}\n"
        assert _stored(server) == []
        assert waiting.read_bytes() == tampered

        stored = trace_record(git_repo, "release", run_id)
        publication = stored["artifacts"][0]["publication"]
        assert (publication["state"], publication["error"]) == ("refused", refusal)
        assert publication["artifact_id"] is None
        assert stored["artifacts"][0]["sha256"] == artifact["sha256"]
        message = git(git_repo, "log", "-1", "--format=%B", "orch-trace")
        assert message.startswith(f"orch: release {run_id} completed\n\n")
        assert "\nrefused to publish evidence.zip: its bytes are not the recorded ones\n" in message
        assert "Orch-Publish-Refused: evidence.zip" in message
        shown = _show(git_repo, run_id).stdout
        assert f"sha256 {artifact['sha256']}" in shown and "→ refused" in shown
        assert f"refused: {refusal}" in " ".join(shown.split())

        # Trying again refuses again, and records nothing new.
        tip = git(git_repo, "rev-parse", "orch-trace")
        again = orch(git_repo, "publish", env=_env(port))
        assert (again.code, again.stdout) == (1, refused.stdout)
        assert git(git_repo, "rev-parse", "orch-trace") == tip

        # The original bytes back in place: published, and the server holds exactly them.
        waiting.write_bytes(original)
        delivered = orch(git_repo, "publish", env=_env(port))
        assert delivered.code == 0, delivered.stdout + delivered.stderr
        (listed,) = _stored(server)
        assert delivered.stdout == (
            f"published release/{run_id} evidence.zip as {listed['artifactId']}\n"
        )
        assert listed["sha256"] == artifact["sha256"] == _sha256(_download(server, listed))
    assert not waiting.exists()
    publication = trace_record(git_repo, "release", run_id)["artifacts"][0]["publication"]
    assert (publication["state"], publication["artifact_id"]) == ("published", listed["artifactId"])
    assert publication["error"] is None


def _download(server: DropBoxServer, listed: dict[str, Any]) -> bytes:
    with server.http() as http:
        return http.get(f"/api/dropbox/artifacts/{listed['artifactId']}/download").content


def test_an_untouched_package_is_published_with_the_recorded_digest(
    git_repo: Path, tmp_path: Path
) -> None:
    port = free_port()
    record, waiting = _apply_while_down(git_repo, port)
    run_id, artifact = record["run_id"], record["artifacts"][0]
    with running(tmp_path / "store", port) as server:
        delivered = orch(git_repo, "publish", env=_env(port))
        assert delivered.code == 0, delivered.stdout + delivered.stderr
        (listed,) = _stored(server)
        assert _sha256(_download(server, listed)) == artifact["sha256"] == listed["sha256"]
    assert (
        delivered.stdout == f"published release/{run_id} evidence.zip as {listed['artifactId']}\n"
    )
    assert not waiting.exists()
    shown = _show(git_repo, run_id).stdout
    assert f"sha256 {artifact['sha256']}" in shown
    assert f"→ {listed['artifactId']} {server.url}/api/dropbox/artifacts/" in shown


def test_the_outbox_metadata_cannot_vouch_for_edited_bytes(git_repo: Path, tmp_path: Path) -> None:
    port = free_port()
    record, waiting = _apply_while_down(git_repo, port)
    run_id, artifact = record["run_id"], record["artifacts"][0]
    tampered = b"PK\x05\x06" + b"\x00" * 18
    waiting.write_bytes(tampered)
    meta_path = waiting.with_name(waiting.name + ".json")
    meta = json.loads(meta_path.read_text())
    assert (meta["sha256"], meta["size"]) == (artifact["sha256"], artifact["size"])
    meta.update(sha256=_sha256(tampered), size=len(tampered))
    meta_path.write_text(json.dumps(meta))
    with running(tmp_path / "store", port) as server:
        refused = orch(git_repo, "publish", env=_env(port))
        assert _stored(server) == []
    assert refused.code == 1
    refusal = _refusal(artifact, tampered, waiting)
    assert refused.stdout == f"refused release/{run_id} evidence.zip: {refusal}\n"


def test_a_package_deleted_from_the_outbox_is_refused(git_repo: Path, tmp_path: Path) -> None:
    port = free_port()
    record, waiting = _apply_while_down(git_repo, port)
    run_id, artifact = record["run_id"], record["artifacts"][0]
    waiting.unlink()
    with running(tmp_path / "store", port) as server:
        refused = orch(git_repo, "publish", env=_env(port))
        assert _stored(server) == []
    assert refused.code == 1
    assert refused.stdout == (
        f"refused release/{run_id} evidence.zip: not published: the package is missing from "
        f"the outbox ({waiting}); the run recorded sha256 {artifact['sha256']} "
        f"({artifact['size']} bytes)\n"
    )
    publication = trace_record(git_repo, "release", run_id)["artifacts"][0]["publication"]
    assert publication["state"] == "refused"


def test_the_server_storing_other_bytes_than_recorded_is_a_refusal(tmp_path: Path) -> None:
    package = tmp_path / "evidence.txt"
    package.write_bytes(b"the bytes that were sent\n")
    recorded = Digest(_sha256(b"the bytes the run recorded\n"), 27)
    with running(tmp_path / "store") as server:
        destination = Destination(url=server.url, key=RW_KEY, local_store=tmp_path / "unused")
        result = publish(package, UploadFields("generic", "shop"), destination, recorded)
        (listed,) = _stored(server)
    assert (result.state, result.artifact_id) == ("refused", listed["artifactId"])
    assert result.error == (
        f"the bytes changed while they were uploaded: {server.url} stored them as "
        f"{listed['artifactId']} with sha256 {listed['sha256']} (25 bytes), but the run "
        f"recorded sha256 {recorded.sha256} (27 bytes); {listed['artifactId']} is not this "
        "run's evidence"
    )
