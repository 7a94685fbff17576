"""The due rule, with fixed clocks: pure cron arithmetic, then against real repositories."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator import document
from orchestrator.api.recording_runs import trace_reader
from orchestrator.api.scheduling import asks_for_schedule, due_runs
from orchestrator.api.workspace import locate
from orchestrator.schedule import due_time, iso_utc, next_run
from tests.conftest import build_file_tree
from tests.core.helpers import document as make_document


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_schedule_added_in_the_afternoon_waits_for_the_night() -> None:
    changed = at("2026-03-10T15:00:00")
    assert (
        due_time(
            ["0 2 * * *"], "UTC", at("2026-03-10T15:00:00"), changed_at=changed, last_cron_time=None
        )
        is None
    )
    assert (
        due_time(
            ["0 2 * * *"], "UTC", at("2026-03-11T01:59:59"), changed_at=changed, last_cron_time=None
        )
        is None
    )
    found = due_time(
        ["0 2 * * *"], "UTC", at("2026-03-11T02:00:00"), changed_at=changed, last_cron_time=None
    )
    assert found == ("0 2 * * *", at("2026-03-11T02:00:00"))


def test_missed_days_give_one_catch_up_at_the_latest_time() -> None:
    found = due_time(
        ["0 2 * * *"],
        "UTC",
        at("2026-03-15T09:30:00"),
        changed_at=at("2026-03-01T12:00:00"),
        last_cron_time=at("2026-03-11T02:00:00"),
    )
    assert found == ("0 2 * * *", at("2026-03-15T02:00:00"))


def test_a_recorded_cron_time_is_not_due_again() -> None:
    last = at("2026-03-11T02:00:00")
    assert (
        due_time(
            ["0 2 * * *"],
            "UTC",
            at("2026-03-11T08:00:00"),
            changed_at=at("2026-03-01T00:00:00"),
            last_cron_time=last,
        )
        is None
    )
    assert due_time(
        ["0 2 * * *"],
        "UTC",
        at("2026-03-12T02:00:00"),
        changed_at=at("2026-03-01T00:00:00"),
        last_cron_time=last,
    ) == ("0 2 * * *", at("2026-03-12T02:00:00"))


def test_times_are_read_in_the_documents_time_zone() -> None:
    changed = at("2026-01-10T12:00:00")
    # 02:00 in Berlin is 01:00 UTC in winter.
    assert (
        due_time(
            ["0 2 * * *"],
            "Europe/Berlin",
            at("2026-01-11T00:59:00"),
            changed_at=changed,
            last_cron_time=None,
        )
        is None
    )
    found = due_time(
        ["0 2 * * *"],
        "Europe/Berlin",
        at("2026-01-11T01:00:00"),
        changed_at=changed,
        last_cron_time=None,
    )
    assert found is not None and iso_utc(found[1]) == "2026-01-11T01:00:00Z"
    # and 00:00 UTC in summer
    found = due_time(
        ["0 2 * * *"],
        "Europe/Berlin",
        at("2026-07-11T00:30:00"),
        changed_at=changed,
        last_cron_time=None,
    )
    assert found is not None and iso_utc(found[1]) == "2026-07-11T00:00:00Z"


def test_the_latest_of_several_expressions_wins() -> None:
    expressions = ["0 2 * * *", "30 12 * * 1-5"]
    found = due_time(
        expressions,
        "UTC",
        at("2026-03-11T13:00:00"),  # a Wednesday
        changed_at=at("2026-03-01T00:00:00"),
        last_cron_time=None,
    )
    assert found == ("30 12 * * 1-5", at("2026-03-11T12:30:00"))
    found = due_time(
        expressions,
        "UTC",
        at("2026-03-14T13:00:00"),  # a Saturday
        changed_at=at("2026-03-01T00:00:00"),
        last_cron_time=None,
    )
    assert found == ("0 2 * * *", at("2026-03-14T02:00:00"))


FRONT = """
id: nightly
title: Nightly
status: {status}
on:
  schedule: {schedule}
  timezone: {timezone}
"""
BODY = "# Nightly\n\n```bash {step=hello}\necho hello\n```\n"


def _commit_at(repo: Path, when: str, files: dict[str, str]) -> None:
    build_file_tree(repo, files)
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for args in (["add", "-A"], ["commit", "-q", "-m", "schedule"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)


def _due(repo: Path, now: str) -> list[tuple[str, str]]:
    place = locate(repo)
    docs = [document.load(p) for p in document.discover(repo, place.settings.intents)]
    found = due_runs(place.root, docs, trace_reader(place), at(now))
    return [(d.workflow_id, d.cron_time) for d in found]


def _write(
    repo: Path,
    when: str,
    *,
    status: str = "approved",
    schedule: str = '"0 2 * * *"',
    timezone: str = "UTC",
) -> None:
    front = FRONT.format(status=status, schedule=schedule, timezone=timezone)
    _commit_at(repo, when, {"intents/nightly.md": make_document(front, BODY)})


def test_the_commit_that_changed_the_document_sets_the_floor(git_repo: Path) -> None:
    _write(git_repo, "2026-03-10T15:00:00Z")
    assert _due(git_repo, "2026-03-10T15:00:00") == []
    assert _due(git_repo, "2026-03-11T01:00:00") == []
    assert _due(git_repo, "2026-03-11T02:00:30") == [("nightly", "2026-03-11T02:00:00Z")]
    assert _due(git_repo, "2026-03-20T09:00:00") == [("nightly", "2026-03-20T02:00:00Z")]
    # Changing the document again moves the floor.
    _write(git_repo, "2026-03-20T10:00:00Z", schedule='["0 2 * * *", "0 3 * * *"]')
    assert _due(git_repo, "2026-03-20T11:00:00") == []
    assert _due(git_repo, "2026-03-21T03:10:00") == [("nightly", "2026-03-21T03:00:00Z")]


@pytest.mark.parametrize("status", ["draft", "in_review", "rejected"])
def test_only_approved_documents_are_due(git_repo: Path, status: str) -> None:
    _write(git_repo, "2026-03-10T15:00:00Z", status=status)
    assert _due(git_repo, "2026-03-12T03:00:00") == []


def test_uncommitted_documents_are_never_due(git_repo: Path) -> None:
    front = FRONT.format(status="approved", schedule='"0 2 * * *"', timezone="UTC")
    build_file_tree(git_repo, {"intents/nightly.md": make_document(front, BODY)})
    assert _due(git_repo, "2030-01-01T03:00:00") == []


def test_next_run_is_the_next_cron_time_in_utc(git_repo: Path) -> None:
    _write(git_repo, "2026-03-10T15:00:00Z", timezone="America/New_York")
    doc = document.load(git_repo / "intents/nightly.md")
    moment = next_run(doc, at("2026-03-10T15:00:00"))
    assert moment is not None and iso_utc(moment) == "2026-03-11T06:00:00Z"


@pytest.mark.parametrize(
    ("front", "asks"),
    [
        ("status: approved\non:\n  schedule: '0 2 * * *'\n", True),
        ('status: "approved"\non: {schedule: "0 2 * * *"}\n', True),
        ("status: approved  # ok\r\non:\r\n  schedule:\r\n    - '0 2 * * *'\r\n", True),
        ("status: draft\non:\n  schedule: '0 2 * * *'\n", False),
        ("status: approved\non:\n  paths: [src/**]\n", False),
        ("status: approved\ndescription: runs on no schedule: by hand\n", True),
    ],
)
def test_which_unreadable_documents_the_scheduler_reports(front: str, asks: bool) -> None:
    """An invalid document is reported by the scheduler when its front matter, read as text,
    is approved and has a schedule key (a false alarm only costs a message about a document
    that is invalid anyway)."""
    text = f"---\n{front}---\n\n# Title\n"
    assert asks_for_schedule(text) is asks
