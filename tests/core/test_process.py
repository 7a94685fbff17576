"""The short commands and the detached processes of ``orchestrator.process``: real programs,
exactly the environment they are given, and the errors that say why one could not run."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from orchestrator.process import process_alive, run_captured, spawn_detached


def test_a_short_command_gets_exactly_the_environment_it_is_given(tmp_path: Path) -> None:
    os.environ["ORCH_TEST_INHERITED"] = "leaks"
    try:
        done = run_captured(["/usr/bin/env"], env={"ONLY": "this"}, cwd=tmp_path)
    finally:
        del os.environ["ORCH_TEST_INHERITED"]
    assert (done.returncode, done.stdout, done.stderr) == (0, b"ONLY=this\n", b"")


def test_a_short_command_reads_its_input_and_reports_its_exit_code(tmp_path: Path) -> None:
    script = "import sys; data = sys.stdin.read(); print(data.upper()); sys.exit(len(data))"
    done = run_captured([sys.executable, "-c", script], env={}, cwd=tmp_path, stdin=b"abc")
    assert (done.returncode, done.stdout) == (3, b"ABC\n")


def test_without_input_a_short_command_reads_nothing(tmp_path: Path) -> None:
    done = run_captured(
        [sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"], env={}, cwd=tmp_path
    )
    assert done.stdout == b"''\n"


def test_a_missing_program_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as missing:
        run_captured([str(tmp_path / "no-such-program")], env={})
    assert missing.value.filename == str(tmp_path / "no-such-program")


def test_a_short_command_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(TimeoutError) as late:
        run_captured([sys.executable, "-c", script], env={}, timeout=1.0)
    assert str(late.value) == f"{sys.executable} did not finish within 1 s"
    assert time.monotonic() - started < 30
    assert not process_alive(int(pid_file.read_text()))


def test_a_detached_process_outlives_the_call_in_a_session_of_its_own(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text("before\n")
    gate = tmp_path / "gate"
    script = (
        "import os, sys, time\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)\n"
        "own_session = os.getsid(0) == os.getpid()\n"
        "print(os.environ.get('ONLY'), os.environ.get('HOME'), own_session, flush=True)\n"
        "print('to stderr', file=sys.stderr)\n"
    )
    pid = spawn_detached([sys.executable, "-c", script], cwd=tmp_path, env={"ONLY": "x"}, log=log)
    # It waits for the gate: the call returned while it runs.
    assert process_alive(pid)
    gate.write_text("open")
    deadline = time.monotonic() + 30
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.read_text() == "before\nx None True\nto stderr\n"


def test_a_detached_program_that_is_missing_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spawn_detached([str(tmp_path / "nothing")], cwd=tmp_path, env={}, log=tmp_path / "log")
