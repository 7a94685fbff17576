"""Start-up of the ``orch`` command line: what a person waits for before anything happens.

Wall and CPU time (user and system, git processes included), each the least of ``--repeat``
runs (on a shared machine noise only adds time; the CPU time is the steadier of the two when
other processes compete for the cores):

- ``python -c pass``: the floor every Python command line pays;
- ``import orchestrator.cli``: what the command line imports before it parses arguments, and
  how many modules that process imports in all (``python -X importtime``);
- ``orch --version``, ``orch --help``, ``orch dropbox --help``, ``orch hooks --help``;
- ``orch apply`` of a one-step document (start-up, run and trace commit together).

With ``--baseline DIR`` (another checkout of orch, for example ``git worktree add`` of an
older commit, with its bytecode compiled) every command runs alternately from that checkout
and from this one, so both see the same machine, and both columns are printed.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeat 15] [--baseline DIR]``.
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

ROOT = Path(__file__).resolve().parents[1]
ORCH = [sys.executable, "-m", "orchestrator"]
DOCUMENT = "---\nid: one\ntitle: One\nstatus: approved\n---\n\n# One\n\n```sh {step=s}\ntrue\n```\n"


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _once(command: list[str], cwd: Path, tree: Path) -> tuple[float, float]:
    """(wall, CPU) of one run of ``command`` with orch imported from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        command,
        cwd=cwd,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, _cpu() - cpu


def _modules(cwd: Path, tree: Path) -> int:
    """How many modules a process that imports ``orchestrator.cli`` imports in all."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import orchestrator.cli"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
        capture_output=True,
        text=True,
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="another checkout of orch to compare")
    options = parser.parse_args()
    trees = {"this tree": ROOT}
    if options.baseline is not None:
        trees = {"baseline": options.baseline.resolve(), **trees}
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
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(options.repeat):
            for label, command in cases.items():
                for name, tree in trees.items():
                    samples.setdefault((label, name), []).append(_once(command, repo, tree))
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}; "
            f"least of {options.repeat} runs, wall / CPU"
        )
        print(f"{'':26}" + "".join(f"{name:>22}" for name in trees))
        modules = "".join(f"{_modules(repo, tree):>22}" for tree in trees.values())
        print(f"{'modules imported:':26}{modules}")
        for label in cases:
            cells = []
            for name in trees:
                wall = min(s[0] for s in samples[(label, name)]) * 1000
                cpu = min(s[1] for s in samples[(label, name)]) * 1000
                cells.append(f"{wall:7.1f} / {cpu:5.1f} ms")
            print(f"{label + ':':26}" + "".join(f"{cell:>22}" for cell in cells))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
