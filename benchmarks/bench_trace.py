"""Run-trace benchmark: cost of one trace commit with 10 and with 5,000 runs recorded,
and of reading back with 5,000 runs, against the fixed cost of spawning git.

    .venv/bin/python benchmarks/bench_trace.py
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.trace import RunFiles, TraceReader, TraceWriter, encode_record

REPEAT = 50


def record(workflow: str, rid: str, state: str) -> dict[str, object]:
    return {
        "schema": 1,
        "run_id": rid,
        "workflow": {"id": workflow, "title": workflow, "owner": "ops", "status": "approved"},
        "document": {"path": f"intents/{workflow}.md", "commit": "c" * 40, "blob": "b" * 40},
        "trigger": {"source": "manual", "actor": "bench", "host": "bench", "pid": 1},
        "state": state,
        "transitions": [{"state": "running", "at": "2026-11-25T22:15:00+00:00"}],
        "steps": [{"name": f"step{i}", "state": "completed"} for i in range(5)],
        "artifacts": [],
        "error": None,
    }


def files(workflow: str, rid: str, state: str = "completed") -> dict[str, bytes]:
    return {
        "run.json": encode_record(record(workflow, rid, state)),
        "report.md": f"# {workflow}\n\n{rid} {state}\n".encode(),
        "logs/01-build.log": f"build output of {rid}\n".encode() * 20,
        "logs/02-test.log": f"test output of {rid}\n".encode() * 20,
    }


def rid(n: int, tag: str = "000000") -> str:
    day, rest = divmod(n, 86400)
    return f"202611{day + 1:02d}T{rest // 3600:02d}{rest // 60 % 60:02d}{rest % 60:02d}Z-{tag}"


def make_repo(root: Path, runs: int, workflows: int) -> TraceWriter:
    subprocess.run(["git", "init", "-q", "--bare", str(root)], check=True)
    # The writer packs the repository once loose objects pile up (git gc --auto); packing
    # here, before the timings, keeps a background gc from running during them.
    subprocess.run(["git", "-C", str(root), "config", "gc.autoDetach", "false"], check=True)
    writer = TraceWriter(root)
    batch: list[RunFiles] = []
    for n in range(runs):
        wf = f"workflow-{n % workflows:02d}"
        batch.append(RunFiles(wf, rid(n), files(wf, rid(n)), "completed"))
        if len(batch) == 1000:
            writer.commit_runs(batch)
            batch = []
    if batch:
        writer.commit_runs(batch)
    return writer


def time_commits(writers: list[tuple[TraceWriter, int]]) -> list[float]:
    """Median commit time per writer, measured round-robin so machine drift hits all alike."""
    samples: list[list[float]] = [[] for _ in writers]
    for n in range(REPEAT):
        for i, (writer, workflows) in enumerate(writers):
            wf = f"workflow-{n % workflows:02d}"
            run = rid(900_000 + n, "b3nc40")
            data = files(wf, run)
            start = time.perf_counter()
            writer.commit_run(wf, run, data, state="completed")
            samples[i].append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


def time_git_spawn(repo: Path) -> float:
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        subprocess.run(
            ["git", "hash-object", "--stdin"], input=b"x", cwd=repo, capture_output=True, check=True
        )
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_read(repo: Path) -> tuple[float, float, float]:
    start = time.perf_counter()
    runs = TraceReader(repo).list_runs(limit=20)
    listing = time.perf_counter() - start
    assert len(runs) == 20
    start = time.perf_counter()
    TraceReader(repo).read_run(rid(1234))
    one = time.perf_counter() - start
    start = time.perf_counter()
    TraceReader(repo).read_run(rid(1234)[:-4])
    prefix = time.perf_counter() - start
    return listing, one, prefix


def main() -> None:
    ms = 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        spawn = time_git_spawn(base)
        cold = make_repo(base / "cold.git", 10, 10)
        small = make_repo(base / "small.git", 10, 10)
        for i in range(256):
            (base / "small.git" / "objects" / f"{i:02x}").mkdir(exist_ok=True)
        start = time.perf_counter()
        large = make_repo(base / "large.git", 5000, 10)
        built = time.perf_counter() - start
        single = make_repo(base / "single.git", 5000, 1)
        # Packing deleted some 60,000 loose files; let the file system write that out first,
        # or creating the next objects' files pays for it.
        os.sync()
        t_cold, t_small, t_large, t_single = time_commits(
            [(cold, 10), (small, 10), (large, 10), (single, 1)]
        )
        listing, one, prefix = time_read(base / "large.git")

    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}"
    )
    print(f"baseline: one `git hash-object` process   {spawn * ms:7.2f} ms")
    print(f"commit_run, 10 runs, new empty repository {t_cold * ms:7.2f} ms (median of {REPEAT})")
    print(f"commit_run, 10 runs, object folders exist {t_small * ms:7.2f} ms")
    print(f"commit_run, 5,000 runs over 10 workflows  {t_large * ms:7.2f} ms")
    print(f"commit_run, 5,000 runs in one workflow    {t_single * ms:7.2f} ms")
    print(f"ratio 5,000 (10 workflows) / 10           {t_large / t_small:7.2f}")
    print(f"ratio 5,000 (one workflow) / 10           {t_single / t_small:7.2f}")
    print(f"list_runs(limit=20), 5,000 runs           {listing * ms:7.2f} ms (cold reader)")
    print(f"read_run(full id), 5,000 runs             {one * ms:7.2f} ms (cold reader)")
    print(f"read_run(id prefix), 5,000 runs           {prefix * ms:7.2f} ms (cold reader)")
    print(f"(building 5,000 runs in 5 bulk commits, then packing them, took {built:.1f} s)")


if __name__ == "__main__":
    main()
