"""DropBoxMini upload/download throughput and peak memory against a plain file copy.

    .venv/bin/python benchmarks/bench_dropboxmini.py [--size-mib N]

Creates an N MiB file (default 1024) and starts the server in its own process. Then, twice,
it times ``shutil.copyfile`` of the file on the same disk and right after it one transfer
with ``DropBoxClient`` run in its own process (first the upload, then the download), so each
transfer is compared with a copy made under the same conditions; the disk and the machine
are shared, and a copy's speed changes by several times from one minute to the next. It
reports throughput, CPU seconds of each side, and each process's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-key"


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_main(phase: str, url: str, target: str, path: str, server_pid: str) -> None:
    """One transfer: ``upload`` of the file at ``path``, or ``download`` of id ``target``."""
    from orchestrator.dropboxmini import DropBoxClient, UploadFields

    me, server = os.getpid(), int(server_pid)
    with DropBoxClient(url, KEY, timeout=600) as client:
        before = (cpu_s(me), cpu_s(server))
        start = time.perf_counter()
        if phase == "upload":
            record = client.upload(Path(path), UploadFields("generic", "bench", label="bench"))
        else:
            record = client.download(target, Path(path))
        seconds = time.perf_counter() - start
        after = (cpu_s(me), cpu_s(server))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "client_cpu_s": after[0] - before[0],
                "server_cpu_s": after[1] - before[1],
                "client_hwm_mib": vm_hwm_mib(me),
                "artifact_id": record.artifact_id,
                "sha256": record.sha256,
            }
        )
    )


def make_file(path: Path, size_mib: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(block)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_seconds(source: Path) -> float:
    copy = source.with_name("copy.bin")
    start = time.perf_counter()
    shutil.copyfile(source, copy)
    seconds = time.perf_counter() - start
    copy.unlink()
    return seconds


def transfer(phase: str, url: str, target: str, path: Path, server_pid: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--client", phase, url, target, str(path), str(server_pid)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    mib = args.size_mib
    work = Path(tempfile.mkdtemp(prefix="bench-dropboxmini-", dir=args.dir))
    server = None
    try:
        source = work / "source.bin"
        make_file(source, args.size_mib)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DROPBOX_API_KEYS_JSON": json.dumps({"keys": [{"value": KEY, "role": "readwrite"}]}),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.dropboxmini",
                "--root",
                str(work / "store"),
                "--port",
                str(port),
                "--max-bytes",
                str(size + 1),
            ],
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        idle_mib = vm_hwm_mib(server.pid)

        up_copy_s = copy_seconds(source)
        up = transfer("upload", url, "-", source, server.pid)
        back = work / "back.bin"
        down_copy_s = copy_seconds(source)
        down = transfer("download", url, up["artifact_id"], back, server.pid)
        server_mib = vm_hwm_mib(server.pid)
        same = back.stat().st_size == size and down["sha256"] == up["sha256"]

        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(f"file: {mib} MiB in {work}")
        for name, copy_s, result in (
            ("upload", up_copy_s, up),
            ("download", down_copy_s, down),
        ):
            copy_rate, rate = mib / copy_s, mib / result["seconds"]
            print(f"plain copy (shutil.copyfile): {copy_s:.2f} s  {copy_rate:.0f} MiB/s")
            print(
                f"{name + ':':9} {result['seconds']:.2f} s  {rate:.0f} MiB/s  "
                f"({rate / copy_rate:.2f} x copy)  CPU client {result['client_cpu_s']:.2f} s, "
                f"server {result['server_cpu_s']:.2f} s"
            )
        print(f"server peak RSS (VmHWM): {server_mib:.0f} MiB (idle {idle_mib:.0f} MiB)")
        client_mib = max(up["client_hwm_mib"], down["client_hwm_mib"])
        print(f"client peak RSS (VmHWM): {client_mib:.0f} MiB")
        print(f"downloaded size matches: {same}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--client":
        client_main(*sys.argv[2:])
    else:
        main()
