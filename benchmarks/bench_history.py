"""Listing history: ``orch runs`` and ``orch show`` over 5,000 runs against a small trace.

Builds two repositories with a trace branch: one with a single run, one with ``--runs``
(default 5,000) runs over 10 workflows, committed in bulk through ``TraceWriter`` and packed
as a long-lived trace would be. Then times the real command line (a new process each time,
the fastest of ``--repeat``) and its peak resident memory:

- ``orch runs --json -n 100000`` (every run as JSON; target: under 1 s and 100 MB);
- ``orch runs -n 100000`` (every run as a table);
- ``orch runs`` (the default 20) and ``orch show RUN`` (the latest run) over 5,000 runs against
  the same commands over an empty trace (``orch runs``) or a one-run trace (``orch show``,
  which needs a run to show); target: within 1.2 times.

Run: ``.venv/bin/python benchmarks/bench_history.py [--runs 5000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.trace import RunFiles, TraceWriter, encode_record

ORCH = [sys.executable, "-m", "orchestrator"]
# Measures one command as its parent sees it after waiting: wall time, CPU time (user and
# system, the git processes it waited for included) and peak RSS (the largest of them).
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL,"
    " stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)\n"
    "wall = time.perf_counter() - start\n"
    "used = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(wall, used.ru_utime + used.ru_stime, used.ru_maxrss)\n"
)


def record(workflow: str, run_id: str, n: int) -> dict[str, object]:
    at = f"2026-11-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}.000Z"
    return {
        "schema": 1,
        "run_id": run_id,
        "workflow": {
            "id": workflow,
            "title": f"The {workflow} workflow",
            "owner": "ops",
            "status": "approved",
            "publication": "required",
        },
        "document": {
            "path": f"intents/{workflow}.md",
            "commit": "c" * 40,
            "blob": "b" * 40,
            "dirty": False,
        },
        "trigger": {
            "source": "schedule",
            "actor": "Ops Robot <ops@example.invalid>",
            "host": "build-01",
            "pid": 4000 + n,
            "pid_started": None,
            "orch_version": "0.1.0",
            "cron_time": at,
        },
        "inputs": {"environment": "production", "version": f"1.{n % 40}.{n % 7}"},
        "inputs_digest": "sha256:" + "d" * 64,
        "workspace": {"kind": "worktree", "commit": "c" * 40, "dirty": False},
        "state": "failed" if n % 13 == 0 else "completed",
        "transitions": [{"state": "running", "at": at}, {"state": "completed", "at": at}],
        "started_at": at,
        "ended_at": at,
        "steps": [
            {
                "name": f"step-{i}",
                "kind": "script",
                "section": "Build",
                "line": 10 + i,
                "state": "completed",
                "attempts": 1,
                "started_at": at,
                "ended_at": at,
                "exit_code": 0,
                "outputs": {"digest": "e" * 16},
                "log": f"logs/0{i}-step-{i}.log",
            }
            for i in range(5)
        ],
        "artifacts": [],
        "error": None,
        "duration_seconds": 12.5,
    }


def run_id(n: int) -> str:
    day, rest = divmod(n, 86400)
    return f"202611{day + 1:02d}T{rest // 3600:02d}{rest // 60 % 60:02d}{rest % 60:02d}Z-{n:06x}"


def make_repo(root: Path, runs: int) -> None:
    root.mkdir(parents=True)
    for args in (
        ["init", "-q"],
        ["config", "gc.autoDetach", "false"],
        [
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@localhost",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "start",
        ],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    if not runs:
        return
    writer = TraceWriter(root)
    batch: list[RunFiles] = []
    for n in range(runs):
        workflow, rid = f"workflow-{n % 10:02d}", run_id(n)
        files = {
            "run.json": encode_record(record(workflow, rid, n)),
            "report.md": f"# {workflow}\n\n{rid}\n".encode(),
        }
        files.update({f"logs/0{i}-step-{i}.log": f"output {rid}\n".encode() for i in range(5)})
        batch.append(RunFiles(workflow, rid, files, "completed"))
        if len(batch) == 1000:
            writer.commit_runs(batch)
            batch = []
    if batch:
        writer.commit_runs(batch)
    subprocess.run(["git", "gc", "-q"], cwd=root, check=True, capture_output=True)


def measure(command: list[str], cwd: Path, repeat: int) -> tuple[float, float, float]:
    """(fastest wall time in s, least CPU time in s, largest peak RSS in MB) of ``repeat``
    runs. On a busy machine the wall time waits for other processes; the CPU time less so."""
    walls, cpus, peaks = [], [], []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *command],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "120"},
        )
        wall, cpu, peak_kb = done.stdout.split()
        walls.append(float(wall))
        cpus.append(float(cpu))
        peaks.append(int(peak_kb) / 1024)
    return min(walls), min(cpus), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="orch-bench-history-"))
    try:
        empty, one, many = scratch / "empty", scratch / "one", scratch / "many"
        make_repo(empty, 0)
        make_repo(one, 1)
        started = time.perf_counter()
        make_repo(many, options.runs)
        built = time.perf_counter() - started
        listed = subprocess.run(
            [*ORCH, "runs", "--json", "-n", "100000"],
            cwd=many,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert len(json.loads(listed)) == options.runs
        n, r = f"{options.runs:,}", options.repeat
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
        )
        print(f"(built {n} runs in {built:.1f} s; fastest of {r} runs, largest peak RSS)")
        rows = [
            (f"orch runs --json -n 100000, {n} runs", ["runs", "--json", "-n", "100000"], many),
            (f"orch runs -n 100000, {n} runs", ["runs", "-n", "100000"], many),
            ("orch runs, empty trace", ["runs"], empty),
            (f"orch runs, {n} runs", ["runs"], many),
            ("orch show, one run", ["show", run_id(0)], one),
            (f"orch show, {n} runs", ["show", run_id(options.runs - 1)], many),
        ]
        times: dict[str, tuple[float, float]] = {}
        print(f"{'':42} {'wall':>11} {'cpu':>11} {'peak RSS':>10}")
        for label, args, repo in rows:
            wall, cpu, peak = measure([*ORCH, *args], repo, r)
            times[label] = wall, cpu
            print(f"{label + ':':42} {wall * 1000:8.1f} ms {cpu * 1000:8.1f} ms {peak:7.1f} MB")
        for what, many_label, base_label in (
            ("orch runs", f"orch runs, {n} runs", "orch runs, empty trace"),
            ("orch show", f"orch show, {n} runs", "orch show, one run"),
        ):
            wall = times[many_label][0] / times[base_label][0]
            cpu = times[many_label][1] / times[base_label][1]
            print(
                f"{what}, {n} runs / {base_label.split(', ')[1]}: wall {wall:.2f}x, "
                f"cpu {cpu:.2f}x (target <= 1.2x)"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
