"""No project, artifact type or file name can reach the DropBoxMini store's own files.

Every name a used store holds in its root is listed from a real store, then sent as a project
and as a file name: over HTTP to ``orch dropbox serve``, and through ``orch apply`` of a
document whose artifact ``project`` is that name (the embedded store). Stores of the first
layout, where a project folder sat next to the database, are moved under ``artifacts/``
without losing a byte, including one a project named like the database's journal had broken.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.dropboxmini import Store, UploadFields
from orchestrator.dropboxmini.layout import DB_NAME, ROOT_NAMES
from tests.core.helpers import commit_documents, document, orch
from tests.hostile.dropbox_helpers import RW_KEY, DropBoxServer, running

JOURNAL = f"{DB_NAME}-journal"
PROJECT_RULE = (
    "field 'project': must start with a letter or digit and contain only letters, digits, "
    "'.', '_' and '-' (at most 128 characters), got {!r}"
)
VALID = [name for name in ROOT_NAMES if not name.startswith(".")]
INVALID = [name for name in ROOT_NAMES if name.startswith(".")]


def test_the_names_in_a_used_store_root_are_the_ones_the_store_knows(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with running(root) as server:
        assert server.upload(b"first\n", "web").status_code == 201
        assert server.upload(b"second\n", "api", file_name="report.txt").status_code == 201
        # A reader inside a transaction holds the database open, as each request does.
        db = sqlite3.connect(root / DB_NAME)
        try:
            db.execute("BEGIN")
            assert db.execute("SELECT COUNT(*) FROM artifacts").fetchone() == (2,)
            seen = {path.name for path in root.iterdir()}
        finally:
            db.close()
    assert seen == {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", ".gitignore", ".tmp", "artifacts"}
    # SQLite writes <db>-journal only while a database is not yet in WAL mode (its creation).
    assert set(ROOT_NAMES) == seen | {JOURNAL}
    assert sorted(p.name for p in (root / "artifacts").iterdir()) == ["api", "web"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DropBoxServer]:
    server = DropBoxServer(tmp_path_factory.mktemp("namespace") / "store").start()
    assert server.upload(b"already here\n", "web").status_code == 201
    yield server
    server.stop()


def _root_state(root: Path) -> dict[str, str]:
    return {path.name: "dir" if path.is_dir() else "file" for path in root.iterdir()}


@pytest.mark.parametrize("name", VALID)
def test_a_project_named_like_a_store_file_is_stored_under_artifacts(
    shared: DropBoxServer, name: str
) -> None:
    content = f"project {name}\n".encode()
    response = shared.upload(content, name)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["project"] == name
    stored = shared.root / "artifacts" / name / "generic" / record["artifactId"] / "notes.txt"
    assert stored.read_bytes() == content
    assert _root_state(shared.root).get(DB_NAME) == "file"
    assert _root_state(shared.root).get(JOURNAL) is None
    with shared.http() as http:
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        download = http.get(f"/api/dropbox/artifacts/{record['artifactId']}/download")
        assert download.content == content
        listed = http.get("/api/dropbox/artifacts", params={"project": name}).json()
    assert [item["artifactId"] for item in listed["artifacts"]] == [record["artifactId"]]


@pytest.mark.parametrize("name", INVALID)
def test_a_project_named_like_a_hidden_store_file_is_refused_naming_the_field(
    shared: DropBoxServer, name: str
) -> None:
    response = shared.upload(b"x", name)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid_field", "detail": PROJECT_RULE.format(name)}
    with shared.http() as http:
        assert http.get("/health").status_code == 200


@pytest.mark.parametrize("name", ROOT_NAMES)
def test_an_artifact_type_named_like_a_store_file_is_refused_naming_the_field(
    shared: DropBoxServer, name: str
) -> None:
    with shared.http() as http:
        response = http.post(
            "/api/dropbox/upload",
            data={"artifactType": name, "project": "web"},
            files={"file": ("notes.txt", b"x")},
        )
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_field",
        "detail": "field 'artifactType': must be one of delivery-patch, screenshot, "
        f"test-result, evidence-bundle, generic, got {name!r}",
    }


@pytest.mark.parametrize("name", ROOT_NAMES)
def test_a_file_named_like_a_store_file_is_stored_under_artifacts(
    shared: DropBoxServer, name: str
) -> None:
    content = f"file {name}\n".encode()
    response = shared.upload(content, "files", file_name=name)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["fileName"] == name
    stored = shared.root / "artifacts" / "files" / "generic" / record["artifactId"] / name
    assert stored.read_bytes() == content
    assert (shared.root / DB_NAME).is_file() and (shared.root / ".gitignore").is_file()
    with shared.http() as http:
        assert http.get("/health").json()["status"] == "ok"


def test_the_server_starts_again_after_every_store_name_was_a_project(tmp_path: Path) -> None:
    root = tmp_path / "store"
    uploaded: dict[str, str] = {}
    with running(root) as server:
        for name in VALID:
            response = server.upload(f"bytes of {name}\n".encode(), name)
            assert response.status_code == 201, response.text
            uploaded[response.json()["artifactId"]] = name
    with running(root) as again, again.http() as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["artifactCount"] == len(VALID)
        for artifact_id, name in uploaded.items():
            download = http.get(f"/api/dropbox/artifacts/{artifact_id}/download")
            assert download.content == f"bytes of {name}\n".encode()


# --- the embedded store, through orch apply ----------------------------------------------------


def _artifacts_front(projects: list[str]) -> str:
    entries = "".join(
        f"  - name: out-{index}.txt\n    type: generic\n    format: file\n"
        f"    files: [out.txt]\n    project: {json.dumps(project)}\n"
        for index, project in enumerate(projects)
    )
    return f"id: names\ntitle: Names\nstatus: approved\nartifacts:\n{entries}"


BODY = "# Names\n\n```bash {step=make}\necho evidence > out.txt\n```\n"


def test_orch_apply_publishes_projects_named_like_store_files_into_the_embedded_store(
    git_repo: Path,
) -> None:
    commit_documents(git_repo, {"intents/names.md": document(_artifacts_front(VALID), BODY)})
    first = orch(git_repo, "apply", "intents/names.md", "--json")
    assert first.code == 0, first.stderr
    ids = [a["publication"]["artifact_id"] for a in first.json()["artifacts"]]
    for index, artifact_id in enumerate(ids):
        assert f"artifact out-{index}.txt published as {artifact_id}" in first.stderr
    root = git_repo / ".orch" / "dropbox"
    assert {p.name for p in root.iterdir()} <= set(ROOT_NAMES)
    assert (root / DB_NAME).is_file() and not (root / JOURNAL).exists()
    # The store opens again: a second run publishes, and the listing shows every project.
    second = orch(git_repo, "apply", "intents/names.md", "--json")
    assert second.code == 0, second.stderr
    listed = orch(git_repo, "dropbox", "list", "--json", "--limit", "1000")
    assert listed.code == 0, listed.stderr
    projects = [item["project"] for item in json.loads(listed.stdout)]
    assert sorted(projects) == sorted(VALID * 2)
    for artifact in second.json()["artifacts"]:
        stored = Path(artifact["publication"]["storage_path"])
        assert stored.is_relative_to(root / "artifacts" / artifact["project"])
        assert stored.read_text() == "evidence\n"


@pytest.mark.parametrize("name", INVALID)
def test_orch_apply_with_a_project_named_like_a_hidden_store_file_fails_naming_the_field(
    git_repo: Path, name: str
) -> None:
    commit_documents(git_repo, {"intents/names.md": document(_artifacts_front([name]), BODY)})
    ran = orch(git_repo, "apply", "intents/names.md", "--json")
    assert ran.code == 1
    root = (git_repo / ".orch" / "dropbox").resolve()
    expected = (
        f"the local store {root} refused out-0.txt (422 invalid_field): "
        + PROJECT_RULE.format(name)
    )
    assert ran.json()["error"]["message"] == expected
    assert expected in ran.stderr.replace("\n", "")
    assert not (root / name / "generic").exists()


# --- stores of the first layout ---------------------------------------------------------------


def _to_first_layout(root: Path) -> None:
    """Put a store back the way the first layout kept it: ``<root>/<project>/...``."""
    staging = root / ".staging"
    (root / "artifacts").rename(staging)
    db = sqlite3.connect(root / DB_NAME)
    with db:
        for artifact_id, rel in db.execute("SELECT artifact_id, rel_path FROM artifacts"):
            old = Path(rel).relative_to("artifacts")
            (root / old).parent.mkdir(parents=True, exist_ok=True)
            (staging / old).rename(root / old)
            db.execute(
                "UPDATE artifacts SET rel_path = ? WHERE artifact_id = ?",
                (old.as_posix(), artifact_id),
            )
        db.execute("PRAGMA user_version = 0")
    db.close()
    shutil.rmtree(staging)


def _first_layout_store(root: Path, projects: list[str]) -> dict[str, tuple[str, bytes]]:
    store = Store(root)
    made: dict[str, tuple[str, bytes]] = {}
    for project in projects:
        content = f"evidence of {project}\n".encode()
        record = store.put([content], UploadFields("generic", project, file_name="e.txt")).record
        made[record.artifact_id] = (project, content)
    _to_first_layout(root)
    return made


def test_a_first_layout_store_moves_under_artifacts_without_losing_a_byte(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    made = _first_layout_store(root, ["web", "artifacts", "generic", JOURNAL])
    stray = root / "web" / "kept-by-hand.txt"
    stray.write_text("not an artifact\n")
    # The first layout's breakage, reproduced: SQLite cannot open the database.
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        sqlite3.connect(root / DB_NAME).execute("SELECT COUNT(*) FROM artifacts").fetchone()

    store = Store(root)
    assert store.status().artifact_count == len(made)
    for artifact_id, (project, content) in made.items():
        path = store.path_of(artifact_id)
        assert path == root / "artifacts" / project / "generic" / artifact_id / "e.txt"
        assert path.read_bytes() == content
        assert store.get(artifact_id).sha256 == hashlib.sha256(content).hexdigest()
    assert stray.read_text() == "not an artifact\n"
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [DB_NAME, ".gitignore", ".tmp", "artifacts", "web"]
    )
    newest = max(made)
    added = store.put([b"new\n"], UploadFields("generic", "web", file_name="n.txt")).record
    assert added.artifact_id > newest and added.artifact_id[:8] == newest[:8]


def test_a_migration_cut_short_is_finished_by_the_next_open(tmp_path: Path) -> None:
    root = tmp_path / "store"
    made = _first_layout_store(root, ["web", "api"])
    first = min(made)
    project = made[first][0]
    # The file was renamed into its new place, then the process died before the commit.
    old = root / project / "generic" / first / "e.txt"
    new = root / "artifacts" / project / "generic" / first / "e.txt"
    new.parent.mkdir(parents=True)
    old.rename(new)
    store = Store(root)
    for artifact_id, (_, content) in made.items():
        assert store.path_of(artifact_id).read_bytes() == content


def test_orch_dropbox_serve_starts_over_a_store_the_journal_project_broke(tmp_path: Path) -> None:
    root = tmp_path / "store"
    made = _first_layout_store(root, ["web", JOURNAL])
    assert (root / JOURNAL).is_dir()
    with running(root) as server, server.http(RW_KEY) as http:
        health = http.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["artifactCount"] == 2
        for artifact_id, (_, content) in made.items():
            download = http.get(f"/api/dropbox/artifacts/{artifact_id}/download")
            assert download.status_code == 200 and download.content == content
    assert "moved the project folder" in server.stderr
    assert (root / "artifacts" / JOURNAL).is_dir() and not (root / JOURNAL).exists()
