#!/usr/bin/env python3
"""Set up and run orch with nothing but Python 3.11+ and git.

python3 tasks.py demo    # install orch in .venv and run an example workflow end to end
python3 tasks.py test    # install orch with its test tools, then lint, type-check and test
python3 tasks.py screenshots   # take the screenshots of docs/web.md (into docs/images/)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"


def run(*command: str | Path, cwd: Path = ROOT, check: bool = True) -> int:
    print("+", " ".join(str(part) for part in command), flush=True)
    return subprocess.run([str(part) for part in command], cwd=cwd, check=check).returncode


def install(extras: str = "") -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - tasks.py runs before anything checks
        sys.exit(f"orch needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--editable", f".{extras}")
    # An editable install leaves orch's own modules uncompiled; where PYTHONDONTWRITEBYTECODE
    # is set, every command would compile them again (about 0.1 s of each start-up).
    run(BIN / "python", "-m", "compileall", "-q", "orchestrator")


def demo() -> None:
    install()
    orch = BIN / "orch"
    scratch = Path(tempfile.mkdtemp(prefix="orch-demo-"))
    shutil.copytree(ROOT / "intents", scratch / "intents")
    env_note = "a scratch repository, so this checkout stays untouched"
    print(f"\nRunning the example in {scratch} ({env_note})\n", flush=True)
    for command in (
        ("git", "init", "-q"),
        ("git", "add", "intents"),
        (
            "git",
            "-c",
            "user.name=orch demo",
            "-c",
            "user.email=demo@localhost",
            "commit",
            "-q",
            "-m",
            "Add the example intent documents",
        ),
    ):
        run(*command, cwd=scratch)
    run(orch, "validate", cwd=scratch)
    show_a_caught_mistake(orch, scratch)
    run(orch, "plan", "intents/service-config.md", "-i", "environment=production", cwd=scratch)
    code = run(
        orch, "apply", "intents/build-and-test.md", "-i", "version=1.2.3", cwd=scratch, check=False
    )
    run(orch, "runs", cwd=scratch, check=False)
    latest = subprocess.run(
        [str(orch), "runs", "--json", "--limit", "1"],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if '"run_id"' in latest:
        run_id = latest.split('"run_id": "', 1)[1].split('"', 1)[0]
        run(orch, "show", run_id, cwd=scratch, check=False)
    print(f"\nThe trace is the branch orch-trace of {scratch}: try git -C {scratch} log orch-trace")
    sys.exit(code)


def show_a_caught_mistake(orch: Path, scratch: Path) -> None:
    """Validate a copy of an example with one step name misspelled: orch names the line and
    the step meant, before anything runs. The demo fails if the mistake goes unnoticed."""
    typo = scratch / "typo" / "build-and-test.md"
    typo.parent.mkdir()
    original = (scratch / "intents" / "build-and-test.md").read_text(encoding="utf-8")
    mistaken = original.replace("steps.package.outputs.size", "steps.pakage.outputs.size")
    assert mistaken != original, "the example no longer uses steps.package.outputs.size"
    typo.write_text(mistaken, encoding="utf-8")
    print("\nA deliberate mistake: a copy of the example that misspells the step 'package'\n")
    if run(orch, "validate", typo.relative_to(scratch), cwd=scratch, check=False) != 1:
        sys.exit("orch validate did not catch the misspelled step name")
    print("\norch validate caught it before anything ran; on with the real example\n", flush=True)
    shutil.rmtree(typo.parent)


# The Debian packages tests need: what each provides, and which tests skip without it.
# Playwright's own browser download is unreachable here, so the browser tests drive Debian's.
DEBIAN_PACKAGES = {
    "chromium": (Path("/usr/bin/chromium"), "the browser tests"),
    "redis-server": (Path("/usr/bin/redis-server"), "the distributed tests (the broker)"),
}


def install_debian_packages(*names: str) -> None:
    """Install the named packages whose program is missing, with one ``apt-get update``."""
    missing = [name for name in names if not DEBIAN_PACKAGES[name][0].exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        for name in missing:
            program, needed_by = DEBIAN_PACKAGES[name]
            print(f"{program} is missing and this is not root: {needed_by} will be skipped")
        print(f"  install: apt-get install --no-install-recommends {' '.join(missing)}", flush=True)
        return
    print(f"installing Debian's {', '.join(missing)} for the tests")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
    ):
        print("+", " ".join(command), flush=True)
        subprocess.run(command, check=True, env=environment)


# The whole suite must cover at least this share of orch's lines, the processes it starts
# included (README, Development).
COVERAGE_FLOOR = 93


def coverage_options(pytest_args: list[str]) -> list[str]:
    """Measure coverage and hold the floor when the whole suite runs (only options given);
    tests named on the command line run without coverage, as a quick check."""
    if any(not arg.startswith("-") for arg in pytest_args):
        return []
    return ["--cov", "--cov-report=term", f"--cov-fail-under={COVERAGE_FLOOR}"]


def test() -> None:
    install("[dev]")
    install_debian_packages("chromium", "redis-server")
    run(BIN / "ruff", "check", ".")
    run(BIN / "mypy")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    pytest_args = sys.argv[2:]
    # One worker per core: most tests wait on real processes (git, orch, servers).
    command = [
        str(BIN / "python"),
        "-m",
        "pytest",
        "-n",
        "auto",
        *coverage_options(pytest_args),
        *pytest_args,
    ]
    print("+", " ".join(command[1:]), flush=True)
    sys.exit(subprocess.run(command, cwd=ROOT, env=env, check=False).returncode)


def screenshots() -> None:
    """Run the browser tests with their screenshots going to docs/images/."""
    install("[dev]")
    install_debian_packages("chromium")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "WEB_SCREENSHOTS": str(ROOT / "docs" / "images"),
    }
    tests = ["tests/web/test_browser.py", "tests/web/test_browser_steering.py"]
    command = [str(BIN / "python"), "-m", "pytest", "-q", *tests]
    print("+", " ".join(command[1:]), flush=True)
    sys.exit(subprocess.run(command, cwd=ROOT, env=env, check=False).returncode)


if __name__ == "__main__":
    actions = {"demo": demo, "test": test, "screenshots": screenshots}
    if len(sys.argv) < 2 or sys.argv[1] not in actions:
        sys.exit(__doc__)
    actions[sys.argv[1]]()
