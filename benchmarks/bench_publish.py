"""What publishing one small artifact adds to a run (embedded local store).

Compares, in the same run, ``orch apply`` of a document that produces a small file and
publishes it as an artifact with the same document without the ``artifacts`` declaration.
Target: under 100 ms added. Run: ``.venv/bin/python benchmarks/bench_publish.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = "# Bench\n\n```sh {step=make}\nmkdir -p out && echo hello > out/result.txt\n```\n"
FRONT = "---\nid: {id}\ntitle: Bench\nstatus: approved\n{extra}---\n\n"
ARTIFACT = 'artifacts:\n  - name: result.zip\n    type: generic\n    files: ["out/**"]\n'


def _timed(repo: Path, document: str, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "orchestrator", "apply", document],
            cwd=repo,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    repo = Path(tempfile.mkdtemp(prefix="orch-bench-publish-"))
    try:
        (repo / "intents").mkdir()
        (repo / "intents/plain.md").write_text(FRONT.format(id="plain", extra="") + STEP)
        (repo / "intents/publish.md").write_text(FRONT.format(id="publish", extra=ARTIFACT) + STEP)
        for args in (
            ["init", "-q"],
            ["add", "."],
            ["-c", "user.name=b", "-c", "user.email=b@localhost", "commit", "-qm", "b"],
        ):
            subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
        _timed(repo, "intents/publish.md", 1)  # creates the local store once
        plain = _timed(repo, "intents/plain.md", repeat)
        published = _timed(repo, "intents/publish.md", repeat)
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
        )
        print(f"orch apply without artifacts:     {plain * 1000:8.1f} ms (median of {repeat})")
        print(f"orch apply with one artifact:     {published * 1000:8.1f} ms")
        print(
            f"added by packaging + publishing:  {(published - plain) * 1000:8.1f} ms "
            "(target < 100 ms)"
        )
    finally:
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    main()
