"""Schedulers on different hosts (clones) that push one trace remote run a cron time once."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from orchestrator import api
from orchestrator.trace import TraceWriter
from orchestrator.trace import claims as remote_claims
from tests.conftest import git
from tests.core.helpers import document
from tests.schedule.test_schedule_cli import (
    AT,
    BODY,
    NEW_YEAR,
    _commit_long_ago,
    _front,
    _scheduled_runs,
)

NOW = datetime.fromisoformat(AT)
CLAIMED = NEW_YEAR.replace("-", "").replace(":", "")


def _claims_on(remote: Path) -> list[str]:
    listed = git(remote, "ls-remote", str(remote), "refs/orch/claims/*")
    return [line.split("\t")[1] for line in listed.splitlines()]


@pytest.fixture
def hosts(git_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two clones of a repository with a due yearly document, and a bare trace remote."""
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), BODY)})
    other = tmp_path / "other-host"
    subprocess.run(["git", "clone", "-q", str(git_repo), str(other)], check=True)
    remote = tmp_path / "trace-remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    return git_repo, other, remote


def test_a_cron_time_claimed_by_one_host_is_skipped_by_the_other(
    hosts: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, remote = hosts
    monkeypatch.setenv("ORCH_TRACE_REMOTE", str(remote))

    ran = api.schedule_once(first, NOW)
    assert ran.problems == [] and [r.state.value for r in ran.records] == ["completed"]
    claim = f"refs/orch/claims/yearly/{CLAIMED}"
    assert _claims_on(remote) == [claim]
    message = git(remote, "log", "-1", "--format=%B", claim)
    assert "Scheduled run of intents/yearly.md" in message and "Host: " in message

    # The second host has not fetched the trace: only the remote claim stops it.
    assert _scheduled_runs(second) == []
    skipped = api.schedule_once(second, NOW)
    assert (skipped.records, skipped.problems) == ([], [])
    assert _scheduled_runs(second) == []
    assert [r["trigger"]["cron_time"] for r in _scheduled_runs(first)] == [NEW_YEAR]


def test_an_unreachable_remote_runs_nothing_and_a_later_pass_runs_the_time(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _commit_long_ago(git_repo, {"intents/yearly.md": document(_front(), BODY)})
    remote = tmp_path / "not-yet.git"
    monkeypatch.setenv("ORCH_TRACE_REMOTE", str(remote))

    failed = api.schedule_once(git_repo, NOW)
    assert failed.records == [] and len(failed.problems) == 1
    assert "could not claim" in failed.problems[0] and str(remote) in failed.problems[0]
    assert _scheduled_runs(git_repo) == []

    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    ran = api.schedule_once(git_repo, NOW)
    assert ran.problems == [] and [r.state.value for r in ran.records] == ["completed"]
    assert len(_claims_on(remote)) == 1


def test_claims_a_week_older_than_the_newest_run_are_pruned(
    hosts: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, remote = hosts
    head = git(first, "rev-parse", "HEAD").strip()
    for name in ("20200101T000000Z", "29991231T000000Z"):
        git(first, "push", "-q", str(remote), f"{head}:refs/orch/claims/yearly/{name}")
    git(first, "push", "-q", str(remote), f"{head}:refs/orch/claims/other/20200101T000000Z")
    monkeypatch.setenv("ORCH_TRACE_REMOTE", str(remote))

    assert [r.state.value for r in api.schedule_once(first, NOW).records] == ["completed"]
    assert sorted(_claims_on(remote)) == [
        "refs/orch/claims/other/20200101T000000Z",
        f"refs/orch/claims/yearly/{CLAIMED}",
        "refs/orch/claims/yearly/29991231T000000Z",
    ]


def test_a_claim_is_taken_once_even_by_the_same_process_in_the_same_second(
    git_repo: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    writer = TraceWriter(git_repo, remote=str(remote))
    taken = [remote_claims.claim(writer, "deploy", "20261126T000000Z", "test") for _ in range(3)]
    assert taken == [True, False, False]
    assert _claims_on(remote) == ["refs/orch/claims/deploy/20261126T000000Z"]
