"""Start-up of the ``orch`` command line: what a person waits for before anything happens.

Wall and CPU time (user and system, git processes included), each the least of ``--repeat``
runs (on a shared machine noise only adds time; the CPU time is the steadier of the two when
other processes compete for the cores):

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
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORCH = [sys.executable, "-m", "orchestrator"]
DOCUMENT = "---\nid: one\ntitle: One\nstatus: approved\n---\n\n# One\n\n```sh {step=s}\ntrue\n```\n"


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(command: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), _cpu()
        subprocess.run(
            command,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    return min(walls), min(cpus)


def _import_time(cwd: Path, repeat: int) -> tuple[float, int]:
    """The smallest cumulative import time of ``orchestrator.cli`` that -X importtime reports,
    and how many modules the process imports in all."""
    samples, modules = [], 0
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import orchestrator.cli"],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
        )
        lines = [x for x in done.stderr.splitlines() if x.startswith("import time:")]
        line = next(x for x in lines if x.endswith("| orchestrator.cli"))
        samples.append(int(line.split("|")[1]) / 1e6)
        modules = len(lines) - 1  # the first line is the header
    return min(samples), modules


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
        imported, modules = _import_time(repo, repeat)
        print(
            f"{'-X importtime orchestrator.cli:':28} {imported * 1000:8.1f} ms, {modules} modules"
        )
        print(f"{'':28} {'wall':>11} {'cpu':>11}")
        for label, command in cases.items():
            wall, cpu = _timed(command, repo, repeat)
            print(f"{label + ':':28} {wall * 1000:8.1f} ms {cpu * 1000:8.1f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
