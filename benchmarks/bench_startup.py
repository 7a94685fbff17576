"""Start-up of the ``orch`` command line: what a person waits for before anything happens.

Times, each the fastest of ``--repeat`` runs (on a shared machine noise only adds time):

- ``python -c pass``: the floor every Python command line pays;
- ``import orchestrator.cli``: what the command line imports before it parses arguments,
  as a process and as ``python -X importtime`` counts it (the module's cumulative time);
- ``orch --version``, ``orch --help``, ``orch dropbox --help``, ``orch hooks --help``;
- ``orch apply`` of a one-step document (start-up, run and trace commit together).

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeat 15]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORCH = [sys.executable, "-m", "orchestrator"]
DOCUMENT = "---\nid: one\ntitle: One\nstatus: approved\n---\n\n# One\n\n```sh {step=s}\ntrue\n```\n"


def _timed(command: list[str], cwd: Path, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            command,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        samples.append(time.perf_counter() - started)
    return min(samples)


def _import_time(cwd: Path, repeat: int) -> float:
    """The smallest cumulative import time of ``orchestrator.cli`` that -X importtime reports."""
    samples = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import orchestrator.cli"],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
        )
        line = next(x for x in done.stderr.splitlines() if x.endswith("| orchestrator.cli"))
        samples.append(int(line.split("|")[1]) / 1e6)
    return min(samples)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    scratch = Path(tempfile.mkdtemp(prefix="orch-bench-startup-"))
    try:
        repo = scratch / "repo"
        (repo / "intents").mkdir(parents=True)
        (repo / "intents/one.md").write_text(DOCUMENT)
        _git(repo, "init", "-q")
        _git(repo, "add", ".")
        _git(repo, "-c", "user.name=b", "-c", "user.email=b@localhost", "commit", "-qm", "b")
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import orchestrator.cli": [sys.executable, "-c", "import orchestrator.cli"],
            "orch --version": [*ORCH, "--version"],
            "orch --help": [*ORCH, "--help"],
            "orch dropbox --help": [*ORCH, "dropbox", "--help"],
            "orch hooks --help": [*ORCH, "hooks", "--help"],
            "orch apply, 1 step": [*ORCH, "apply", "intents/one.md"],
        }
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
        )
        imported = _import_time(repo, repeat)
        print(f"{'-X importtime orchestrator.cli:':28} {imported * 1000:8.1f} ms")
        for label, command in cases.items():
            print(f"{label + ':':28} {_timed(command, repo, repeat) * 1000:8.1f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
