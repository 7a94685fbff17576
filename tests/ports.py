"""Ports for the servers tests start as processes, chosen so that nothing takes them first.

A port found free with ``bind(("127.0.0.1", 0))`` and closed again comes from the kernel's
ephemeral range, which the kernel keeps handing out, to other ``bind(0)`` calls and to every
outgoing connection: by the time a server binds it, seconds or minutes later, it may be taken.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

# Lock files held open until the process ends: one per port this process chose.
_HELD: list[int] = []
_LOCKS = Path(tempfile.gettempdir()) / "orch-test-ports"
_LOWEST = 20000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _lock(port: int) -> bool:
    """Whether this process now holds ``port`` against every other test process."""
    _LOCKS.mkdir(exist_ok=True)
    fd = os.open(_LOCKS / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _HELD.append(fd)
    return True


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def unused_port() -> int:
    """A port on 127.0.0.1 that is free now and stays free until a server binds it.

    It lies below the ephemeral range, so the kernel never gives it to a ``bind(0)`` or an
    outgoing connection, and a lock file (kept until this process ends) keeps every other
    test process, of this run or of another run on the machine, from choosing it too.
    """
    ephemeral_low, ephemeral_high = _ephemeral_range()
    if ephemeral_low > _LOWEST + 100:
        candidates = list(range(_LOWEST, ephemeral_low))
    else:  # an unusual range: take ports above it instead
        candidates = list(range(ephemeral_high + 1, 65536))
    random.shuffle(candidates)
    for port in candidates:
        if _lock(port):
            if _free(port):
                return port
            os.close(_HELD.pop())
    raise RuntimeError("no unused port outside the ephemeral range")
