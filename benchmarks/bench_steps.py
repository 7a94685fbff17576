"""orch's overhead per step, and the wall time of ``orch apply`` on a one-step document.

Both are compared, in the same run, with doing the same work without orch:

- per step: a document of N ``sh`` steps against a shell script that spawns ``sh -e`` on the
  same N step files; overhead per step = (orch(N) - orch(1)) / (N - 1) minus the same
  difference for the plain script, so interpreter start-up cancels out;
- one step: ``orch apply`` of a one-step document, against ``python -c pass`` (the floor any
  Python command line pays) and against the plain shell doing the step.

Each figure is the fastest of ``--repeat`` runs: on a shared machine, noise only adds time.

Run: ``.venv/bin/python benchmarks/bench_steps.py [--steps 200] [--repeat 5]``.
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

ROOT = Path(__file__).resolve().parents[1]
ORCH = [sys.executable, "-m", "orchestrator"]


def _document(steps: int) -> str:
    blocks = "\n".join(f"```sh {{step=s{i}}}\ntrue\n```\n" for i in range(steps))
    return f"---\nid: bench-{steps}\ntitle: Bench\nstatus: approved\n---\n\n# Bench\n\n{blocks}"


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
    # The fastest run: start-up time on a shared machine only ever adds noise upwards.
    return min(samples)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    n = options.steps
    scratch = Path(tempfile.mkdtemp(prefix="orch-bench-steps-"))
    try:
        repo = scratch / "repo"
        (repo / "intents").mkdir(parents=True)
        (repo / "intents/one.md").write_text(_document(1))
        (repo / "intents/many.md").write_text(_document(n))
        step_files = []
        for i in range(n):
            step = scratch / f"step{i}.sh"
            step.write_text("true\n")
            step_files.append(str(step))
        script_one = scratch / "one.sh"
        script_one.write_text(f"sh -e {step_files[0]}\n")
        script_many = scratch / "many.sh"
        script_many.write_text("".join(f"sh -e {f}\n" for f in step_files))
        _git(repo, "init", "-q")
        _git(repo, "add", ".")
        _git(
            repo,
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "-q",
            "-m",
            "bench",
        )
        env_note = os.environ.get("ORCH_BENCH_NOTE", "")

        orch_one = _timed([*ORCH, "apply", "intents/one.md"], repo, options.repeat)
        orch_many = _timed([*ORCH, "apply", "intents/many.md"], repo, options.repeat)
        shell_one = _timed(["sh", str(script_one)], repo, options.repeat)
        shell_many = _timed(["sh", str(script_many)], repo, options.repeat)
        python_floor = _timed([sys.executable, "-c", "pass"], repo, options.repeat)
        orch_version = _timed([*ORCH, "--version"], repo, options.repeat)

        orch_per_step = (orch_many - orch_one) / (n - 1)
        shell_per_step = (shell_many - shell_one) / (n - 1)
        overhead = orch_per_step - shell_per_step
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f} {env_note}"
        )
        print(f"orch apply, {n} steps:           {orch_many * 1000:8.1f} ms")
        print(f"orch apply, 1 step:              {orch_one * 1000:8.1f} ms   (target < 500 ms)")
        print(f"plain shell, {n} steps:          {shell_many * 1000:8.1f} ms")
        print(f"plain shell, 1 step:             {shell_one * 1000:8.1f} ms")
        print(f"python -c pass:                  {python_floor * 1000:8.1f} ms")
        print(f"orch --version:                  {orch_version * 1000:8.1f} ms")
        print(f"per step: orch {orch_per_step * 1000:.2f} ms, shell {shell_per_step * 1000:.2f} ms")
        print(f"orch overhead per step:          {overhead * 1000:8.2f} ms   (target <= 5 ms)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
