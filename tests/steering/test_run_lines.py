"""``orch schedule`` says when each run starts and ends (state, duration, run id) through the
``orch`` logger, as ``orch serve`` does (see tests/service/test_steering.py)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.conftest import build_file_tree
from tests.core.helpers import document, orch

NIGHTLY = document(
    'id: nightly\ntitle: Nightly\nstatus: approved\non:\n  schedule: "0 2 * * *"\n',
    "# Nightly\n\n```bash {step=work}\necho working\n```\n",
)


def test_schedule_logs_a_line_when_a_run_starts_and_ends(git_repo: Path) -> None:
    build_file_tree(git_repo, {"intents/nightly.md": NIGHTLY})
    when = "2020-06-01T12:00:00Z"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for args in (["add", "-A"], ["commit", "-q", "-m", "nightly"]):
        subprocess.run(["git", *args], cwd=git_repo, env=env, check=True)
    ran = orch(git_repo, "schedule", "--once")
    assert ran.code == 0, ran.stderr
    [run_id] = re.findall(r"run (\d{8}T\d{6}Z-[0-9a-f]{6}) of nightly started", ran.stderr)
    stamp = r"INFO:     \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ orch: "
    assert re.search(
        rf"^{stamp}run {run_id} of nightly started \(schedule by orch schedule\)$",
        ran.stderr,
        re.MULTILINE,
    ), ran.stderr
    assert re.search(
        rf"^{stamp}run {run_id} of nightly ended completed after \d+\.\ds$",
        ran.stderr,
        re.MULTILINE,
    ), ran.stderr
