"""Generate and publish artifacts: deterministic packages, the local store, the real
DropBoxMini server over HTTP, the outbox when it is unreachable, and bad declarations."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from orchestrator import __version__
from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch
from tests.ports import unused_port

KEY = "test-readwrite-key"


class Server:
    def __init__(self, root: Path, port: int, baseline: int = 18) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DROPBOX_API_KEYS_JSON": json.dumps({"keys": [{"value": KEY, "role": "readwrite"}]}),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.dropboxmini",
                "--root",
                str(root),
                "--port",
                str(port),
                "--baseline",
                str(baseline),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("DropBoxMini did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def download(self, artifact_id: str) -> bytes:
        url = f"{self.url}/api/dropbox/artifacts/{artifact_id}/download"
        return httpx.get(url, headers={"X-API-Key": KEY}).content


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "dropbox-root", unused_port())
    yield running
    running.stop()


FRONT = """
id: pack
title: Pack
status: approved
system: demo
inputs:
  word:
    type: string
    enum: [alpha, beta]
    default: alpha
artifacts:
  - name: "bundle-{{ inputs.word }}.zip"
    type: evidence-bundle
    files: ["out/**"]
    label: "{{ inputs.word }}"
    description: "made from {{ steps.make.outputs.count }} files"
"""

BODY = """
# Pack

```bash {step=make}
mkdir -p out/sub
echo "$ORCH_INPUT_WORD" > out/a.txt
printf '#!/bin/sh\\necho run\\n' > out/sub/run.sh
chmod 755 out/sub/run.sh
echo "count=2" >> "$ORCH_OUTPUT"
```
"""


def _apply(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    ran = orch(repo, "apply", "intents/pack.md", "--json", *args, env=env)
    assert ran.stdout, ran.stderr
    return ran.code, json.loads(ran.stdout)


def test_packages_are_deterministic_and_published_to_the_local_store(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/pack.md": document(FRONT, BODY)})
    code, first = _apply(git_repo)
    assert code == 0, first
    code, second = _apply(git_repo)
    (a1,), (a2,) = first["artifacts"], second["artifacts"]
    assert a1["payload_sha256"] == a2["payload_sha256"]
    assert a1["publication"]["state"] == "published"
    assert a1["publication"]["artifact_id"] != a2["publication"]["artifact_id"]
    assert a1["manifest"]["description"] == "made from 2 files"
    stored = Path(a1["publication"]["storage_path"])
    assert stored.is_relative_to(git_repo / ".orch" / "dropbox")
    with zipfile.ZipFile(stored) as archive:
        names = archive.namelist()
        assert names == ["manifest.json", "payload/a.txt", "payload/sub/run.sh"]
        infos = {info.filename: info for info in archive.infolist()}
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in infos.values())
        assert (infos["payload/sub/run.sh"].external_attr >> 16) & 0o777 == 0o755
        assert (infos["payload/a.txt"].external_attr >> 16) & 0o777 == 0o644
        manifest = json.loads(archive.read("manifest.json"))
    payload = {"a.txt": b"alpha\n", "sub/run.sh": b"#!/bin/sh\necho run\n"}
    files = [
        {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for path, data in payload.items()
    ]
    sha256sum_lines = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
    assert manifest == {
        "artifact_id": f"orch-{first['run_id']}-01",
        "system": "demo",
        "type": "evidence-bundle",
        "version": "alpha",
        "producer": f"orch {__version__}",
        "created_utc": manifest["created_utc"],  # a time: checked below
        "description": "made from 2 files",
        "files": files,
        "payload_sha256": hashlib.sha256(sha256sum_lines.encode()).hexdigest(),
        "baseline": None,
        "patch": None,
        "provenance": {
            "workflow_id": "pack",
            "run_id": first["run_id"],
            "document": "intents/pack.md",
            "document_revision": git(git_repo, "rev-parse", "HEAD").strip(),
            "document_blob": git(git_repo, "rev-parse", "HEAD:intents/pack.md").strip(),
            "inputs_digest": first["inputs_digest"],
        },
    }
    created = datetime.fromisoformat(manifest["created_utc"])
    assert manifest["created_utc"].endswith("Z")
    started, ended = (datetime.fromisoformat(first[key]) for key in ("started_at", "ended_at"))
    assert started <= created <= ended
    listed = orch(git_repo, "dropbox", "list", "--json")
    assert listed.code == 0, listed.stderr
    stored = {record["artifactId"]: record for record in json.loads(listed.stdout)}
    assert sorted(stored) == sorted(a["publication"]["artifact_id"] for a in (a1, a2))
    assert {record["fileName"] for record in stored.values()} == {"bundle-alpha.zip"}
    assert git(git_repo, "status", "--porcelain") == "?? out/\n"
    shown = orch(git_repo, "show", first["run_id"])
    assert a1["publication"]["artifact_id"] in shown.stdout
    assert a1["payload_sha256"] in shown.stdout


def test_publishes_to_the_real_server_over_http(git_repo: Path, server: Server) -> None:
    commit_documents(git_repo, {"intents/pack.md": document(FRONT, BODY)})
    env = {"ORCH_DROPBOX_URL": server.url, "ORCH_DROPBOX_KEY": KEY}
    code, record = _apply(git_repo, "-i", "word=beta", env=env)
    assert code == 0, record
    (artifact,) = record["artifacts"]
    publication = artifact["publication"]
    assert publication["state"] == "published"
    assert publication["url"].startswith(server.url)
    data = server.download(publication["artifact_id"])
    assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    meta = httpx.get(
        f"{server.url}/api/dropbox/artifacts/{publication['artifact_id']}",
        headers={"X-API-Key": KEY},
    ).json()
    assert meta["source"] == f"orch:pack/{record['run_id']}"
    assert meta["project"] == "demo" and meta["label"] == "beta"


def test_unreachable_service_leaves_the_package_in_the_outbox(
    git_repo: Path, tmp_path: Path
) -> None:
    commit_documents(git_repo, {"intents/pack.md": document(FRONT, BODY)})
    port = unused_port()
    env = {"ORCH_DROPBOX_URL": f"http://127.0.0.1:{port}", "ORCH_DROPBOX_KEY": KEY}
    code, record = _apply(git_repo, env=env)
    assert code == 3
    assert record["state"] == "completed"
    assert record["artifacts"][0]["publication"]["state"] == "pending"
    assert list((git_repo / ".orch/outbox").rglob("*.zip"))
    nothing = orch(git_repo, "publish", env=env)
    assert nothing.code == 3 and "still waiting" in nothing.stdout
    server = Server(tmp_path / "late-root", port)
    try:
        delivered = orch(git_repo, "publish", env=env)
        assert delivered.code == 0, delivered.stdout + delivered.stderr
        assert "published" in delivered.stdout
    finally:
        server.stop()
    assert not list((git_repo / ".orch/outbox").rglob("*.zip"))
    stored = json.loads(git(git_repo, "show", f"orch-trace:runs/pack/{record['run_id']}/run.json"))
    assert stored["artifacts"][0]["publication"]["state"] == "published"
    assert "Orch-Published" in git(git_repo, "log", "-1", "--format=%B", "orch-trace")


def test_a_refused_upload_fails_the_run_naming_the_field(git_repo: Path, server: Server) -> None:
    front = FRONT.replace(
        "type: evidence-bundle", "type: delivery-patch\n    baseline: 17\n    patch: 3"
    )
    commit_documents(git_repo, {"intents/pack.md": document(front, BODY)})
    env = {"ORCH_DROPBOX_URL": server.url, "ORCH_DROPBOX_KEY": KEY}
    code, record = _apply(git_repo, env=env)
    assert code == 1
    assert record["state"] == "failed"
    assert "baseline" in record["error"]["message"]


def test_failure_evidence_is_published_only_on_failure(git_repo: Path) -> None:
    front = FRONT.replace(
        "artifacts:",
        "artifacts:\n  - name: evidence.zip\n    type: evidence-bundle\n"
        '    when: failure\n    files: ["out/**"]',
    )
    body = BODY + "\n```bash {step=breaks}\nexit 1\n```\n"
    commit_documents(git_repo, {"intents/pack.md": document(front, body)})
    code, record = _apply(git_repo)
    assert code == 1
    assert [a["name"] for a in record["artifacts"]] == ["evidence.zip"]
    assert record["error"]["step"] == "breaks"


@pytest.mark.parametrize(
    ("files", "extra", "step", "complaint"),
    [
        ('["nothing/**"]', "", "", "files pattern 'nothing/**' matches nothing in"),
        ('["out/**"]', "\n    format: file", "", "match 2 files"),
        (
            '["out/**"]',
            "",
            "ln -s '{outside}' out/sub/escape.txt",
            "out/sub/escape.txt resolves outside the working tree",
        ),
        ('[".git/*"]', "", "", "files pattern '.git/*': .git is inside .git/, which orch never"),
        (
            '["out/**", "!out/**"]',
            "",
            "",
            "the '!' patterns of files ['out/**', '!out/**'] exclude every file the others match",
        ),
        (
            '["out/b+c.txt"]',
            "",
            "touch 'out/b+c.txt'",
            "(out/b+c.txt exists: '+' and '?' repeat the character before them, so write "
            "'\\+' or '\\?' to match the character itself)",
        ),
    ],
)
def test_bad_artifact_declarations_fail_the_run_clearly(
    git_repo: Path, files: str, extra: str, step: str, complaint: str
) -> None:
    (git_repo.parent / "outside.txt").write_text("not ours\n")
    front = FRONT.replace('files: ["out/**"]', f"files: {files}{extra}")
    outside = git_repo.parent / "outside.txt"
    body = BODY.replace("chmod 755", step.format(outside=outside) + "\nchmod 755")
    commit_documents(git_repo, {"intents/pack.md": document(front, body)})
    code, record = _apply(git_repo)
    assert code == 1
    assert complaint in record["error"]["message"]
    assert not list((git_repo / ".orch").glob("dropbox/demo/**/*.zip"))
