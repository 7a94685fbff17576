"""Packing the trace repository once orch's loose objects pile up."""

from __future__ import annotations

import hashlib
from pathlib import Path

from orchestrator.trace import TraceReader, TraceWriter
from orchestrator.trace.housekeeping import GIT_AUTO_THRESHOLD, may_need_packing
from tests.conftest import git
from tests.trace.records import folder, record, run_id

# One more object in objects/17 than git's estimate of gc.auto's default allows.
OVER_THRESHOLD = (GIT_AUTO_THRESHOLD + 255) // 256 + 1


def blobs_in_folder_17(count: int) -> dict[str, bytes]:
    """Log files whose git blob ids start with ``17``, as git's estimate samples that folder."""
    files: dict[str, bytes] = {}
    n = 0
    while len(files) < count:
        data = f"log line {n}\n".encode()
        if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest().startswith("17"):
            files[f"logs/{len(files):02d}.log"] = data
        n += 1
    return files


def loose_in_folder_17(repo: Path) -> int:
    sample = repo / ".git" / "objects" / "17"
    return sum(1 for _ in sample.iterdir()) if sample.exists() else 0


def test_a_finished_run_packs_the_trace_when_loose_objects_pile_up(git_repo: Path) -> None:
    git(git_repo, "config", "gc.autoDetach", "false")
    writer = TraceWriter(git_repo)
    rid = run_id(1)
    files = {**folder(record("deploy", rid)), **blobs_in_folder_17(OVER_THRESHOLD)}
    writer.commit_run("deploy", rid, files, state="running")
    assert loose_in_folder_17(git_repo) >= OVER_THRESHOLD  # a run in progress never packs

    files["run.json"] = folder(record("deploy", rid, "completed"))["run.json"]
    writer.commit_run("deploy", rid, files, state="completed")

    assert loose_in_folder_17(git_repo) == 0
    assert list((git_repo / ".git" / "objects" / "pack").glob("*.pack"))
    reader = TraceReader(git_repo)
    assert reader.read_run(rid)["state"] == "completed"
    assert reader.read_file(rid, "logs/00.log") == files["logs/00.log"]
    assert git(git_repo, "fsck", "--no-progress", "--no-dangling") == ""


def test_few_loose_objects_or_gc_auto_zero_leave_the_objects_loose(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    rid = run_id(2)
    writer.commit_run("deploy", rid, folder(record("deploy", rid, "completed")), state="completed")
    assert not may_need_packing(git_repo / ".git" / "objects")
    assert not list((git_repo / ".git" / "objects" / "pack").glob("*.pack"))

    git(git_repo, "config", "gc.auto", "0")
    rid = run_id(3)
    files = {**folder(record("deploy", rid, "completed")), **blobs_in_folder_17(OVER_THRESHOLD)}
    writer.commit_run("deploy", rid, files, state="completed")
    assert may_need_packing(git_repo / ".git" / "objects")
    assert loose_in_folder_17(git_repo) >= OVER_THRESHOLD
    assert not list((git_repo / ".git" / "objects" / "pack").glob("*.pack"))
