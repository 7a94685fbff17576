"""One error handler for the whole command line: the same prefix and the documented exit
codes, whichever command failed (docs/cli.md, "Exit codes")."""

from __future__ import annotations

from pathlib import Path

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
