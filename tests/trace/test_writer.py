from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from orchestrator.errors import TraceError
from orchestrator.trace import TraceReader, TraceWriter, own_trace_repository
from tests.conftest import git
from tests.trace.records import folder, loads, record, run_id

RID = run_id(1)


def snapshot(repo: Path) -> tuple[str, str, str, str, str]:
    return (
        git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
        git(repo, "diff", "--cached"),
        git(repo, "diff"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "-q", "HEAD") if _on_branch(repo) else "detached",
    )


def _on_branch(repo: Path) -> bool:
    import subprocess

    return subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo).returncode == 0


def start_and_end(writer: TraceWriter, workflow: str = "deploy", rid: str = RID) -> tuple[str, str]:
    rec = record(workflow, rid)
    first = writer.commit_run(workflow, rid, folder(rec), state="running", message_title="started")
    rec = record(workflow, rid, "completed")
    files = folder(rec)
    del files["logs/01-build.log"]
    files["logs/02-test.log"] = b"tests passed\n"
    second = writer.commit_run(
        workflow, rid, files, state="completed", author=("Ann Operator", "ann@example.invalid")
    )
    return first, second


def test_writes_leave_work_tree_index_and_head_untouched(git_repo: Path) -> None:
    (git_repo / "README.md").write_text("changed but not staged\n")
    (git_repo / "staged.txt").write_text("staged\n")
    git(git_repo, "add", "staged.txt")
    (git_repo / "untracked.txt").write_text("untracked\n")
    before = snapshot(git_repo)
    index_before = (git_repo / ".git" / "index").read_bytes()

    start_and_end(TraceWriter(git_repo))

    assert snapshot(git_repo) == before
    assert (git_repo / ".git" / "index").read_bytes() == index_before
    assert git(git_repo, "branch", "--show-current").strip() == "main"
    assert git(git_repo, "fsck", "--strict", "--no-dangling") == ""


def test_start_then_end_replaces_the_run_folder(git_repo: Path) -> None:
    first, second = start_and_end(TraceWriter(git_repo))
    assert git(git_repo, "rev-parse", "orch-trace").strip() == second
    assert git(git_repo, "rev-parse", "orch-trace^").strip() == first
    listed = git(git_repo, "ls-tree", "-r", "--name-only", "orch-trace").split()
    assert listed == [
        "open-runs.json",
        f"runs/deploy/{RID}/logs/02-test.log",
        f"runs/deploy/{RID}/report.md",
        f"runs/deploy/{RID}/run.json",
    ]
    assert (
        loads(git(git_repo, "show", f"orch-trace:runs/deploy/{RID}/run.json").encode())["state"]
        == "completed"
    )
    assert (
        loads(git(git_repo, "show", f"{first}:open-runs.json").encode())["runs"][f"deploy/{RID}"][
            "state"
        ]
        == "running"
    )
    assert loads(git(git_repo, "show", "orch-trace:open-runs.json").encode())["runs"] == {}


def test_commit_message_trailers_and_identities(git_repo: Path) -> None:
    start_and_end(TraceWriter(git_repo))
    runs = git(git_repo, "log", "--format=%(trailers:key=Orch-Run,valueonly)", "orch-trace")
    assert [line for line in runs.splitlines() if line] == [RID, RID]
    states = git(git_repo, "log", "--format=%(trailers:key=Orch-State,valueonly)", "orch-trace")
    assert [line for line in states.splitlines() if line] == ["completed", "running"]
    doc = git(
        git_repo, "log", "-1", "--format=%(trailers:key=Orch-Document,valueonly)", "orch-trace"
    )
    assert doc.strip() == "intents/deploy.md"
    rev = git(
        git_repo, "log", "-1", "--format=%(trailers:key=Orch-Revision,valueonly)", "orch-trace"
    )
    assert rev.strip() == "c0ffee" * 6 + "c0ff"
    assert git(git_repo, "log", "-1", "--format=%s", "orch-trace").strip() == (
        f"orch: deploy {RID} completed"
    )
    who = git(git_repo, "log", "--format=%an <%ae>|%cn <%ce>", "orch-trace").splitlines()
    assert who == [
        "Ann Operator <ann@example.invalid>|orch <orch@localhost>",
        "orch <orch@localhost>|orch <orch@localhost>",
    ]
    assert (
        git(git_repo, "log", "--grep", f"Orch-Run: {RID}", "--format=%H", "orch-trace").count("\n")
        == 2
    )


def test_extra_trailers_are_added(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    rec = record("nightly", RID)
    writer.commit_run(
        "nightly", RID, folder(rec), state="running", trailers={"Orch-Schedule": "0 2 * * *"}
    )
    value = git(
        git_repo, "log", "-1", "--format=%(trailers:key=Orch-Schedule,valueonly)", "orch-trace"
    )
    assert value.strip() == "0 2 * * *"


def test_works_on_a_detached_head_during_a_rebase_like_state(git_repo: Path) -> None:
    head = git(git_repo, "rev-parse", "HEAD").strip()
    git(git_repo, "checkout", "-q", "--detach", head)
    before = snapshot(git_repo)
    start_and_end(TraceWriter(git_repo))
    assert snapshot(git_repo) == before
    assert git(git_repo, "fsck", "--strict", "--no-dangling") == ""


def test_hook_environment_is_ignored(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    (git_repo / "staged.txt").write_text("staged\n")
    git(git_repo, "add", "staged.txt")
    before = snapshot(git_repo)
    hook_index = tmp_path / "hook-index"
    hook_index.write_bytes((git_repo / ".git" / "index").read_bytes())
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(hook_index))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_PREFIX", "sub/")
    monkeypatch.chdir(git_repo)

    start_and_end(TraceWriter(git_repo))

    assert hook_index.read_bytes() == (git_repo / ".git" / "index").read_bytes()
    for name in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX"):
        monkeypatch.delenv(name)
    assert snapshot(git_repo) == before
    assert git(other, "for-each-ref") == ""
    assert git(git_repo, "rev-parse", "--verify", "orch-trace").strip()


def test_hook_environment_pointing_at_the_same_repository(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook_index = tmp_path / "next-index.lock"
    hook_index.write_bytes((git_repo / ".git" / "index").read_bytes())
    monkeypatch.setenv("GIT_DIR", str(git_repo / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(hook_index))
    start_and_end(TraceWriter(git_repo))
    assert hook_index.read_bytes() == (git_repo / ".git" / "index").read_bytes()
    assert TraceReader(git_repo).read_run(RID)["state"] == "completed"


def test_outside_a_repository_uses_orchs_own_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    trace = own_trace_repository()
    assert trace == tmp_path / "data" / "orch" / "trace.git"
    assert git(trace, "rev-parse", "--is-bare-repository").strip() == "true"
    start_and_end(TraceWriter(trace))
    assert own_trace_repository() == trace
    assert TraceReader(trace).list_runs()[0]["run_id"] == RID
    assert git(trace, "fsck", "--strict", "--no-dangling") == ""


def test_prefix_puts_runs_under_the_repository_name(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.git"
    git(tmp_path, "init", "-q", "--bare", str(evidence))
    start_and_end(TraceWriter(evidence, prefix="service-a"))
    start_and_end(TraceWriter(evidence, prefix="service-b"))
    names = git(evidence, "ls-tree", "-d", "--name-only", "orch-trace:runs").split()
    assert names == ["service-a", "service-b"]
    assert TraceReader(evidence, prefix="service-b").find_run(RID) == ("deploy", RID)


def test_other_runs_are_kept_and_subtrees_reused(git_repo: Path) -> None:
    writer = TraceWriter(git_repo)
    start_and_end(writer, "alpha", run_id(1))
    alpha_tree = git(git_repo, "rev-parse", "orch-trace:runs/alpha").strip()
    start_and_end(writer, "beta", run_id(2))
    assert git(git_repo, "rev-parse", "orch-trace:runs/alpha").strip() == alpha_tree
    assert len(TraceReader(git_repo).list_runs()) == 2


@pytest.mark.parametrize(
    "setup",
    [
        "files-outside-runs",
        "no-runs-folder",
        "points-at-a-tree",
    ],
)
def test_foreign_branch_is_refused_and_untouched(git_repo: Path, setup: str) -> None:
    if setup == "points-at-a-tree":
        tree = git(git_repo, "rev-parse", "HEAD^{tree}").strip()
        (git_repo / ".git" / "refs" / "heads" / "orch-trace").write_text(tree + "\n")
    elif setup == "no-runs-folder":
        git(git_repo, "branch", "orch-trace")
    else:
        writer = TraceWriter(git_repo)
        start_and_end(writer)
        git(git_repo, "checkout", "-q", "orch-trace")
        (git_repo / "notes.txt").write_text("mine\n")
        git(git_repo, "add", "notes.txt")
        git(git_repo, "commit", "-q", "-m", "foreign")
        git(git_repo, "checkout", "-q", "main")
    before = git(git_repo, "rev-parse", "orch-trace").strip()
    with pytest.raises(TraceError, match=r"'orch-trace'.*not an orch run trace.*git branch -m"):
        start_and_end(TraceWriter(git_repo), "other", run_id(9))
    assert git(git_repo, "rev-parse", "orch-trace").strip() == before


def test_trace_repository_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not-a-repo"
    path.write_text("plain file\n")
    with pytest.raises(TraceError, match="not a folder"):
        TraceWriter(path)


def test_unwritable_object_database_is_a_trace_error(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.git"
    git(tmp_path, "init", "-q", "--bare", str(evidence))
    start_and_end(TraceWriter(evidence), "alpha", run_id(1))
    before = git(evidence, "rev-parse", "orch-trace").strip()
    objects = evidence / "objects"
    objects.rename(tmp_path / "objects-moved")
    objects.write_text("not a folder\n")
    with pytest.raises(TraceError) as refused:
        start_and_end(TraceWriter(evidence), "beta", run_id(2))
    assert str(refused.value) == (
        f"not a directory while writing the trace's object database ({objects})"
    )
    objects.unlink()
    (tmp_path / "objects-moved").rename(objects)
    assert git(evidence, "rev-parse", "orch-trace").strip() == before


@pytest.mark.parametrize(
    ("workflow", "rid", "files", "message"),
    [
        (
            "../escape",
            RID,
            {"run.json": b"{}"},
            "invalid workflow id '../escape' for the run trace",
        ),
        ("deploy", "a/b", {"run.json": b"{}"}, "invalid run id 'a/b' for the run trace"),
        (
            "deploy",
            RID,
            {"../x": b""},
            "invalid file path component in '../x' '..' for the run trace",
        ),
        (
            "deploy",
            RID,
            {".git/config": b""},
            "invalid file path component in '.git/config' '.git' for the run trace",
        ),
        ("deploy", RID, {}, "a run folder needs at least one file"),
        (
            "deploy",
            RID,
            {"run.json": b"not json"},
            f"run.json of run {RID} is not valid JSON: Expecting value: line 1 column 1 (char 0)",
        ),
    ],
)
def test_bad_names_and_folders_are_refused(
    git_repo: Path, workflow: str, rid: str, files: dict[str, bytes], message: str
) -> None:
    with pytest.raises(TraceError) as refused:
        TraceWriter(git_repo).commit_run(workflow, rid, files, state="running")
    assert str(refused.value) == message
    assert git(git_repo, "branch", "--list", "orch-trace") == ""


def test_invalid_branch_name_is_refused(git_repo: Path) -> None:
    with pytest.raises(TraceError, match="branch name"):
        TraceWriter(git_repo, "bad..name")


def test_writing_from_a_linked_worktree_uses_the_shared_branch(
    git_repo: Path, tmp_path: Path
) -> None:
    linked = tmp_path / "linked"
    git(git_repo, "worktree", "add", "-q", "--detach", str(linked))
    before = git(linked, "status", "--porcelain")
    start_and_end(TraceWriter(linked))
    assert git(git_repo, "rev-parse", "--verify", "orch-trace").strip()
    assert TraceReader(git_repo).read_run(RID)["state"] == "completed"
    assert git(linked, "status", "--porcelain") == before


def test_without_a_home_orchs_own_trace_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown_user(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    with monkeypatch.context() as homeless, pytest.raises(TraceError) as refused:
        homeless.delenv("HOME")
        homeless.setattr(pwd, "getpwuid", unknown_user)
        own_trace_repository()
    assert str(refused.value) == (
        "orch keeps runs of documents outside a git repository under the home folder, "
        "and this user has none: set HOME or XDG_DATA_HOME, or run the document from a "
        "git repository"
    )
