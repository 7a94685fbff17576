"""One error handler for the whole command line: the same prefix and the documented exit
codes, whichever command failed (docs/cli.md, "Exit codes")."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest

from orchestrator.cli.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, run_guarded
from tests.core.helpers import orch


def test_every_command_fails_the_same_way(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "a.txt").write_text("x")
    store = str(tmp_path / "store")
    pushed = orch(
        git_repo, "dropbox", "push", "a.txt", "--type", "generic", "--project", "p", "--root", store
    )
    assert pushed.code == 0, pushed.stderr
    artifact = pushed.stdout.strip()
    # A file named on the command line that cannot be written: the work failed (1).
    blocked = orch(git_repo, "dropbox", "get", artifact, "--root", store, "-o", "a.txt/b.txt")
    assert (blocked.code, blocked.stderr) == (1, "orch: File exists: a.txt\n")
    # A value refused before anything was sent: nothing was done (2).
    refused = orch(
        git_repo,
        "dropbox",
        "push",
        "a.txt",
        "--type",
        "nonsense",
        "--project",
        "p",
        "--root",
        store,
    )
    assert refused.code == 2
    assert refused.stderr.startswith("orch: field 'artifactType': ")
    # The same prefix and code for the rest of orch's expected errors.
    unknown = orch(git_repo, "show", "19990101T000000Z-000000")
    assert unknown.code == 2
    assert unknown.stderr.startswith("orch: no run '19990101T000000Z-000000' in the trace")
    assert "Traceback" not in blocked.stderr + refused.stderr + unknown.stderr


def test_a_bug_is_one_line_and_a_saved_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # run_guarded adds its handler of warnings to the logger: only for this test.
    monkeypatch.setattr(logging.getLogger("orch"), "handlers", [])

    def broken() -> None:
        raise RuntimeError("an unforeseen state")

    assert run_guarded(broken) == EXIT_INTERNAL == 70
    message = capsys.readouterr().err
    [saved] = tmp_path.glob("orch-crash-*.log")
    assert message == (
        "orch: internal error (RuntimeError: an unforeseen state). This is a bug in orch; "
        f"the traceback was saved to {saved}\n"
    )
    assert saved.read_text().endswith("RuntimeError: an unforeseen state\n")
    assert "in broken" in saved.read_text()


def test_ctrl_c_outside_a_run_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logging.getLogger("orch"), "handlers", [])

    def interrupted() -> None:
        raise KeyboardInterrupt

    assert run_guarded(interrupted) == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "orch: interrupted by Ctrl-C\n"
