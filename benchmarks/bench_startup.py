"""Start-up of the ``orch`` command line, and a one-step ``orch apply`` from start to end.

Each round runs every command once, in an order that rotates from round to round (on a
shared machine a busy moment then hits each command alike); the table gives the median and
the least wall time and CPU time (user and system of the process and of the processes it
waits for: git, the step's shell) over the rounds:

- ``bash -c 'echo hi'`` and ``python -c pass``: what any command costs here, the floor of
  any Python command line;
- ``orch apply`` of a one-step document (``true``) in a scratch git repository, stderr to a
  file: validation, the run, both trace commits and the report. Twice: "first read" with
  the disk cache of parsed documents turned off (``ORCH_CACHE_DIR=``), so every run parses
  the document as the first run of a new or edited document does; "read before" with a
  cache folder that the document is already in (one run before the rounds puts it there);
- ``orch --version`` and ``orch --help`` (the Typer app).

With ``--baseline DIR`` (orch's package from another commit, for example
``git archive <commit> orchestrator | tar -x -C DIR``) the orch commands also run from
there, in the same rounds, and both columns are printed. Every tree's bytecode is compiled
first: where ``PYTHONDONTWRITEBYTECODE`` is set, a tree without it would compile every
module on every start.

Then, for each tree and both ways: how many modules one ``orch apply`` imports, how many
git processes it starts (a ``git`` on ``PATH`` that counts, then runs the real one), and
for this tree the import time per top-level package (``python -X importtime``; the least
and the median over ``--importtime-runs`` runs of each package's own time, its imports
excluded).

Coverage: ``tasks.py test`` measures processes started by the tests through a ``.pth``
file coverage installs in the venv, active when ``COVERAGE_PROCESS_START`` or
``COVERAGE_PROCESS_CONFIG`` is set (every child of a measured process has the latter).
Both are removed from every command's environment here, so the hook does nothing; the
script says whether the file is present.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--rounds 21] [--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = "---\nid: one\ntitle: One\nstatus: approved\n---\n\n# One\n\n```sh {step=s}\ntrue\n```\n"
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")
# Lists the modules of the process at its end, then runs orch as ``python -m orchestrator``.
LIST_MODULES = (
    "import atexit, os, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['MODULES_TO'], 'w').write('\\n'.join(sys.modules)))\n"
    "sys.argv = ['orch', *sys.argv[1:]]\n"
    "runpy.run_module('orchestrator', run_name='__main__', alter_sys=True)\n"
)
# Times every dataclass Python makes while ``orch apply`` loads and runs (a process of its
# own), then prints "COUNT MILLISECONDS".
TIMING_DATACLASSES = (
    "import dataclasses, runpy, sys, time\n"
    "made, spent, make = [0], [0.0], dataclasses._process_class\n"
    "def timed(cls, *args, **kwargs):\n"
    "    started = time.perf_counter()\n"
    "    try:\n"
    "        return make(cls, *args, **kwargs)\n"
    "    finally:\n"
    "        if cls.__module__.startswith('orchestrator'):\n"
    "            made[0] += 1\n"
    "            spent[0] += time.perf_counter() - started\n"
    "dataclasses._process_class = timed\n"
    "import atexit\n"
    "atexit.register(lambda: print(made[0], spent[0] * 1000, file=sys.__stdout__))\n"
    "sys.argv = ['orch', *sys.argv[1:]]\n"
    "runpy.run_module('orchestrator', run_name='__main__', alter_sys=True)\n"
)
COUNTING_GIT = '#!/bin/sh\necho x >> "$GIT_COUNT_TO"\nexec {git} "$@"\n'


def _environment(tree: Path, cache: str = "") -> dict[str, str]:
    """The environment of a command run from ``tree``; ``cache``: the disk cache's folder,
    empty for none."""
    env = {k: v for k, v in os.environ.items() if k not in COVERAGE_VARIABLES}
    env["PYTHONPATH"] = str(tree)
    env["ORCH_CACHE_DIR"] = cache
    return env


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _once(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``command``; stdout and stderr go to files."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=err, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(command)} failed: {err.read().decode(errors='replace')}")
    return wall, _children_cpu() - cpu


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _scratch_repository(where: Path) -> Path:
    repo = where / "repo"
    (repo / "intents").mkdir(parents=True)
    (repo / "intents/one.md").write_text(DOCUMENT)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=b", "-c", "user.email=b@localhost", "commit", "-qm", "b")
    return repo


def _modules_imported(repo: Path, env: dict[str, str], scratch: Path) -> list[str]:
    listed = scratch / "modules.txt"
    env = {**env, "MODULES_TO": str(listed)}
    command = [sys.executable, "-c", LIST_MODULES, "apply", "intents/one.md"]
    subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
    return listed.read_text().split("\n")


def _git_processes(repo: Path, env: dict[str, str], scratch: Path) -> int:
    shim = scratch / "bin"
    shim.mkdir(exist_ok=True)
    real = shutil.which("git")
    (shim / "git").write_text(COUNTING_GIT.format(git=real))
    (shim / "git").chmod(0o755)
    counted = scratch / "git-count.txt"
    counted.write_text("")
    env = {
        **env,
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        "GIT_COUNT_TO": str(counted),
    }
    command = [sys.executable, "-m", "orchestrator", "apply", "intents/one.md"]
    subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
    return len(counted.read_text().split())


def _import_times(repo: Path, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Milliseconds of import time per top-level package, one entry per run."""
    per_run = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "orchestrator", "apply", "intents/one.md"],
            cwd=repo,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        spent: dict[str, float] = collections.defaultdict(float)
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if match:
                spent[match[2].split(".")[0]] += int(match[1]) / 1000
        per_run.append(spent)
    names = set().union(*per_run)
    return {name: [spent.get(name, 0.0) for spent in per_run] for name in names}


def _dataclasses_made(repo: Path, env: dict[str, str], runs: int) -> tuple[int, list[float]]:
    """How many of orch's dataclasses one ``orch apply`` makes, and the milliseconds making
    them takes (one entry per run)."""
    spent = []
    count = 0
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", TIMING_DATACLASSES, "apply", "intents/one.md"],
            cwd=repo,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        made, milliseconds = done.stdout.split()[-2:]
        count = int(made)
        spent.append(float(milliseconds))
    return count, spent


def _coverage_hook() -> str:
    site = Path(sysconfig.get_paths()["purelib"])
    hooks = sorted(path.name for path in site.glob("*.pth") if "coverage" in path.name)
    state = ", inactive here" if hooks else ""
    return f"coverage's .pth hook: {', '.join(hooks) or 'none'}{state}"


def _cell(samples: list[tuple[float, float]]) -> str:
    walls, cpus = [s[0] * 1000 for s in samples], [s[1] * 1000 for s in samples]
    return (
        f"{statistics.median(walls):5.0f} ({min(walls):4.0f}) / "
        f"{statistics.median(cpus):4.0f} ({min(cpus):4.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--importtime-runs", type=int, default=9)
    parser.add_argument("--baseline", type=Path, help="orch's package from another commit")
    options = parser.parse_args()
    trees = {"this tree": ROOT}
    if options.baseline is not None:
        trees = {"baseline": options.baseline.resolve(), **trees}
    for tree in trees.values():
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(tree / "orchestrator")], check=True
        )
    orch = [sys.executable, "-m", "orchestrator"]
    scratch = Path(tempfile.mkdtemp(prefix="orch-bench-startup-"))
    # The two ways of one apply: the disk cache off, and a cache the document is in.
    ways = {"first read": "", "read before": str(scratch / "cache")}
    commands: dict[tuple[str, str], tuple[list[str], dict[str, str]]] = {
        ("bash -c 'echo hi'", ""): (["bash", "-c", "echo hi"], _environment(ROOT)),
        ("python -c pass", ""): ([sys.executable, "-c", "pass"], _environment(ROOT)),
    }
    apply = [*orch, "apply", "intents/one.md"]
    for way, cache in ways.items():
        for name, tree in trees.items():
            commands[(f"orch apply, {way}", name)] = (apply, _environment(tree, cache))
    for label, args in (("orch --version", ["--version"]), ("orch --help", ["--help"])):
        for name, tree in trees.items():
            commands[(label, name)] = ([*orch, *args], _environment(tree))
    try:
        repo = _scratch_repository(scratch)
        _once(apply, repo, _environment(ROOT, ways["read before"]))
        load_before = os.getloadavg()
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in commands}
        keys = list(commands)
        for round_number in range(options.rounds):
            shift = round_number % len(keys)
            for key in keys[shift:] + keys[:shift]:
                command, env = commands[key]
                samples[key].append(_once(command, repo, env))
        load_after = os.getloadavg()
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, Linux "
            f"{platform.release()}, Python {platform.python_version()}; load average "
            f"(1, 5, 15 min) {' '.join(f'{x:.2f}' for x in load_before)} before, "
            f"{' '.join(f'{x:.2f}' for x in load_after)} after"
        )
        print(f"{options.rounds} rounds; {_coverage_hook()}")
        print("median (least) wall / CPU, ms")
        names = list(trees)
        print(f"{'':26}" + "".join(f"{name:>32}" for name in names))
        for label in dict.fromkeys(label for label, _ in commands):
            cells = [samples[(label, name)] for name in names if (label, name) in samples]
            if (label, "") in samples:
                cells = [samples[(label, "")]]
            print(f"{label + ':':26}" + "".join(f"{_cell(cell):>32}" for cell in cells))
        print()
        for way, cache in ways.items():
            for name, tree in trees.items():
                env = _environment(tree, cache)
                modules = _modules_imported(repo, env, scratch)
                own = sum(1 for module in modules if module.split(".")[0] == "orchestrator")
                print(
                    f"{name}, {way}: orch apply imports {len(modules)} modules ({own} of orch), "
                    f"starts {_git_processes(repo, env, scratch)} git processes"
                )
        for way, cache in ways.items():
            env = _environment(ROOT, cache)
            times = _import_times(repo, env, options.importtime_runs)
            medians = {name: statistics.median(values) for name, values in times.items()}
            total = sorted(sum(run) for run in zip(*times.values(), strict=True))
            print(
                f"\nimport time of orch apply, {way}, by top-level package "
                f"({options.importtime_runs} runs, ms, own time; median (least)); "
                f"total median {statistics.median(total):.1f}"
            )
            shown = sorted(medians, key=lambda name: -medians[name])
            for name in shown[:12]:
                print(f"  {name:24} {medians[name]:6.1f} ({min(times[name]):5.1f})")
            rest = [statistics.median(times[name]) for name in shown[12:]]
            print(f"  {len(rest)} others {sum(rest):6.1f}")
            count, spent = _dataclasses_made(repo, env, options.importtime_runs)
            print(
                f"  of orch's own time: making its {count} dataclasses, median "
                f"{statistics.median(spent):.1f} ms (least {min(spent):.1f})"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
