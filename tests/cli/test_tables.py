"""Tables fit the terminal: at 80 and 120 columns every line of ``orch runs``, ``orch list``
and ``orch dropbox list`` is asserted for a fixed history, store and set of documents."""

# ruff: noqa: E501 - the expected lines are as wide as the terminals they are rendered for

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from orchestrator.cli.tables import Cell, Column, cut_middle, layout
from tests.cli.fixtures import commit_history
from tests.core.helpers import commit_documents, orch

RUNS_120 = [
    "run                      workflow                                         state      trigger   seconds  by",
    "20261125T221501Z-a1b2c3  nightly-database-backup…fication-for-production  completed  schedule   125.50  Ops Scheduler",
    "20261125T221400Z-0f0f0f  deploy                                           failed     manual       3.25  Ann Example",
    "20261125T221300Z-777777  rotate-certificates                              completed  hook         0.50  a-very-l…goes-on",
    "20261125T221200Z-000001  deploy                                           running    api                deploy-bot",
]
RUNS_80 = [
    "run                      workflow                   state      trigger   seconds",
    "20261125T221501Z-a1b2c3  nightly-data…r-production  completed  schedule   125.50",
    "20261125T221400Z-0f0f0f  deploy                     failed     manual       3.25",
    "20261125T221300Z-777777  rotate-certificates        completed  hook         0.50",
    "20261125T221200Z-000001  deploy                     running    api",
]


@pytest.mark.parametrize(("columns", "lines"), [("120", RUNS_120), ("80", RUNS_80)])
def test_runs_fit_the_terminal(git_repo: Path, columns: str, lines: list[str]) -> None:
    commit_history(git_repo)
    ran = orch(git_repo, "runs", env={"COLUMNS": columns})
    assert ran.code == 0, ran.stderr
    assert ran.stdout.splitlines() == lines
    assert max(len(line) for line in lines) <= int(columns)


BACKUP = """---
id: nightly-database-backup-and-verification
title: Back up every production database each night and verify that it restores
status: approved
on:
  paths: ["db/**", "migrations/**"]
---

# Backup

```sh {step=a}
true
```
"""
DEPLOY = "---\nid: deploy\ntitle: Deploy\nstatus: draft\n---\n\n# D\n\n```sh {step=a}\ntrue\n```\n"
LIST_120 = [
    "id                                        title                 status    triggers          path",
    "invalid                                   2:5: inval…last item                              intents/broken.md",
    "deploy                                    Deploy                draft                       intents/deploy.md",
    "nightly-database-backup-and-verification  Back up ev… restores  approved  paths: d…ions/**  intents/platfo…rification.md",
]
LIST_80 = [
    "id                                        status    path",
    "invalid                                             intents/broken.md",
    "deploy                                    draft     intents/deploy.md",
    "nightly-database-backup-and-verification  approved  intents/platfo…rification.md",
]


@pytest.mark.parametrize(("columns", "lines"), [("120", LIST_120), ("80", LIST_80)])
def test_documents_fit_the_terminal(git_repo: Path, columns: str, lines: list[str]) -> None:
    commit_documents(
        git_repo,
        {
            "intents/platform/databases/nightly-database-backup-and-verification.md": BACKUP,
            "intents/deploy.md": DEPLOY,
            "intents/broken.md": "---\nid: [broken\n---\n\n# B\n\n```sh {step=a}\ntrue\n```\n",
        },
    )
    ran = orch(git_repo, "list", env={"COLUMNS": columns})
    assert ran.code == 0, ran.stderr
    assert ran.stdout.splitlines() == lines


def test_artifacts_fit_the_terminal(tmp_path: Path) -> None:
    patch = tmp_path / "release-notes-for-the-platform-baseline-0018-patch-0004-final.zip"
    with zipfile.ZipFile(patch, "w") as archive:
        archive.writestr(zipfile.ZipInfo("a.txt", date_time=(2025, 1, 1, 0, 0, 0)), "x")
    (tmp_path / "a.txt").write_text("x")
    store = str(tmp_path / "store")
    first = orch(
        tmp_path,
        *("dropbox", "push", patch.name, "--type", "delivery-patch", "--root", store),
        *("--project", "platform-services", "--baseline", "18", "--patch", "4"),
        *("--label", "release-candidate-two"),
    ).stdout.strip()
    second = orch(
        tmp_path,
        "dropbox",
        "push",
        "a.txt",
        "--type",
        "generic",
        "--project",
        "web",
        "--root",
        store,
    ).stdout.strip()
    size = patch.stat().st_size
    wide = orch(tmp_path, "dropbox", "list", "--root", store, env={"COLUMNS": "120"})
    assert wide.stdout.splitlines() == [
        "artifactId    type            project       baseline  patch  label         size  file",
        f"{second}  generic         web                                             1  a.txt",
        f"{first}  delivery-patch  platfo…vices  0018      0004   releas…e-two   {size}  "
        "release-notes-for-t…atch-0004-final.zip",
    ]
    narrow = orch(tmp_path, "dropbox", "list", "--root", store, env={"COLUMNS": "80"})
    assert narrow.stdout.splitlines() == [
        "artifactId    type            project       patch  size  file",
        f"{second}  generic         web                     1  a.txt",
        f"{first}  delivery-patch  platfo…vices  0004    {size}  release-not…4-final.zip",
    ]


def test_cut_middle_keeps_both_ends() -> None:
    assert cut_middle("nightly-database-backup", 9) == "nigh…ckup"
    assert cut_middle("nightly-database-backup", 10) == "night…ckup"
    assert cut_middle("short", 5) == "short"
    assert cut_middle("short", 1) == "…"
    assert cut_middle("short", 0) == ""
    # Wide characters take two cells: never more than the width (5 of 7 cells here).
    assert cut_middle("日本語のなまえ", 7) == "日…え"


def test_layout_drops_the_least_important_column_first() -> None:
    columns = [
        Column("id", rank=0),
        Column("name", rank=1, shrink=True, min_width=6),
        Column("note", rank=2, shrink=True, min_width=6),
        Column("blank", rank=3),
    ]
    rows = [[Cell("a1"), Cell("a-rather-long-name"), Cell("a-longer-note-here"), Cell("")]]
    # Natural: 2 + 18 + 18 (+ gaps 4) = 42; the empty column is never shown.
    assert layout(columns, rows, 42) == [2, 18, 18, 0]
    assert layout(columns, rows, 36) == [2, 18, 12, 0]  # the note gives way first
    assert layout(columns, rows, 30) == [2, 18, 6, 0]  # down to its least width
    assert layout(columns, rows, 26) == [2, 14, 6, 0]  # then the name
    assert layout(columns, rows, 15) == [2, 11, 0, 0]  # the note no longer fits: dropped
    assert layout(columns, rows, 5) == [2, 0, 0, 0]
    assert layout(columns, rows, 1) == [1, 0, 0, 0]  # a last column is cut to the width
