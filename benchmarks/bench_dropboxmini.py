"""DropBoxMini upload/download throughput and peak memory against a plain file copy.

    .venv/bin/python benchmarks/bench_dropboxmini.py [--size-mib N]

Creates an N MiB file (default 1024), times ``shutil.copyfile`` on the same disk, then starts
the server in its own process, uploads and downloads the file with ``DropBoxClient`` run in a
second process, and reports throughput and each process's peak RSS (VmHWM).
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


def client_main(url: str, source: str, dest: str, server_pid: str) -> None:
    from orchestrator.dropboxmini import DropBoxClient, UploadFields

    me, server = os.getpid(), int(server_pid)
    with DropBoxClient(url, KEY, timeout=600) as client:
        cpu0 = (cpu_s(me), cpu_s(server))
        start = time.perf_counter()
        record = client.upload(Path(source), UploadFields("generic", "bench", label="bench"))
        uploaded = time.perf_counter()
        cpu1 = (cpu_s(me), cpu_s(server))
        client.download(record.artifact_id, Path(dest))
        downloaded = time.perf_counter()
        cpu2 = (cpu_s(me), cpu_s(server))
    print(
        json.dumps(
            {
                "upload_s": uploaded - start,
                "download_s": downloaded - uploaded,
                "upload_cpu_s": [cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]],
                "download_cpu_s": [cpu2[0] - cpu1[0], cpu2[1] - cpu1[1]],
                "client_hwm_mib": vm_hwm_mib(os.getpid()),
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="bench-dropboxmini-", dir=args.dir))
    server = None
    try:
        source = work / "source.bin"
        make_file(source, args.size_mib)
        start = time.perf_counter()
        shutil.copyfile(source, work / "copy.bin")
        copy_s = time.perf_counter() - start
        (work / "copy.bin").unlink()

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
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--client",
                url,
                str(source),
                str(work / "back.bin"),
                str(server.pid),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout)
        server_mib = vm_hwm_mib(server.pid)
        same = (work / "back.bin").stat().st_size == size
        mib = args.size_mib
        copy_rate = mib / copy_s
        up_rate = mib / result["upload_s"]
        down_rate = mib / result["download_s"]
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
        )
        print(f"file: {mib} MiB in {work}")
        print(f"plain copy (shutil.copyfile): {copy_s:.2f} s  {copy_rate:.0f} MiB/s")
        up_cpu, down_cpu = result["upload_cpu_s"], result["download_cpu_s"]
        print(
            f"upload:   {result['upload_s']:.2f} s  {up_rate:.0f} MiB/s  "
            f"({up_rate / copy_rate:.2f} x copy)  "
            f"CPU client {up_cpu[0]:.2f} s, server {up_cpu[1]:.2f} s"
        )
        print(
            f"download: {result['download_s']:.2f} s  {down_rate:.0f} MiB/s  "
            f"({down_rate / copy_rate:.2f} x copy)  "
            f"CPU client {down_cpu[0]:.2f} s, server {down_cpu[1]:.2f} s"
        )
        print(f"server peak RSS (VmHWM): {server_mib:.0f} MiB (idle {idle_mib:.0f} MiB)")
        print(f"client peak RSS (VmHWM): {result['client_hwm_mib']:.0f} MiB")
        print(f"downloaded size matches: {same}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--client":
        client_main(*sys.argv[2:])
    else:
        main()
