"""The one place orch starts processes.

Every step's process runs in a session of its own, so a timeout kills the whole tree it
started. Output goes to a private file rather than a pipe: a step may leave a service running
in the background (that is how "start, then verify health" works) and a pipe held open by
such a child would hang the reader. What a step prints is masked before anything keeps it.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MASK = "***"
_KILL_GRACE_SECONDS = 2.0


class Masker:
    """Replaces every secret value with ``***``; longest values first so none leaks in part."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            values.add(secret)
            values.update(line for line in secret.splitlines() if len(line) >= 4)
        self._values = sorted(values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        return text

    def extended(self, secrets: Iterable[str]) -> Masker:
        return Masker([*self._values, *secrets])


@dataclass(frozen=True)
class Finished:
    """How a process ended. ``exit_code`` is None when it had to be killed."""

    exit_code: int | None
    output: str
    timed_out: bool
    seconds: float


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    masker: Masker,
    on_output: Callable[[str], None] | None = None,
) -> Finished:
    """Run ``argv`` to completion or until ``timeout``; return its masked combined output.

    Raises ``OSError`` when the program cannot be started (the caller explains it).
    """
    started = time.monotonic()
    with tempfile.TemporaryFile(prefix="orch-output-") as capture:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=capture,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        follower = _Follower(capture.fileno(), masker, on_output) if on_output else None
        try:
            timed_out = not _wait_for_exit(process, timeout)
            if timed_out:
                kill_tree(process)
            code = process.wait()
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


def _wait_for_exit(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Block until the process exits (True) or ``timeout`` passes (False).

    A pidfd wakes us the moment the process exits; ``Popen.wait(timeout)`` would instead poll
    with growing sleeps, adding milliseconds to every short step.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd on this system: poll
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return bool(ready)


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Stop the process's whole session: TERM first, then KILL after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_KILL_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class _Follower:
    """Streams new complete lines of the capture file to a callback while a step runs."""

    def __init__(self, fd: int, masker: Masker, on_line: Callable[[str], None]) -> None:
        self._fd = fd
        self._masker = masker
        self._on_line = on_line
        self._offset = 0
        self._pending = b""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stopping.wait(0.05):
            self._drain()
        self._drain(final=True)

    def _drain(self, *, final: bool = False) -> None:
        chunk = os.pread(self._fd, 1 << 16, self._offset)
        while chunk:
            self._offset += len(chunk)
            self._pending += chunk
            chunk = os.pread(self._fd, 1 << 16, self._offset)
        *lines, self._pending = self._pending.split(b"\n")
        if final and self._pending:
            lines.append(self._pending)
            self._pending = b""
        for line in lines:
            self._on_line(self._masker.mask(line.decode("utf-8", errors="replace")))

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
