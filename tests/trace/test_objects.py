"""Reading objects that git packed: the object store asks git for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import TraceError
from orchestrator.trace import TraceReader, TraceWriter, objects
from orchestrator.trace.objects import ObjectStore
from tests.conftest import git
from tests.trace.records import folder, record, run_id


def _loose(repo: Path, sha: str) -> Path:
    return repo / ".git" / "objects" / sha[:2] / sha[2:]


def test_packed_objects_read_as_git_has_them(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    rid = run_id(1)
    writer.commit_run("deploy", rid, folder(record("deploy", rid, "completed")), state="completed")
    git(git_repo, "gc", "-q")
    tip = git(git_repo, "rev-parse", "orch-trace").strip()
    tree = git(git_repo, "rev-parse", "orch-trace^{tree}").strip()
    blob = git(git_repo, "rev-parse", f"orch-trace:runs/deploy/{rid}/run.json").strip()
    assert not any(_loose(git_repo, sha).exists() for sha in (tip, tree, blob))

    store = ObjectStore(git_repo / ".git")
    kind, data = store.read(blob)
    assert kind == "blob"
    assert data.decode() == git(git_repo, "cat-file", "blob", blob)
    assert store.read_typed(tip, "commit").decode() == git(git_repo, "cat-file", "commit", tip)
    assert [e.name for e in store.read_tree(tree)] == ["open-runs.json", "runs"]


def test_commits_and_reads_continue_on_a_packed_trace(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    first, second = run_id(1), run_id(2)
    writer.commit_run("deploy", first, folder(record("deploy", first)), state="running")
    git(git_repo, "gc", "-q")

    writer.commit_run("deploy", second, folder(record("deploy", second)), state="running")

    reader = TraceReader(git_repo)
    assert [r["run_id"] for r in reader.list_runs()] == [second, first]
    assert sorted(reader.open_runs()) == [first, second]
    assert git(git_repo, "fsck", "--no-progress", "--no-dangling") == ""


def test_a_missing_object_is_a_trace_error_naming_it(git_repo: Path) -> None:
    store = ObjectStore(git_repo / ".git")
    missing = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(TraceError) as caught:
        store.read(missing)
    assert str(caught.value) == (
        f"cannot read object {missing} in {git_repo / '.git'}: it does not exist"
    )


def test_listing_a_packed_trace_asks_git_a_few_times_not_once_per_run(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = TraceWriter(git_repo)
    ids = [run_id(n) for n in range(25)]
    for n, rid in enumerate(ids):
        workflow = f"wf-{n % 3}"
        writer.commit_run(
            workflow, rid, folder(record(workflow, rid, "completed")), state="completed"
        )
    git(git_repo, "gc", "-q")
    calls: list[int] = []
    real = objects.run_git

    def counted(*args: str, **kwargs: Any) -> bytes:
        if args[:2] == ("cat-file", "--batch"):
            calls.append(kwargs["stdin"].count(b"\n"))
        return real(*args, **kwargs)

    monkeypatch.setattr(objects, "run_git", counted)

    listed = TraceReader(git_repo).list_runs(limit=20)

    assert [r["run_id"] for r in listed] == ids[::-1][:20]
    # tip commit, root tree, runs/ tree; then the three workflow trees, then the 20 records
    # (each named by its packed folder and path, so git reads the folder trees itself)
    assert calls == [1, 1, 1, 3, 20]
