"""A DropBoxMini store that meets damage it cannot repair says so in one line.

``orch dropbox serve`` over a damaged root exits 1 with one line naming the path and what to
do; a running server that meets damage answers ``503 {"error": "store_damaged", "detail"}``
per request, and ``/health`` says ``"status": "damaged"``. orch publishing into a damaged
store keeps the package in the outbox (exit 3) instead of failing or crashing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from orchestrator.dropboxmini import Store, UploadFields
from orchestrator.dropboxmini.layout import DB_NAME
from tests.core.helpers import commit_documents, document, orch
from tests.hostile.dropbox_helpers import (
    KEYS_JSON,
    RW_KEY,
    DropBoxServer,
    freezable_folder,
    running,
    serve_once,
)

NOT_A_DATABASE = b"this is not an SQLite database, whatever its name says\n" * 100


def _used_store(root: Path, count: int = 2) -> list[str]:
    store = Store(root)
    return [
        store.put(
            [f"artifact {i}\n".encode()], UploadFields("generic", "web", file_name="a.txt")
        ).record.artifact_id
        for i in range(count)
    ]


def _damage_page(db_path: Path, page: int = 3, page_size: int = 4096) -> None:
    """Overwrite the header of one b-tree page (the kind of damage a torn write leaves)."""
    data = bytearray(db_path.read_bytes())
    data[page * page_size : page * page_size + 12] = b"\xab" * 12
    db_path.write_bytes(bytes(data))


def _assert_one_line(stderr: str, expected: str) -> None:
    assert stderr == f"orch: {expected}\n"
    assert "Traceback" not in stderr


# --- orch dropbox serve over a damaged root ---------------------------------------------------


def test_serve_over_a_root_that_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.write_text("a file, not a folder\n")
    code, stderr = serve_once(root)
    assert code == 1
    _assert_one_line(
        stderr,
        f"the store root {root} is not a folder; move it away or choose another folder "
        "(a missing one is created)",
    )
    assert root.read_text() == "a file, not a folder\n"


def test_the_module_server_over_a_root_that_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.write_text("a file, not a folder\n")
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.dropboxmini", "--root", str(root), "--port", "1"],
        env={**os.environ, "DROPBOX_API_KEYS_JSON": KEYS_JSON},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"dropboxmini: the store root {root} is not a folder; move it away or choose another "
        "folder (a missing one is created)\n"
    )


def test_serve_over_a_database_that_is_not_one(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _used_store(root)
    (root / DB_NAME).write_bytes(NOT_A_DATABASE)
    code, stderr = serve_once(root)
    assert code == 1
    _assert_one_line(
        stderr,
        f"the store's database {root / DB_NAME} cannot be used (file is not a database); "
        f"restore it from a backup (the artifacts' bytes under {root / 'artifacts'} are not "
        "touched)",
    )
    assert (root / DB_NAME).read_bytes() == NOT_A_DATABASE


def test_serve_over_a_database_with_a_damaged_page(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = Store(root)
    for i in range(200):
        store.put([b"x"], UploadFields("generic", "web", file_name=f"{i}.txt", label="l" * 150))
    _damage_page(root / DB_NAME)
    code, stderr = serve_once(root)
    assert code == 1
    assert stderr.startswith(f"orch: the store's database {root / DB_NAME} is damaged (")
    assert "Page 4: btreeInitPage() returns error code 11" in stderr
    assert stderr.endswith("); restore it from a backup\n") and stderr.count("\n") == 1


def test_serve_over_a_store_whose_database_was_lost(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _used_store(root)
    (root / DB_NAME).unlink()
    code, stderr = serve_once(root)
    assert code == 1
    _assert_one_line(
        stderr,
        f"the store's database {root / DB_NAME} is missing but {root / 'artifacts'} holds "
        "artifacts; restore the database from a backup (a new, empty one would hand out "
        "artifact ids again)",
    )
    assert not (root / DB_NAME).exists()


def test_serve_over_a_database_that_is_a_folder(tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / DB_NAME).mkdir(parents=True)
    code, stderr = serve_once(root)
    assert code == 1
    _assert_one_line(
        stderr,
        f"the store's database {root / DB_NAME} is not a file; move it away and restore the "
        "database from a backup",
    )


def test_serve_over_a_temporary_folder_that_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _used_store(root)
    (root / ".tmp").rmdir()
    (root / ".tmp").write_text("x")
    code, stderr = serve_once(root)
    assert code == 1
    _assert_one_line(
        stderr, f"{root / '.tmp'} should be the store's .tmp folder but is a file; move it away"
    )


def test_serve_over_a_store_of_a_newer_layout(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _used_store(root)
    with sqlite3.connect(root / DB_NAME) as db:
        db.execute("PRAGMA user_version = 7")
    db.close()
    code, stderr = serve_once(root)
    assert code == 1
    _assert_one_line(
        stderr,
        f"the store at {root} has layout version 7, newer than this orch knows (1); "
        "use a newer orch",
    )


def test_serve_over_a_read_only_root(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with freezable_folder(root) as freeze:
        ids = _used_store(root)
        freeze()
        code, stderr = serve_once(root)
        assert code == 1
        reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
        _assert_one_line(
            stderr,
            f"cannot write to the store folder {root}: {reason}; make it writable (and free "
            "some space if it is full), then try again",
        )
        assert sorted(p.name for p in (root / "artifacts" / "web" / "generic").iterdir()) == ids


# --- a running server that meets damage -------------------------------------------------------


def _damaged_answer(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"error": "store_damaged", "detail": detail}


def _damaged_health(server: DropBoxServer, detail: str) -> None:
    with server.http(None) as http:
        health = http.get("/health")
    assert health.status_code == 503
    body = health.json()
    assert (body["status"], body["service"]) == ("damaged", "dropboxmini")
    assert (body["error"], body["detail"]) == ("store_damaged", detail)


def test_a_running_server_whose_database_is_replaced_answers_store_damaged(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    ids = _used_store(root)
    with running(root) as server:
        (root / DB_NAME).write_bytes(NOT_A_DATABASE)
        detail = (
            f"the store's database {root / DB_NAME} cannot be used (file is not a database); "
            f"restore it from a backup (the artifacts' bytes under {root / 'artifacts'} are "
            "not touched)"
        )
        _damaged_health(server, detail)
        with server.http() as http:
            _damaged_answer(http.get("/api/dropbox/artifacts"), detail)
            _damaged_answer(http.get(f"/api/dropbox/artifacts/{ids[0]}"), detail)
            _damaged_answer(http.get("/api/dropbox/status"), detail)
        _damaged_answer(server.upload(b"new\n", "web"), detail)
        assert list((root / ".tmp").iterdir()) == []
    assert "Traceback" not in server.stderr
    assert f"store damaged: {detail}" in server.stderr


def test_a_running_server_whose_database_is_deleted_says_it_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _used_store(root)
    with running(root) as server:
        (root / DB_NAME).unlink()
        detail = (
            f"the store's database {root / DB_NAME} is missing; restore it from a backup "
            "(a new, empty database would hand out artifact ids again)"
        )
        _damaged_health(server, detail)
        _damaged_answer(server.upload(b"new\n", "web"), detail)
    assert not (root / DB_NAME).exists()
    assert "Traceback" not in server.stderr


MISSING = "the bytes of artifact {id} are missing from the store ({path}); "
CUT = "the bytes of artifact {id} in the store ({path}) are 3 bytes, not the recorded 11; "


@pytest.mark.parametrize(
    ("damage", "problem"),
    [(lambda path: path.unlink(), MISSING), (lambda path: path.write_bytes(b"cut"), CUT)],
    ids=["deleted", "truncated"],
)
def test_a_running_server_with_damaged_artifact_bytes_answers_store_damaged(
    tmp_path: Path, damage: Callable[[Path], None], problem: str
) -> None:
    root = tmp_path / "store"
    ids = _used_store(root)
    path = root / "artifacts" / "web" / "generic" / ids[0] / "a.txt"
    damage(path)
    with running(root) as server, server.http() as http:
        download = http.get(f"/api/dropbox/artifacts/{ids[0]}/download")
        detail = problem.format(id=ids[0], path=path) + "restore the file from a backup"
        _damaged_answer(download, detail)
        assert http.get(f"/api/dropbox/artifacts/{ids[1]}/download").content == b"artifact 1\n"
        assert http.get(f"/api/dropbox/artifacts/{ids[0]}").status_code == 200
        assert http.get("/health").json()["status"] == "ok"
    assert "Traceback" not in server.stderr


def test_a_record_whose_path_leaves_the_store_is_damage_not_a_file_served(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    ids = _used_store(root)
    (tmp_path / "outside.txt").write_text("not in the store\n")
    with running(root) as server, server.http() as http:
        db = sqlite3.connect(root / DB_NAME)
        with db:
            db.execute(
                "UPDATE artifacts SET rel_path = '../outside.txt' WHERE artifact_id = ?", (ids[0],)
            )
        db.close()
        detail = (
            f"the store's database {root / DB_NAME} holds a record that is not valid "
            f"('{ids[0]}': its path '../outside.txt' leaves the store); restore the database "
            "from a backup"
        )
        _damaged_answer(http.get(f"/api/dropbox/artifacts/{ids[0]}/download"), detail)
        _damaged_answer(http.get("/api/dropbox/artifacts"), detail)
        assert http.get(f"/api/dropbox/artifacts/{ids[1]}").status_code == 200
    assert "Traceback" not in server.stderr


def test_a_running_server_whose_root_turns_read_only_refuses_uploads(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with freezable_folder(root) as freeze:
        ids = _used_store(root)
        with running(root) as server:
            freeze()
            reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
            _damaged_answer(
                server.upload(b"new\n", "web"),
                f"cannot write to the store folder {root}: {reason}; make it writable (and "
                "free some space if it is full), then try again",
            )
            read_only = (
                f"the store folder {root} is read-only; make it writable (the database and "
                "uploads are written there)"
            )
            _damaged_health(server, read_only)
            with server.http() as http:
                _damaged_answer(http.get(f"/api/dropbox/artifacts/{ids[0]}"), read_only)
        assert "Traceback" not in server.stderr


# --- orch publishing into a damaged store -----------------------------------------------------

FRONT = """
id: evidence
title: Evidence
status: approved
system: demo
artifacts:
  - name: evidence.txt
    type: generic
    format: file
    files: [out.txt]
"""
BODY = "# Evidence\n\n```bash {step=make}\necho evidence > out.txt\n```\n"


def test_orch_apply_into_a_damaged_embedded_store_keeps_the_package(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/evidence.md": document(FRONT, BODY)})
    root = (git_repo / ".orch" / "dropbox").resolve()
    root.mkdir(parents=True)
    (root / DB_NAME).write_bytes(NOT_A_DATABASE)
    ran = orch(git_repo, "apply", "intents/evidence.md", "--json")
    assert ran.code == 3, ran.stderr
    detail = (
        f"the store's database {root / DB_NAME} cannot be used (file is not a database); "
        f"restore it from a backup (the artifacts' bytes under {root / 'artifacts'} are not "
        "touched)"
    )
    publication = ran.json()["artifacts"][0]["publication"]
    assert (publication["state"], publication["error"]) == ("pending", detail)
    assert "artifact evidence.txt waits to be published:" in ran.stderr
    listed = orch(git_repo, "dropbox", "list")
    assert (listed.code, listed.stderr) == (1, f"orch: {detail}\n")
    # Repaired (the store was new: nothing to restore), the package is delivered.
    (root / DB_NAME).unlink()
    delivered = orch(git_repo, "publish")
    assert delivered.code == 0, delivered.stdout + delivered.stderr
    assert "published evidence/" in delivered.stdout
    assert [p.read_text() for p in (root / "artifacts").rglob("evidence.txt")] == ["evidence\n"]


def test_orch_apply_to_a_server_with_a_damaged_store_keeps_the_package(
    git_repo: Path, tmp_path: Path
) -> None:
    commit_documents(git_repo, {"intents/evidence.md": document(FRONT, BODY)})
    root = tmp_path / "store"
    _used_store(root)
    with running(root) as server:
        (root / DB_NAME).write_bytes(NOT_A_DATABASE)
        env = {"ORCH_DROPBOX_URL": server.url, "ORCH_DROPBOX_KEY": RW_KEY}
        ran = orch(git_repo, "apply", "intents/evidence.md", "--json", env=env)
    assert ran.code == 3, ran.stderr
    publication = ran.json()["artifacts"][0]["publication"]
    assert publication["state"] == "pending"
    assert publication["error"] == (
        f"DropBoxMini at {server.url} reports its store damaged: the store's database "
        f"{root / DB_NAME} cannot be used (file is not a database); restore it from a backup "
        f"(the artifacts' bytes under {root / 'artifacts'} are not touched)"
    )
    assert len(list((git_repo / ".orch" / "outbox").rglob("*-evidence.txt"))) == 1
