from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.trace import TracePushError, TraceReader, TraceWriter
from orchestrator.trace.merge import merge_roots
from tests.conftest import git
from tests.trace.records import folder, record, run_id


@pytest.fixture
def clones(git_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(git_repo), str(remote))
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(a))
    git(tmp_path, "clone", "-q", str(remote), str(b))
    return remote, a, b


def write(writer: TraceWriter, workflow: str, rid: str, state: str = "completed") -> str:
    return writer.commit_run(workflow, rid, folder(record(workflow, rid, state)), state=state)


def test_two_clones_pushing_end_with_every_run_on_the_remote(
    clones: tuple[Path, Path, Path],
) -> None:
    remote, a, b = clones
    wa, wb = TraceWriter(a, remote="origin"), TraceWriter(b, remote="origin")
    a_runs = [run_id(n, "aaaaaa") for n in range(3)]
    b_runs = [run_id(n, "bbbbbb") for n in range(3)]
    for ra, rb in zip(a_runs, b_runs, strict=True):
        write(wa, "alpha", ra)
        write(wb, "beta", rb)
    on_remote = {r["run_id"] for r in TraceReader(remote).list_runs(limit=None)}
    assert on_remote == set(a_runs) | set(b_runs)
    assert (
        git(remote, "rev-parse", "orch-trace").strip() == git(b, "rev-parse", "orch-trace").strip()
    )
    merges = git(remote, "rev-list", "--merges", "orch-trace").split()
    assert merges
    assert git(remote, "log", "-1", "--format=%cn", merges[0]).strip() == "orch"
    assert git(remote, "fsck", "--strict", "--no-dangling") == ""
    for clone in (a, b):
        assert git(clone, "status", "--porcelain") == ""
        assert git(clone, "branch", "--show-current").strip() == "main"


def test_the_same_run_on_both_sides_keeps_the_finished_version(
    clones: tuple[Path, Path, Path],
) -> None:
    remote, a, b = clones
    wa = TraceWriter(a, remote="origin")
    shared = run_id(1, "5a5a5a")
    write(wa, "alpha", shared, "running")
    git(b, "fetch", "-q", "origin", "orch-trace:orch-trace")
    wb = TraceWriter(b, remote="origin")
    write(wb, "alpha", shared, "completed")
    write(wa, "alpha", run_id(2, "aaaaaa"), "running")
    write(wa, "alpha", run_id(3, "aaaaaa"), "completed")
    reader = TraceReader(remote)
    assert reader.read_run(shared)["state"] == "completed"
    assert reader.read_run(run_id(2, "aaaaaa"))["state"] == "running"
    open_runs = json.loads(git(remote, "show", "orch-trace:open-runs.json"))["runs"]
    assert sorted(open_runs) == [f"alpha/{run_id(2, 'aaaaaa')}"]


def test_merge_roots_is_a_union(git_repo: Path, tmp_path: Path) -> None:
    writer = TraceWriter(git_repo)
    write(writer, "alpha", run_id(1))
    base = git(git_repo, "rev-parse", "orch-trace").strip()
    write(writer, "alpha", run_id(2))
    ours = git(git_repo, "rev-parse", "orch-trace").strip()
    git(git_repo, "update-ref", "refs/heads/orch-trace", base)
    write(writer, "beta", run_id(3))
    theirs = git(git_repo, "rev-parse", "orch-trace").strip()
    tree = merge_roots(writer.store, "orch-trace", ours, theirs)
    names = git(git_repo, "ls-tree", "-r", "--name-only", tree).split()
    assert [n for n in names if n.endswith("run.json")] == [
        f"runs/alpha/{run_id(1)}/run.json",
        f"runs/alpha/{run_id(2)}/run.json",
        f"runs/beta/{run_id(3)}/run.json",
    ]


def test_unreachable_remote_keeps_the_local_commit(git_repo: Path, tmp_path: Path) -> None:
    writer = TraceWriter(git_repo, remote=str(tmp_path / "missing.git"))
    with pytest.raises(TracePushError, match="failed") as caught:
        write(writer, "alpha", run_id(1))
    assert git(git_repo, "rev-parse", "orch-trace").strip() == caught.value.commit
