"""Step outputs (``$ORCH_OUTPUT``) and step logs (size-capped, masked)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.masking import Masker

DEFAULT_LOG_CAP_BYTES = 1 << 20


def parse_outputs(text: str) -> dict[str, str]:
    """``key=value`` lines, and ``key<<DELIM`` ... ``DELIM`` for multi-line values."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            outputs[key.strip()] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key.strip()] = value
    return {key: value for key, value in outputs.items() if key}


def read_outputs(path: Path, masker: Masker) -> dict[str, str]:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    return {key: masker.mask(value) for key, value in parse_outputs(text).items()}


def write_log(path: Path, text: str, cap_bytes: int = DEFAULT_LOG_CAP_BYTES) -> None:
    """Write a step log, keeping its end when it is over the cap (the end explains failures)."""
    data = text.encode("utf-8")
    if len(data) > cap_bytes:
        dropped = len(data) - cap_bytes
        note = f"[orch: log capped at {cap_bytes} bytes; the first {dropped} bytes were dropped]\n"
        data = note.encode() + data[dropped:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])
