"""``orch dropbox`` commands on the local store and against the live server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orchestrator.cli.dropbox import default_root
from tests.core.helpers import orch
from tests.dropboxmini.conftest import RW, Live, zip_bytes


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``orch dropbox ARGS`` as a person runs it: the real command line, in a new process."""
    ran = orch(Path.cwd(), "dropbox", *args, env=env)
    return ran.code, ran.stdout, ran.stderr


def test_push_list_get_on_the_local_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    source = tmp_path / "patch.zip"
    source.write_bytes(zip_bytes())
    code, out, err = invoke(
        "push",
        str(source),
        "--type",
        "delivery-patch",
        "--project",
        "demo",
        "--baseline",
        "18",
        "--patch",
        "4",
        "--tags",
        "a,b",
        "--root",
        str(root),
    )
    assert code == 0, err
    artifact_id = out.strip()
    code, out, _ = invoke("list", "--root", str(root), "--json", "--patch", "0004")
    assert code == 0
    listed = json.loads(out)
    assert [a["artifactId"] for a in listed] == [artifact_id]
    assert listed[0]["baseline"] == "0018"
    code, out, _ = invoke("list", "--root", str(root))
    assert code == 0 and artifact_id in out
    dest = tmp_path / "copy.zip"
    code, out, _ = invoke("get", artifact_id, "--root", str(root), "--output", str(dest), "--json")
    assert code == 0
    assert json.loads(out)["storagePath"].startswith(str(root.resolve()))
    assert dest.read_bytes() == source.read_bytes()


def test_validation_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    code, out, err = invoke(
        "push",
        str(source),
        "--type",
        "delivery-patch",
        "--project",
        "p",
        "--root",
        str(tmp_path / "s"),
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "orch: field 'baseline': is required for this artifact type"
    ]
    assert "Traceback" not in out + err
    missing = tmp_path / "missing"
    code, _, err = invoke("push", str(missing), "--type", "generic", "--project", "p")
    assert (code, err) == (2, f"orch: no such file: {missing}\n")
    code, _, err = invoke("get", "19990101-001", "--root", str(tmp_path / "s"))
    assert (code, err) == (1, "orch: no artifact with id '19990101-001' (HTTP 404 not_found)\n")


def test_commands_against_the_live_server(live: Live, project: str, tmp_path: Path) -> None:
    source = tmp_path / "r.xml"
    source.write_text("<testsuite/>")
    env = {"ORCH_DROPBOX_URL": live.url, "ORCH_DROPBOX_KEY": RW}
    code, out, err = invoke(
        "push", str(source), "--type", "test-result", "--project", project, env=env
    )
    assert code == 0, err
    artifact_id = out.strip()
    assert (live.root / "artifacts" / project / "test-result" / artifact_id / "r.xml").exists()
    code, out, _ = invoke("list", "--project", project, "--json", env=env)
    assert [a["artifactId"] for a in json.loads(out)] == [artifact_id]
    code, out, _ = invoke("get", artifact_id, "--json", "--url", live.url, "--key", RW)
    assert json.loads(out)["fileName"] == "r.xml"
    code, _, err = invoke("list", "--url", live.url, "--key", "wrong")
    assert code == 1 and "HTTP 401" in err
    code, _, err = invoke("list", "--url", live.url)
    assert code == 2 and "key" in err


def test_default_root_is_under_the_repository_top(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = git_repo / "deep" / "er"
    sub.mkdir(parents=True)
    assert default_root(sub) == git_repo / ".orch" / "dropbox"
    outside = tmp_path / "plain"
    outside.mkdir()
    assert default_root(outside) == outside / ".orch" / "dropbox"
    monkeypatch.chdir(git_repo)
    source = git_repo / "f.txt"
    source.write_text("x")
    code, _, err = invoke("push", str(source), "--type", "generic", "--project", "p")
    assert code == 0, err
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=git_repo, capture_output=True, text=True, check=True
    ).stdout
    assert ".orch" not in status


def test_the_default_store_ignores_a_git_location_the_caller_inherited(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A git hook exports GIT_DIR: the store is still the one of the repository here."""
    elsewhere = tmp_path / "elsewhere"
    subprocess.run(["git", "init", "-q", str(elsewhere)], check=True)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    sub = git_repo / "sub"
    sub.mkdir()
    assert default_root(sub) == git_repo / ".orch" / "dropbox"


def test_the_default_store_of_a_linked_worktree_is_the_main_one(
    git_repo: Path, tmp_path: Path
) -> None:
    """Runs in any worktree of a repository publish to the main working tree's store."""
    (git_repo / "f.txt").write_text("x")
    for command in (["add", "f.txt"], ["commit", "-q", "-m", "f"]):
        subprocess.run(["git", *command], cwd=git_repo, check=True)
    linked = tmp_path / "linked"
    subprocess.run(["git", "worktree", "add", "-q", str(linked)], cwd=git_repo, check=True)
    assert default_root(linked) == git_repo / ".orch" / "dropbox"


def test_get_of_a_damaged_stored_copy_fails_with_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    root, source = tmp_path / "store", tmp_path / "notes.txt"
    source.write_text("release notes\n")
    code, out, err = invoke(
        "push", str(source), "--type", "generic", "--project", "p", "--root", str(root)
    )
    assert code == 0, err
    artifact_id = out.strip()
    stored = next(root.rglob("notes.txt"))
    stored.write_text("release nodes\n")
    dest = tmp_path / "copy.txt"
    code, _, err = invoke("get", artifact_id, "--root", str(root), "--output", str(dest))
    assert code == 1
    assert err.startswith(f"orch: artifact {artifact_id}: the bytes received")
    assert "HTTP" not in err and err.count("\n") == 1
    assert not dest.exists()
