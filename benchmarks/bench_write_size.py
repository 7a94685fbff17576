"""Writing a new file: time per GiB by the size of each ``write()`` call.

    .venv/bin/python benchmarks/bench_write_size.py [--size-mib N] [--rounds R] [--pause S]

Writes an N MiB file (default 1024) of random bytes with one reused buffer of 64 KiB,
256 KiB, 1 MiB and 4 MiB per ``write()``, the sizes interleaved round after round so each
sees the same machine, and deletes it after each timing. This is the evidence for
``WRITE_PIECE`` in ``orchestrator/dropboxmini/store.py``: the store and the client write
large files at most 256 KiB at a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

KIB = 1024
SIZES = (64 * KIB, 256 * KIB, 1024 * KIB, 4096 * KIB)


def write_seconds(path: Path, total: int, piece: int) -> float:
    buffer = os.urandom(piece)
    start = time.perf_counter()
    with path.open("wb", buffering=0) as out:
        for _ in range(total // piece):
            out.write(buffer)
    seconds = time.perf_counter() - start
    path.unlink()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds before each timing")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    total = args.size_mib * KIB * KIB
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    times: dict[int, list[float]] = {size: [] for size in SIZES}
    with tempfile.TemporaryDirectory(prefix="bench-write-", dir=args.dir) as work:
        path = Path(work) / "file.bin"
        for _ in range(args.rounds):
            for size in SIZES:
                time.sleep(args.pause)
                times[size].append(write_seconds(path, total, size))
    print(f"{args.size_mib} MiB written, {args.rounds} rounds, {args.pause:g} s pause")
    for size, seconds in times.items():
        runs = " ".join(f"{s:.2f}" for s in seconds)
        median = statistics.median(seconds)
        print(f"  {size // KIB:5d} KiB per write: median {median:.2f} s ({runs})")


if __name__ == "__main__":
    main()
