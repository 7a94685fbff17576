from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import TraceError
from orchestrator.trace import RunFiles, TraceReader, TraceWriter
from tests.conftest import git
from tests.trace.records import folder, record, run_id


@pytest.fixture
def traced(git_repo: Path) -> Path:
    writer = TraceWriter(git_repo)
    batch = []
    for n in range(12):
        workflow = ("alpha", "beta", "gamma")[n % 3]
        state = "failed" if n % 4 == 0 else "completed"
        rid = run_id(100 + n, f"{n:06x}")
        batch.append(RunFiles(workflow, rid, folder(record(workflow, rid, state)), state))
    writer.commit_runs(batch)
    return git_repo


def test_no_trace_yet(git_repo: Path) -> None:
    reader = TraceReader(git_repo)
    assert reader.list_runs() == []
    with pytest.raises(TraceError, match="orch runs"):
        reader.read_run("2026")


def test_list_newest_first_with_limit_and_filters(traced: Path) -> None:
    reader = TraceReader(traced)
    ids = [r["run_id"] for r in reader.list_runs(limit=5)]
    assert ids == [run_id(100 + n, f"{n:06x}") for n in range(11, 6, -1)]
    beta = reader.list_runs(workflow="beta", limit=None)
    assert [r["run_id"] for r in beta] == [run_id(100 + n, f"{n:06x}") for n in (10, 7, 4, 1)]
    failed = reader.list_runs(state="failed", limit=None)
    assert [r["run_id"] for r in failed] == [run_id(100 + n, f"{n:06x}") for n in (8, 4, 0)]
    assert reader.runs_in_state("failed") == failed
    assert reader.list_runs(workflow="nope") == []


def test_find_by_unique_prefix_and_ambiguous_prefix(traced: Path) -> None:
    reader = TraceReader(traced)
    full = run_id(105, "000005")
    assert reader.find_run(full) == ("gamma", full)
    assert reader.find_run(full[:-2]) == ("gamma", full)
    with pytest.raises(TraceError, match="ambiguous"):
        reader.find_run("20261125T")
    with pytest.raises(TraceError, match=r"no run 'zzz'.*orch runs"):
        reader.find_run("zzz")


def test_read_run_files_and_logs(traced: Path) -> None:
    reader = TraceReader(traced)
    rid = run_id(103, "000003")
    assert reader.read_run(rid[:20])["workflow"]["id"] == "alpha"
    assert reader.list_files(rid) == ["logs/01-build.log", "report.md", "run.json"]
    assert reader.read_file(rid, "logs/01-build.log") == b"step output\n"
    with pytest.raises(TraceError, match=r"no file 'logs/99-x\.log'"):
        reader.read_file(rid, "logs/99-x.log")
    with pytest.raises(TraceError, match="no file 'logs'"):
        reader.read_file(rid, "logs")


def test_running_runs_come_from_the_open_index(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    for n, state in enumerate(("running", "completed", "pending", "running")):
        rid = run_id(n)
        writer.commit_run("wf", rid, folder(record("wf", rid, state)), state=state)
    reader = TraceReader(git_repo)
    assert [r["run_id"] for r in reader.runs_in_state("running")] == [run_id(3), run_id(0)]
    assert [r["run_id"] for r in reader.runs_in_state("pending")] == [run_id(2)]
    assert sorted(reader.open_runs()) == [run_id(0), run_id(2), run_id(3)]


def test_fresh_clone_reads_the_remote_tracking_branch(traced: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(traced), str(clone))
    assert git(clone, "branch", "--list", "orch-trace") == ""
    reader = TraceReader(clone)
    assert reader.tip_ref() == "refs/remotes/origin/orch-trace"
    assert len(reader.list_runs(limit=None)) == 12
    git(clone, "pack-refs", "--all")
    git(clone, "gc", "-q")
    reader = TraceReader(clone)
    assert reader.read_run(run_id(111, "00000b"))["state"] == "completed"


def test_reader_does_not_read_other_branches(traced: Path) -> None:
    git(traced, "checkout", "-q", "-b", "topic")
    (traced / "runs").mkdir()
    (traced / "runs" / "x").write_text("not a run\n")
    git(traced, "add", "runs")
    git(traced, "commit", "-q", "-m", "looks like runs")
    assert len(TraceReader(traced).list_runs(limit=None)) == 12
    assert TraceReader(traced, branch="other").list_runs() == []


def test_runs_created_in_the_same_second_are_listed_by_their_milliseconds(
    git_repo: Path,
) -> None:
    writer = TraceWriter(git_repo)
    # The random suffixes sort against the creation order within the second.
    created = [("20261125T221500Z-ffffff", "00.100"), ("20261125T221500Z-000000", "00.900")]
    created.append(("20261125T221459Z-999999", "59.999"))
    for rid, millis in created:
        rec = record("deploy", rid, "completed")
        minute = "2026-11-25T22:14:" if millis.startswith("59") else "2026-11-25T22:15:"
        rec["transitions"][0]["at"] = f"{minute}{millis}Z"
        writer.commit_run("deploy", rid, folder(rec), state="completed")
    listed = [r["run_id"] for r in TraceReader(git_repo).list_runs()]
    assert listed == [
        "20261125T221500Z-000000",
        "20261125T221500Z-ffffff",
        "20261125T221459Z-999999",
    ]
    assert [r["run_id"] for r in TraceReader(git_repo).list_runs(limit=1)] == listed[:1]


def test_a_packed_trace_reads_the_same_through_git(traced: Path) -> None:
    loose = TraceReader(traced).list_runs(limit=None)
    git(traced, "gc", "-q")
    assert not any((traced / ".git/objects").glob("[0-9a-f][0-9a-f]/*"))
    reader = TraceReader(traced)
    assert reader.list_runs(limit=None) == loose
    rid = run_id(103, "000003")
    assert reader.read_run(rid) == next(r for r in loose if r["run_id"] == rid)
    assert reader.read_file(rid, "logs/01-build.log") == b"step output\n"
    # A run written after packing is loose; the listing mixes both.
    newest = run_id(200, "ffffff")
    TraceWriter(traced).commit_run(
        "alpha", newest, folder(record("alpha", newest, "completed")), state="completed"
    )
    listed = TraceReader(traced).list_runs(limit=3)
    assert [r["run_id"] for r in listed] == [newest] + [r["run_id"] for r in loose[:2]]


def test_a_listing_reads_no_record_beyond_its_limit(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    damaged = run_id(1, "0000aa")  # the oldest run: its folder has no run.json
    batch = [RunFiles("alpha", damaged, {"report.md": b"# damaged\n"}, "completed")]
    for n in range(2, 300):
        rid = run_id(n, f"{n:06x}")
        batch.append(RunFiles("alpha", rid, folder(record("alpha", rid, "completed")), "completed"))
    writer.commit_runs(batch)
    git(git_repo, "gc", "-q")
    reader = TraceReader(git_repo)
    assert len(reader.list_runs(limit=298)) == 298
    assert [r["run_id"] for r in reader.list_runs(limit=1)] == [run_id(299, f"{299:06x}")]
    with pytest.raises(TraceError) as raised:
        reader.list_runs(limit=None)
    assert str(raised.value) == f"run alpha/{damaged} in the trace has no run.json"
    assert reader.latest_run_id() == run_id(299, f"{299:06x}")


def test_a_damaged_ref_is_refused_not_read_as_a_revision(traced: Path) -> None:
    git(traced, "gc", "-q")
    ref = traced / ".git/refs/heads/orch-trace"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text("main~1\n")
    with pytest.raises(TraceError) as raised:
        TraceReader(traced).list_runs()
    assert str(raised.value) == f"not an object id in {traced / '.git'}: 'main~1'"
