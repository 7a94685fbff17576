"""Schedules that could never run are refused where they are written, and reported where
they would run: ``orch validate``, the pre-commit hook, ``orch schedule --once`` and
``orch list``, each with the document line and the fix.

A document can reach the scheduler unchecked (committed with ``--no-verify``, before this
check existed, or on a host whose zone database knows a zone this one lacks): then
``orch schedule --once`` names it and exits 2 instead of saying "nothing is due".
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator import api
from orchestrator.schedule import ScheduleProblem, cron_problem, next_time, zone_problem
from tests.conftest import build_file_tree, git
from tests.core.helpers import document, orch
from tests.hooks.helpers import commit, head, installed, stage

FRONT = """
id: {id}
title: Nightly
status: {status}
on:
  schedule: {schedule}
  timezone: {timezone}
"""
BODY = "# Nightly\n\n```bash {step=work}\ntrue\n```\n"
PATH = "intents/nightly.md"

# (schedule as written in YAML, time zone, the one message orch gives with its position)
BAD = [
    pytest.param(
        '"0 25 * * *"',
        "Europe/Berlin",
        "6:13: on.schedule: '0 25 * * *' cannot be read: hour '25' is not valid: hours are 0-23",
        id="hour-25",
    ),
    pytest.param(
        '"99 99 * * *"',
        "Europe/Berlin",
        "6:13: on.schedule: '99 99 * * *' cannot be read: minute '99' is not valid: minutes "
        "are 0-59; hour '99' is not valid: hours are 0-23",
        id="99-99",
    ),
    pytest.param(
        '"*/0 * * * *"',
        "Europe/Berlin",
        "6:13: on.schedule: '*/0 * * * *' cannot be read: minute '*/0' steps by 0: a step "
        "after '/' is 1 or more",
        id="step-0",
    ),
    pytest.param(
        '"*/0"',
        "Europe/Berlin",
        "6:13: on.schedule: '*/0' has 1 fields: a cron expression has 5 (minute hour day "
        "month weekday)",
        id="one-field",
    ),
    pytest.param(
        '"0 0 31 2 *"',
        "Europe/Berlin",
        "6:13: on.schedule: '0 0 31 2 *' never fires: day of month '31' does not occur in "
        "month '2'",
        id="february-31",
    ),
    pytest.param(
        '["0 2 * * *", "0 0 30 2 *"]',
        "Europe/Berlin",
        "6:27: on.schedule: '0 0 30 2 *' never fires: day of month '30' does not occur in "
        "month '2'",
        id="second-of-a-list",
    ),
    pytest.param(
        '"R 2 * * *"',
        "Europe/Berlin",
        "6:13: on.schedule: 'R 2 * * *' lets the scheduler pick a time ('R': H and R are "
        "hashed and random values): write the minute and hour it should run",
        id="random",
    ),
    pytest.param(
        '"0 2 * * *"',
        "Europe/Berln",
        "7:13: on.timezone: unknown time zone 'Europe/Berln': did you mean 'Europe/Berlin'?",
        id="zone-typo",
    ),
    pytest.param(
        '"0 2 * * *"',
        "europe/berlin",
        "7:13: on.timezone: unknown time zone 'europe/berlin': did you mean 'Europe/Berlin'?",
        id="zone-case",
    ),
    pytest.param(
        '"0 2 * * *"',
        "../../../etc/passwd",
        "7:13: on.timezone: unknown time zone '../../../etc/passwd': use an IANA name such as "
        "'Europe/Berlin'",
        id="zone-path",
    ),
]


def _text(schedule: str, timezone: str, *, workflow: str = "nightly") -> str:
    front = FRONT.format(id=workflow, status="approved", schedule=schedule, timezone=timezone)
    return document(front, BODY)


def _commit_unchecked(
    repo: Path, files: dict[str, str], when: str = "2026-06-01T12:00:00Z"
) -> None:
    """Commit as a repository without orch's hooks would (or ``git commit --no-verify``)."""
    build_file_tree(repo, files)
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for args in (["add", "-A"], ["commit", "-q", "--no-verify", "-m", "schedules"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)


@pytest.mark.parametrize(("schedule", "timezone", "message"), BAD)
def test_orch_validate_names_the_line_and_the_fix(
    git_repo: Path, schedule: str, timezone: str, message: str
) -> None:
    build_file_tree(git_repo, {PATH: _text(schedule, timezone)})
    ran = orch(git_repo, "validate")
    assert ran.code == 1, ran.stderr
    assert ran.stdout.splitlines() == [f"{PATH}:{message}"]


@pytest.mark.parametrize(("schedule", "timezone", "message"), BAD)
def test_the_pre_commit_hook_blocks_it(
    git_repo: Path, schedule: str, timezone: str, message: str
) -> None:
    installed(git_repo)
    before = head(git_repo)
    stage(git_repo, {PATH: _text(schedule, timezone)})
    blocked = commit(git_repo, "-m", "a schedule")
    assert blocked.returncode == 1
    assert f"{PATH}:{message}" in blocked.stderr.splitlines()
    assert "commit blocked" in blocked.stderr
    assert head(git_repo) == before


@pytest.mark.parametrize(("schedule", "timezone", "message"), BAD)
def test_orch_schedule_reports_what_slipped_through_and_exits_2(
    git_repo: Path, schedule: str, timezone: str, message: str
) -> None:
    _commit_unchecked(git_repo, {PATH: _text(schedule, timezone)})
    ran = orch(git_repo, "schedule", "--once", "--at", "2026-06-05T03:00:00Z")
    assert ran.code == 2, ran.stderr
    assert ran.stderr.splitlines() == [
        f"not scheduled: {PATH}:{message}",
        "a scheduled document cannot be evaluated: it never runs until it is fixed",
    ]
    assert "nothing is due" not in ran.stderr


@pytest.mark.parametrize(("schedule", "timezone", "message"), BAD)
def test_orch_list_reports_it(git_repo: Path, schedule: str, timezone: str, message: str) -> None:
    _commit_unchecked(git_repo, {PATH: _text(schedule, timezone)})
    ran = orch(git_repo, "list", "--json")
    assert ran.code == 0, ran.stderr
    [row] = ran.json()
    assert (row["id"], row["next_run"]) == (None, None)
    assert row["problems"] == [f"{PATH}:{message}"]


def test_orch_lists_the_problem_in_its_table(git_repo: Path) -> None:
    _commit_unchecked(git_repo, {PATH: _text('"0 2 * * *"', "Europe/Berln")})
    table = orch(git_repo, "list")
    assert table.code == 0, table.stderr
    assert "invalid" in table.stdout
    assert "on.timezone: unknown time zone 'Europe/Berln'" in " ".join(table.stdout.split())


def test_the_other_documents_still_run_and_the_exit_code_is_2(git_repo: Path) -> None:
    _commit_unchecked(
        git_repo,
        {
            PATH: _text('"0 2 * * *"', "Europe/Berln"),
            "intents/hourly.md": _text('"0 * * * *"', "Europe/Berlin", workflow="hourly"),
        },
    )
    ran = orch(git_repo, "schedule", "--once", "--at", "2026-06-05T03:00:30Z")
    assert ran.code == 2, ran.stderr
    runs = api.runs(git_repo, limit=10)
    assert [(r["workflow"]["id"], r["state"], r["trigger"]["cron_time"]) for r in runs] == [
        ("hourly", "completed", "2026-06-05T03:00:00Z")
    ]
    assert (
        f"not scheduled: {PATH}:7:13: on.timezone: unknown time zone 'Europe/Berln': did you "
        "mean 'Europe/Berlin'?"
    ) in ran.stderr.splitlines()


def test_drafts_and_documents_without_a_schedule_are_not_the_schedulers_business(
    git_repo: Path,
) -> None:
    draft = FRONT.format(id="nightly", status="draft", schedule='"0 25 * * *"', timezone="UTC")
    broken = document("id: other\ntitle: Other\nstatus: approved\ncolour: blue\n", BODY)
    _commit_unchecked(git_repo, {PATH: document(draft, BODY), "intents/other.md": broken})
    ran = orch(git_repo, "schedule", "--once", "--at", "2026-06-05T03:00:00Z")
    assert ran.code == 0, ran.stderr
    assert ran.stderr.strip() == "nothing is due"


def test_a_scheduled_document_broken_elsewhere_is_reported(
    git_repo: Path,
) -> None:
    front = FRONT.format(id="nightly", status="approved", schedule='"0 2 * * *"', timezone="UTC")
    _commit_unchecked(git_repo, {PATH: document(front + "colour: blue\n", BODY)})
    ran = orch(git_repo, "schedule", "--once", "--at", "2026-06-05T03:00:00Z")
    assert ran.code == 2, ran.stderr
    assert ran.stderr.splitlines()[0].startswith(
        f"not scheduled: {PATH}:8:1: unknown key 'colour' in the front matter"
    )


def test_orch_schedule_at_refuses_a_time_to_come(git_repo: Path) -> None:
    _commit_unchecked(git_repo, {PATH: _text('"0 2 * * *"', "UTC")})
    ran = orch(git_repo, "schedule", "--once", "--at", "2999-01-01T00:00:00Z")
    assert ran.code == 2
    assert ran.stderr.strip() == (
        "orch: --at 2999-01-01T00:00:00Z is later than now: a scheduled run is for a time "
        "that has come"
    )
    assert orch(git_repo, "schedule", "--once", "--at", "yesterday").stderr.strip() == (
        "orch: --at 'yesterday' is not a time: write ISO 8601, e.g. 2026-10-25T01:00:00Z"
    )
    alone = orch(git_repo, "schedule", "--at", "2026-01-01T00:00:00Z")
    assert (alone.code, alone.stderr.strip()) == (
        2,
        "orch: --at goes with --once: orch schedule --once --at TIME",
    )
    assert git(git_repo, "branch", "--list", "orch-trace") == ""


# --- the rules themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("@hourly", None),
        ("@daily", None),
        ("0 0 29 2 *", None),  # leap days fire
        ("0 0 L 2 *", None),
        ("0 0 31 2 1", None),  # Vixie: a day of month OR a day of week
        ("0 0 * 2 MON#5", None),  # rare (2044), but it fires
        ("0 0 * * 7", None),
        ("*/60 * * * *", None),
        (
            "@reboot",
            "is not a cron macro: use one of @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight, @hourly or five fields",
        ),
        ("* * * * * *", "has 6 fields: a cron expression has 5 (minute hour day month weekday)"),
        (
            "0 0 * * 8",
            "cannot be read: day of week '8' is not valid: days of the week are 0-7 "
            "(0 and 7 are Sunday) or SUN-SAT",
        ),
        (
            "0 0 0 * *",
            "cannot be read: day of month '0' is not valid: days of the month are 1-31 or L",
        ),
        ("0 0 * 13 *", "cannot be read: month '13' is not valid: months are 1-12 or JAN-DEC"),
        ("0 2/0 * * *", "cannot be read: hour '2/0' steps by 0: a step after '/' is 1 or more"),
        (
            "0 0 31 4,6,9,11 *",
            "never fires: day of month '31' does not occur in month '4,6,9,11'",
        ),
        (
            "0 H * * *",
            "lets the scheduler pick a time ('H': H and R are hashed and random "
            "values): write the minute and hour it should run",
        ),
        ("0 0 * * $(id)", "has characters a cron field cannot contain"),
    ],
)
def test_cron_expressions(expression: str, problem: str | None) -> None:
    assert cron_problem(expression) == problem


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("UTC", None),
        ("Europe/Berlin", None),
        ("America/Argentina/Buenos_Aires", None),
        ("Etc/GMT+5", None),
        ("utc", "unknown time zone 'utc': did you mean 'UTC'?"),
        ("Europe/Berlin ", "unknown time zone 'Europe/Berlin ': did you mean 'Europe/Berlin'?"),
        (
            "right/Europe/Berlin",
            "unknown time zone 'right/Europe/Berlin': did you mean 'Europe/Berlin'?",
        ),
        (
            "/usr/share/zoneinfo/UTC",
            "unknown time zone '/usr/share/zoneinfo/UTC': did you mean 'UTC'?",
        ),
        (
            "Mars/Olympus_Mons",
            "unknown time zone 'Mars/Olympus_Mons': use an IANA name such as 'Europe/Berlin'",
        ),
        (
            "localtime",
            "time zone 'localtime' means whatever this host is set to: name the "
            "zone, e.g. 'Europe/Berlin'",
        ),
    ],
)
def test_time_zones(name: str, problem: str | None) -> None:
    assert zone_problem(name) == problem


def test_evaluating_a_bad_schedule_raises_the_same_reason() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(ScheduleProblem) as raised:
        next_time("0 2 * * *", "Europe/Berln", now)
    assert str(raised.value) == "unknown time zone 'Europe/Berln': did you mean 'Europe/Berlin'?"
    with pytest.raises(ScheduleProblem) as raised:
        next_time("0 0 31 2 *", "UTC", now)
    assert str(raised.value) == (
        "'0 0 31 2 *' never fires: day of month '31' does not occur in month '2'"
    )


def test_orch_schedule_at_refuses_a_time_before_1970(git_repo: Path) -> None:
    _commit_unchecked(git_repo, {PATH: _text('"0 2 * * *"', "UTC")})
    ran = orch(git_repo, "schedule", "--once", "--at", "0001-01-01T00:00:00Z")
    assert (ran.code, ran.stderr.strip()) == (
        2,
        "orch: --at 0001-01-01T00:00:00Z is before 1970: name a time since",
    )


def test_the_foreground_scheduler_reports_a_problem_when_first_seen(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.api import scheduling

    _commit_unchecked(git_repo, {PATH: _text('"0 2 * * *"', "Europe/Berln")})
    passes: list[scheduling.SchedulePass] = []
    stop = threading.Event()
    real_pass = scheduling.schedule_once

    def counted(*args: Any, **kwargs: Any) -> scheduling.SchedulePass:
        passes.append(real_pass(*args, **kwargs))
        if len(passes) == 3:
            stop.set()
        return passes[-1]

    monkeypatch.setattr(scheduling, "schedule_once", counted)
    monkeypatch.setattr(scheduling, "MAX_SLEEP_SECONDS", 0.01)
    notes: list[str] = []
    scheduling.schedule_forever(git_repo, stop, notify=notes.append)
    assert [len(p.unevaluated) for p in passes] == [1, 1, 1]
    assert notes == [
        f"not scheduled: {PATH}:7:13: on.timezone: unknown time zone 'Europe/Berln': did you "
        "mean 'Europe/Berlin'?"
    ]


def test_orch_list_reports_a_schedule_that_validated_but_cannot_be_evaluated(
    git_repo: Path,
) -> None:
    """Validation and evaluation use the same rules; should they ever disagree (a zone
    database changed under a running process), the listing says so instead of a blank."""
    from orchestrator import document as documents

    parsed = documents.parse(_text('"0 2 * * *"', "Europe/Berlin"), git_repo / PATH)
    assert parsed.triggers is not None
    broken = dataclasses.replace(
        parsed, triggers=dataclasses.replace(parsed.triggers, timezone="Europe/Berln")
    )
    row = api.summary(api.FoundDocument(path=git_repo / PATH, document=broken))
    assert row["next_run"] is None
    assert row["problems"] == [
        f"{git_repo / PATH}:5:1: on.schedule cannot be evaluated: unknown time zone "
        "'Europe/Berln': did you mean 'Europe/Berlin'?"
    ]
