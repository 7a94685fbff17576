"""The one place orch starts processes.

Three ways, one for each kind of process: ``run`` for a step (below), ``run_captured`` for a
short command whose output the caller reads (git), and ``spawn_detached`` for a process that
outlives orch's own (a hook's runs in the background). Each takes the environment the
process gets, whole: nothing is inherited by accident.

Every step's process runs in a session of its own, so a timeout kills the whole tree it
started. Output goes to a private file rather than a pipe: a step may leave a service running
in the background (that is how "start, then verify health" works) and a pipe held open by
such a child would hang the reader. What a step prints is masked before anything keeps it.

When orch itself dies during a step, the next orch command stops what that step left running
(``stop_leftovers``): the recorded process group, if its leader is still the process orch
started, and every process whose environment carries the run's and the step's markers.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.masking import Masker
from orchestrator.outputstream import OutputFollower, lines_of

_KILL_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Finished:
    """How a process ended. ``exit_code`` is None when it had to be killed."""

    exit_code: int | None
    output: str
    timed_out: bool
    seconds: float


class Cancelled(Exception):
    """``stop()`` asked for the process to end (a person cancelled the run); its whole tree
    was stopped. ``output`` is what it printed until then (masked)."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self.output = output


class Interrupted(KeyboardInterrupt):
    """Ctrl-C arrived while a process ran; its whole tree was stopped. ``output`` is what it
    printed until then (masked)."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self.output = output


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    masker: Masker,
    on_output: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_text: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> Finished:
    """Run ``argv`` to completion or until ``timeout``; return its masked combined output.

    ``on_start`` hears the pid (which is also the process group and session id) as soon as
    the process exists. While it runs, ``on_output`` hears each line it prints and
    ``on_text`` each piece of complete lines, masked (see ``outputstream``); ``stop`` is
    asked a few times a second whether to end it. Raises ``OSError`` when the program cannot
    be started (the caller explains it), ``Interrupted`` on Ctrl-C and ``Cancelled`` when
    ``stop`` said so, each after stopping the process tree.
    """
    started = time.monotonic()
    with tempfile.TemporaryFile(prefix="orch-output-") as capture:
        follower: OutputFollower | None = None
        with _ctrl_c_deferred() as pending:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=capture,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if pending:
                raise KeyboardInterrupt
            follower = _follower(capture.fileno(), masker, on_output, on_text)
            if on_start is not None:
                on_start(process.pid)
            ended = _wait_for_exit(process, timeout, stop)
            timed_out = ended == "timeout"
            if ended != "exited":
                kill_tree(process)
            code = process.wait()
            if ended == "stopped":
                capture.seek(0)
                printed = capture.read().decode("utf-8", errors="replace")
                raise Cancelled(masker.mask(printed))
        except KeyboardInterrupt:
            kill_tree(process)
            capture.seek(0)
            printed = capture.read().decode("utf-8", errors="replace")
            raise Interrupted(masker.mask(printed)) from None
        except Cancelled:
            raise
        except BaseException:
            kill_tree(process)
            raise
        finally:
            if follower is not None:
                follower.stop()
        exit_code: int | None = None if timed_out else code
        capture.seek(0)
        output = capture.read().decode("utf-8", errors="replace")
    return Finished(
        exit_code=exit_code,
        output=masker.mask(output),
        timed_out=timed_out,
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True)
class Captured:
    """How a short command ended, and what it printed."""

    returncode: int
    stdout: bytes
    stderr: bytes


def run_captured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = 120.0,
) -> Captured:
    """Run a short command (git, mostly) to its end with exactly ``env`` and return what it
    printed; its exit code is the caller's to judge.

    Raises ``OSError`` when the program cannot be started, and ``TimeoutError`` (an
    ``OSError`` too) after killing it when it runs longer than ``timeout`` seconds.
    """
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{argv[0]} did not finish within {timeout:g} s") from None
    return Captured(done.returncode, done.stdout, done.stderr)


def spawn_detached(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path) -> int:
    """Start ``argv`` in a session of its own with exactly ``env``, its output appended to
    ``log``, and return its pid without waiting: it outlives the caller (a hook's runs go on
    after git gets its prompt back). Raises ``OSError`` when it cannot be started."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def _follower(
    fd: int,
    masker: Masker,
    on_output: Callable[[str], None] | None,
    on_text: Callable[[str], None] | None,
) -> OutputFollower | None:
    if on_output is None and on_text is None:
        return None
    listeners = [callback for callback in (on_text,) if callback is not None]
    if on_output is not None:
        listeners.append(lines_of(on_output))

    def hear(text: str) -> None:
        for listener in listeners:
            listener(text)

    return OutputFollower(fd, masker.mask, masker.forms, hear)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[list[int]]:
    """Hold back Ctrl-C while a process starts: the child may already run when ``Popen`` is
    interrupted, and then nobody would stop it. The list it gives holds the signal when one
    came; the caller raises ``KeyboardInterrupt`` once it can stop the process. (Only the
    main thread receives Ctrl-C; elsewhere nothing changes.)"""
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # ignored, or somebody else's handler
        yield pending
        return
    signal.signal(signal.SIGINT, lambda number, frame: pending.append(number))
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)


# How often a running process's ``stop`` is asked whether to end it.
STOP_CHECK_SECONDS = 0.2


def _wait_for_exit(
    process: subprocess.Popen[bytes], timeout: float, stop: Callable[[], bool] | None = None
) -> str:
    """Block until the process exits (``"exited"``), ``timeout`` passes (``"timeout"``) or
    ``stop()`` says so (``"stopped"``).

    A pidfd wakes us the moment the process exits; ``Popen.wait(timeout)`` would instead poll
    with growing sleeps, adding milliseconds to every short step.
    """
    deadline = time.monotonic() + timeout
    try:
        pidfd: int | None = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd on this system: poll
        pidfd = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            slice_ = remaining if stop is None else min(remaining, STOP_CHECK_SECONDS)
            if pidfd is not None:
                ready, _, _ = select.select([pidfd], [], [], slice_)
                if ready:
                    return "exited"
            else:
                try:
                    process.wait(timeout=slice_)
                except subprocess.TimeoutExpired:
                    pass
                else:
                    return "exited"
            if stop is not None and stop():
                return "stopped"
    finally:
        if pidfd is not None:
            os.close(pidfd)


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Stop the process's whole session: TERM first, then KILL after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_KILL_GRACE_SECONDS)
    finally:
        # Even when a second Ctrl-C cuts the grace period short, nothing may survive.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def ignore_interrupts() -> Callable[[], None]:
    """Ignore further Ctrl-C (in the main thread; elsewhere there is none to ignore), so that
    recording an interrupted run finishes; returns what restores the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore


# --- processes of a run whose orch process died ----------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (state, ppid, pgrp, session, ...)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return text[text.rfind(")") + 2 :].split()


def host_name() -> str:
    """This machine's name, which runs record with their pid (``uname -n``, the name
    ``socket.gethostname`` gives, without loading sockets into every command)."""
    return os.uname().nodename


def process_start_token(pid: int) -> str | None:
    """A token that differs between two processes that had the same pid (Linux start time)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def process_alive(pid: int, start_token: str | None = None) -> bool:
    """True when process ``pid`` (started at ``start_token``, if given) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return True
    if fields[0] in {"Z", "X"}:
        return False
    return not (start_token and len(fields) > 19 and fields[19] != str(start_token))


def _ancestors() -> set[int]:
    """This process and every process above it: never stopped as somebody's leftover."""
    found = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in found:
        found.add(pid)
        fields = _stat_fields(pid)
        pid = int(fields[1]) if fields else 0
    return found


def _environment_holds(pid: int, markers: frozenset[bytes]) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return markers <= set(environ.split(b"\0"))


def stop_leftovers(
    groups: Iterable[tuple[int, str | None]],
    markers: Mapping[str, str],
    grace: float = _KILL_GRACE_SECONDS,
) -> list[int]:
    """Stop what a step of a dead run left running; returns the pids that were signalled.

    ``groups`` are the step's process groups as recorded when they started (id and the start
    token of their leader): a group counts only while its leader is that same process, so a
    reused id is never hit. ``markers`` (variables such as the run id and the step name) find
    the step's processes wherever they went (a new session, a dead leader): a process counts
    when its environment holds every one of them. Sends TERM, then KILL after ``grace``.
    """
    wanted = frozenset(f"{name}={value}".encode() for name, value in markers.items())
    live_groups = {pgid for pgid, token in groups if process_alive(pgid, token)}
    spared = _ancestors()
    targets: dict[int, str | None] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        if pid in spared or fields is None or len(fields) < 20 or fields[0] in {"Z", "X"}:
            continue
        if int(fields[2]) in live_groups or (wanted and _environment_holds(pid, wanted)):
            targets[pid] = fields[19]
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_alive(p, t) for p, t in targets.items()):
        time.sleep(0.05)
    for pid, token in targets.items():
        if process_alive(pid, token):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return sorted(targets)
