"""DropBoxMini upload/download throughput and peak memory against a plain file copy.

    .venv/bin/python benchmarks/bench_dropboxmini.py [--size-mib N] [--rounds R] [--pause S]

Creates an N MiB file (default 1024) and starts the server in its own process, plus two
reduced servers that show where an upload's time goes: ``parse-only`` runs the same
uvicorn + multipart reception but drops the file's bytes, ``parse+hash`` also hashes them
(sha256) without writing them. Each round times, in this order: ``shutil.copyfile`` of the
file on the same disk, the upload, the upload to each reduced server, another copy, and the
download of the uploaded artifact. Each transfer is compared with the copy just before it.
Each client runs in its own process, started before the clock and told to go on its
standard input, so process start-up is not timed; every timed operation waits ``--pause``
seconds first, so each starts from the same quiet machine.

Each round also makes the download with httpx's public API instead of orch's read from the
socket (``PublicApiClient`` below: ``Client.stream`` with ``iter_raw``), the two in
alternating order, so the two are compared in the same rounds against the same server.
(Uploads go through httpx's own multipart encoder, ``files=`` with the open file, in both.)

On a virtual machine the cost of writing a new 1 GiB file swings by ten times from one
minute to the next (memory the guest handed back to the host faults in again page by page),
so the results are medians over rounds, with each operation's CPU seconds alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-key"
MIB = 1024 * 1024
REDUCED = ("parse-only", "parse+hash")
PHASES = {
    ("download", "orch"): "download",
    ("download", "public"): "download, httpx iter_raw",
}


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def public_api_client(url: str) -> Any:
    """``DropBoxClient`` with downloads read through httpx's public streaming API."""
    from orchestrator.dropboxmini import DropBoxClient, protocol
    from orchestrator.dropboxmini.verify import save_verified

    class PublicApiClient(DropBoxClient):
        def download(self, artifact_id: str, dest: Path) -> protocol.ArtifactRecord:
            record = self.get(artifact_id)
            with self._http.stream("GET", record.download_path) as response:
                response.raise_for_status()
                save_verified(dest, response.iter_raw(), record)
            return record

    return PublicApiClient(url, KEY, timeout=600)


def client_main(
    phase: str, url: str, target: str, path: str, server_pid: str, variant: str = "orch"
) -> None:
    """One transfer, started when a line arrives on stdin: ``upload`` of the file at
    ``path``, or ``download`` of artifact ``target`` to ``path``, by orch's client or
    (``variant`` ``public``) by the one on httpx's public API."""
    from orchestrator.dropboxmini import DropBoxClient, UploadFields

    me, server = os.getpid(), int(server_pid)
    made = DropBoxClient(url, KEY, timeout=600) if variant == "orch" else public_api_client(url)
    with made as client:
        client.status()
        print("ready", flush=True)
        sys.stdin.readline()
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


def reduced_server_main(mode: str, root: str, port: str, max_bytes: str) -> None:
    """The real server with the file's bytes dropped (``parse-only``) or only hashed
    (``parse+hash``) instead of hashed and written."""
    from orchestrator.dropboxmini import server, store

    def absorb(self: store.PendingUpload, chunks: Iterable[bytes | memoryview]) -> None:
        if mode == "parse+hash":
            for chunk in chunks:
                self._hash.update(chunk)

    store.PendingUpload.absorb = absorb  # type: ignore[method-assign]
    server.serve(Path(root), port=int(port), max_bytes=int(max_bytes))


def write_file(path: Path, size_mib: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(block)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_seconds(source: Path, pause: float) -> float:
    copy = source.with_name("copy.bin")
    time.sleep(pause)
    start = time.perf_counter()
    shutil.copyfile(source, copy)
    seconds = time.perf_counter() - start
    copy.unlink()
    return seconds


def transfer(
    phase: str,
    url: str,
    target: str,
    path: Path,
    server_pid: int,
    pause: float,
    variant: str = "orch",
) -> dict[str, Any]:
    client = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--client",
            phase,
            url,
            target,
            str(path),
            str(server_pid),
            variant,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdin is not None and client.stdout is not None
    if client.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the {phase} client did not start")
    time.sleep(pause)
    client.stdin.write("go\n")
    client.stdin.flush()
    out, _ = client.communicate(timeout=900)
    if client.returncode != 0:
        raise RuntimeError(f"the {phase} client failed ({client.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


def start_server(command: list[str], root: Path, size: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DROPBOX_API_KEYS_JSON": json.dumps({"keys": [{"value": KEY, "role": "readwrite"}]}),
    }
    server = subprocess.Popen(
        [*command, "--root", str(root), "--port", str(port), "--max-bytes", str(size + 1)],
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return server, url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def report(rows: list[dict[str, Any]], mib: int) -> None:
    for row in rows:
        copy_rate, rate = mib / row["copy_s"], mib / row["seconds"]
        row["ratio"] = rate / copy_rate
        print(
            f"  copy {row['copy_s']:5.2f} s {copy_rate:5.0f} MiB/s | {row['phase']:24} "
            f"{row['seconds']:5.2f} s {rate:5.0f} MiB/s {row['ratio']:5.2f} x copy | CPU "
            f"client {row['client_cpu_s']:.2f} s, server {row['server_cpu_s']:.2f} s"
        )
    print("medians:")
    for phase in dict.fromkeys(row["phase"] for row in rows):
        mine = [row for row in rows if row["phase"] == phase]
        seconds = statistics.median(row["seconds"] for row in mine)
        print(
            f"  {phase:24} {seconds:5.2f} s {mib / seconds:5.0f} MiB/s "
            f"{statistics.median(row['ratio'] for row in mine):5.2f} x copy "
            f"(range {min(row['ratio'] for row in mine):.2f}-"
            f"{max(row['ratio'] for row in mine):.2f}); CPU client "
            f"{statistics.median(row['client_cpu_s'] for row in mine):.2f} s, server "
            f"{statistics.median(row['server_cpu_s'] for row in mine):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds before each timing")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    mib, pause = args.size_mib, args.pause
    work = Path(tempfile.mkdtemp(prefix="bench-dropboxmini-", dir=args.dir))
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        source, back = work / "source.bin", work / "back.bin"
        write_file(source, mib)
        servers["server"] = start_server(
            [sys.executable, "-m", "orchestrator.dropboxmini"], work / "store", mib * MIB
        )
        for mode in REDUCED:
            servers[mode] = start_server(
                [sys.executable, __file__, "--reduced-server", mode], work / mode, mib * MIB
            )
        (server, url) = servers["server"]
        idle_mib = vm_hwm_mib(server.pid)
        print(
            f"machine: {os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
        )
        print(f"file: {mib} MiB in {work}; {args.rounds} rounds, {pause:g} s pause")
        rows: list[dict[str, Any]] = []
        client_mib: dict[str, float] = {"orch": 0.0, "public": 0.0}
        for round_ in range(args.rounds):
            variants = ("orch", "public") if round_ % 2 == 0 else ("public", "orch")
            copy_s = copy_seconds(source, pause)
            up = transfer("upload", url, "-", source, server.pid, pause)
            rows.append({"phase": "upload", "copy_s": copy_s, **up})
            client_mib["orch"] = max(client_mib["orch"], up["client_hwm_mib"])
            for mode in REDUCED:
                process, reduced_url = servers[mode]
                result = transfer("upload", reduced_url, "-", source, process.pid, pause)
                rows.append({"phase": f"upload ({mode})", "copy_s": copy_s, **result})
            copy_s = copy_seconds(source, pause)
            for variant in variants:
                down = transfer(
                    "download", url, up["artifact_id"], back, server.pid, pause, variant
                )
                rows.append({"phase": PHASES["download", variant], "copy_s": copy_s, **down})
                if back.stat().st_size != mib * MIB or down["sha256"] != up["sha256"]:
                    raise RuntimeError("the downloaded file differs from the uploaded one")
                back.unlink()
                client_mib[variant] = max(client_mib[variant], down["client_hwm_mib"])
        report(rows, mib)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average at the end: {load}")
        print(f"server peak RSS (VmHWM): {vm_hwm_mib(server.pid):.0f} MiB (idle {idle_mib:.0f})")
        for variant, peak in client_mib.items():
            print(f"client peak RSS (VmHWM), {variant} client: {peak:.0f} MiB")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--client":
        client_main(*sys.argv[2:])
    elif len(sys.argv) == 9 and sys.argv[1] == "--reduced-server":
        mode, _, root, _, port, _, max_bytes = sys.argv[2:]
        reduced_server_main(mode, root, port, max_bytes)
    else:
        main()
