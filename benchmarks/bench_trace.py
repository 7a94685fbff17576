"""Run-trace benchmark: cost of one trace commit with 10 and with 5,000 runs recorded,
and of reading back with 5,000 runs, against the fixed cost of spawning git.

    .venv/bin/python benchmarks/bench_trace.py [--processes 12] [--runs-each 5]

The same commits are made, in the same rounds and on the same repositories, by two
prototype writers on git libraries (``trace_prototypes.py``: pygit2 and dulwich), so the
figures compare orch's writer with each library's. Then each writer commits from
``--processes`` concurrent processes into one repository (every run must land), and into a
repository with a work tree (its HEAD, index and files must stay as they were); last, each
library's import and first commit in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.trace import RunFiles, TraceReader, TraceWriter, encode_record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trace_prototypes import WRITERS

REPEAT = 50
KINDS = ["orch", *WRITERS]


def writer_of(kind: str, repo: Path) -> Any:
    return TraceWriter(repo) if kind == "orch" else WRITERS[kind](repo)


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


def time_commits(repos: list[tuple[Path, int]]) -> dict[str, list[float]]:
    """Median commit time per writer and repository, measured round-robin (repositories and
    writers in turn, the writers' order rotating) so machine drift hits all alike."""
    writers = {kind: [writer_of(kind, repo) for repo, _ in repos] for kind in KINDS}
    samples: dict[str, list[list[float]]] = {kind: [[] for _ in repos] for kind in KINDS}
    for n in range(REPEAT):
        order = KINDS[n % len(KINDS) :] + KINDS[: n % len(KINDS)]
        for i, (_, workflows) in enumerate(repos):
            for k, kind in enumerate(order):
                wf = f"workflow-{n % workflows:02d}"
                run = rid(900_000 + n * len(KINDS) + k, "b3nc40")
                data = files(wf, run)
                start = time.perf_counter()
                writers[kind][i].commit_run(wf, run, data, state="completed")
                samples[kind][i].append(time.perf_counter() - start)
    return {kind: [statistics.median(s) for s in samples[kind]] for kind in KINDS}


def count_runs(repo: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-d", "-r", "--name-only", "orch-trace", "runs/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if line.count("/") == 2)


def child(kind: str, repo: Path, index: int, runs: int) -> None:
    writer = writer_of(kind, repo)
    for n in range(runs):
        wf = f"workflow-{(index + n) % 3:02d}"
        run = rid(500_000 + index * 1000 + n, f"p{index:05d}")
        writer.commit_run(wf, run, files(wf, run, "running"), state="running")
        writer.commit_run(wf, run, files(wf, run), state="completed")
    close = getattr(getattr(writer, "repo", None), "close", None)
    if close is not None:
        close()  # dulwich: or its packs complain on stderr as the interpreter exits


def concurrency(base: Path, kind: str, processes: int, runs: int) -> tuple[int, int, float, int]:
    """(runs landed, runs committed, wall seconds, runs left open) for one writer."""
    repo = base / f"concurrent-{kind}.git"
    make_repo(repo, 10, 3)
    start = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", kind, str(repo), str(i), str(runs)],
            stderr=subprocess.PIPE,
        )
        for i in range(processes)
    ]
    errors = [p.communicate()[1] for p in children]  # read all: a full pipe would block
    failed = [err for p, err in zip(children, errors, strict=True) if p.returncode != 0]
    wall = time.perf_counter() - start
    assert not failed, failed[0].decode()[-2000:]
    still_open = len(TraceReader(repo).open_runs())
    return count_runs(repo) - 10, processes * runs, wall, still_open


def untouched(base: Path, kind: str) -> bool:
    """Whether committing with ``kind`` left a work tree's HEAD, index and files alone."""
    work = base / f"work-{kind}"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (work / "file.txt").write_text("content\n")
    for command in (["add", "file.txt"], ["commit", "-q", "-m", "one"]):
        subprocess.run(
            ["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@b", *command],
            check=True,
        )
    (work / "file.txt").write_text("changed, not staged\n")

    def state() -> tuple[bytes, bytes, str]:
        status = subprocess.run(
            ["git", "-C", str(work), "status", "--porcelain"], capture_output=True, text=True
        ).stdout
        return (work / ".git/HEAD").read_bytes(), (work / ".git/index").read_bytes(), status

    before = state()
    writer = writer_of(kind, work if kind == "orch" else work / ".git")
    for n in range(3):
        writer.commit_run("wf", rid(n), files("wf", rid(n)), state="completed")
    return state() == before and count_runs(work) == 3


_COLD = """
import sys, time
from pathlib import Path
sys.path[:0] = [str(Path(sys.argv[3]).parent), sys.argv[3]]
import orchestrator.trace
import bench_trace
start = time.perf_counter()
writer = bench_trace.writer_of(sys.argv[1], Path(sys.argv[2]))
opened = time.perf_counter()
run = bench_trace.rid(800_000 + int(time.time() * 1000) % 80_000, "c01d00")
writer.commit_run("workflow-00", run, bench_trace.files("workflow-00", run), state="completed")
print(opened - start, time.perf_counter() - opened)
"""


_COLD_READ = """
import sys, time
from pathlib import Path
sys.path[:0] = [str(Path(sys.argv[2]).parent), sys.argv[2]]
import bench_trace
from orchestrator.trace import TraceReader
start = time.perf_counter()
TraceReader(Path(sys.argv[1])).read_run(bench_trace.rid(1234))
listed = time.perf_counter()
TraceReader(Path(sys.argv[1])).list_runs(limit=20)
print(listed - start, time.perf_counter() - listed)
"""


def cold_read(repo: Path, rounds: int) -> tuple[float, float]:
    """Median (read_run, list_runs) with orch's reader in a fresh process, just packed."""
    here = str(Path(__file__).resolve().parent)
    samples = []
    for _ in range(rounds):
        subprocess.run(["git", "-C", str(repo), "repack", "-adq"], check=True)
        subprocess.run(["git", "-C", str(repo), "prune-packed"], check=True)
        out = subprocess.run(
            [sys.executable, "-c", _COLD_READ, str(repo), here],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        samples.append((float(out[0]), float(out[1])))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def cold(repo: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (import and open, first commit) in a fresh process, kinds in turn, each on the
    repository just packed."""
    here = str(Path(__file__).resolve().parent)
    samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            # As after `git gc`: every object the commit reads is in a pack.
            subprocess.run(["git", "-C", str(repo), "repack", "-adq"], check=True)
            subprocess.run(["git", "-C", str(repo), "prune-packed"], check=True)
            out = subprocess.run(
                [sys.executable, "-c", _COLD, kind, str(repo), here],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            samples[kind].append((float(out[0]), float(out[1])))
    return {
        kind: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
        for kind, values in samples.items()
    }


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=12)
    parser.add_argument("--runs-each", type=int, default=5)
    parser.add_argument("--large", type=int, default=5000, help="runs in the large traces")
    parser.add_argument("--writers", default=",".join(KINDS), help="which writers to time")
    parser.add_argument(
        "--cold-only", action="store_true", help="only the first commit in a fresh process"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, repo, index, runs = args.child
        child(kind, Path(repo), int(index), int(runs))
        return
    KINDS[:] = args.writers.split(",")
    ms = 1000.0
    if args.cold_only:
        with tempfile.TemporaryDirectory() as tmp:
            make_repo(Path(tmp) / "single.git", args.large, 1)
            first = cold(Path(tmp) / "single.git", 5)
            read_one, listed = cold_read(Path(tmp) / "single.git", 5)
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"load average {load}; fresh process, {args.large:,} runs, just packed (median of 5)")
        for kind in KINDS:
            print(
                f"  {kind:10s} import + open {first[kind][0] * ms:7.1f} ms, first commit "
                f"{first[kind][1] * ms:7.1f} ms"
            )
        print(
            f"  orch reader: read_run {read_one * ms:7.1f} ms, "
            f"list_runs(limit=20) {listed * ms:7.1f} ms"
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        spawn = time_git_spawn(base)
        cold_repo = make_repo(base / "cold.git", 10, 10).git_dir
        make_repo(base / "small.git", 10, 10)
        for i in range(256):
            (base / "small.git" / "objects" / f"{i:02x}").mkdir(exist_ok=True)
        start = time.perf_counter()
        make_repo(base / "large.git", args.large, 10)
        built = time.perf_counter() - start
        make_repo(base / "single.git", args.large, 1)
        # Packing deleted some 60,000 loose files; let the file system write that out first,
        # or creating the next objects' files pays for it.
        os.sync()
        medians = time_commits(
            [
                (cold_repo, 10),
                (base / "small.git", 10),
                (base / "large.git", 10),
                (base / "single.git", 1),
            ]
        )
        listing, one, prefix = time_read(base / "large.git")
        together = {kind: concurrency(base, kind, args.processes, args.runs_each) for kind in KINDS}
        clean = {kind: untouched(base, kind) for kind in KINDS}
        first = cold(base / "single.git", 5)

    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, load average "
        + ", ".join(f"{value:.2f}" for value in os.getloadavg())
    )
    print(f"baseline: one `git hash-object` process   {spawn * ms:7.2f} ms")
    print(f"{'commit_run, median of ' + str(REPEAT):42s}" + "".join(f"{k:>18s}" for k in KINDS))
    rows = (
        ("10 runs, new empty repository", 0),
        ("10 runs, object folders exist", 1),
        ("5,000 runs over 10 workflows (packed)", 2),
        ("5,000 runs in one workflow (packed)", 3),
    )
    for label, i in rows:
        cells = ""
        for kind in KINDS:
            value, ratio = medians[kind][i] * ms, medians[kind][i] / medians["orch"][i]
            cells += f"{value:9.2f} ms" + (f" {ratio:4.2f}x" if kind != "orch" else "      ")
        print(f"{label:42s}{cells}")
    for label, i in (
        ("ratio 5,000 (10 workflows) / 10", 2),
        ("ratio 5,000 (one workflow) / 10", 3),
    ):
        print(f"{label:42s}" + "".join(f"{medians[k][i] / medians[k][1]:18.2f}" for k in KINDS))
    print(
        f"{args.processes} processes x {args.runs_each} runs (2 commits each), landed / wall"
        + "".join(f"{k:>18s}" for k in KINDS)
    )
    print(
        f"{'':42s}"
        + "".join(f"{t[0]:>4d}/{t[1]:<3d}{t[2]:6.1f} s o{t[3]}" for t in together.values())
    )
    print(
        f"{'work tree, HEAD and index left alone':42s}"
        + "".join(f"{clean[k]!s:>18s}" for k in KINDS)
    )
    print(
        f"{'fresh process: import + open (median of 5)':42s}"
        + "".join(f"{first[k][0] * ms:15.1f} ms" for k in KINDS)
    )
    print(
        f"{'fresh process: first commit (5,000, packed)':42s}"
        + "".join(f"{first[k][1] * ms:15.1f} ms" for k in KINDS)
    )
    print(f"list_runs(limit=20), 5,000 runs           {listing * ms:7.2f} ms (cold reader)")
    print(f"read_run(full id), 5,000 runs             {one * ms:7.2f} ms (cold reader)")
    print(f"read_run(id prefix), 5,000 runs           {prefix * ms:7.2f} ms (cold reader)")
    print(f"(building 5,000 runs in 5 bulk commits, then packing them, took {built:.1f} s)")


if __name__ == "__main__":
    main()
