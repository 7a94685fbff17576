"""Reading objects with ``git cat-file --batch``: git resolves packed objects (deltas,
alternates) itself, and many objects cost one process.

A server reading thousands of run records at start-up asks for all of them at once; the
object store asks for the packed objects a read needs (loose objects it reads itself), all
of a listing's run folders at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import TraceError
from orchestrator.trace.gitcmd import run_git


def read_objects(git_dir: Path, shas: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """``{id: (type, content)}`` of the objects ``shas``; missing ones are left out."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    out = run_git("cat-file", "--batch", git_dir=git_dir, stdin=("\n".join(wanted) + "\n").encode())
    found: dict[str, tuple[str, bytes]] = {}
    position = 0
    for sha in wanted:
        end = out.find(b"\n", position)
        if end < 0:
            raise TraceError(f"git cat-file --batch stopped early in {git_dir}")
        header = out[position:end].split()
        position = end + 1
        if len(header) != 3:  # "<id> missing" (or ambiguous)
            continue
        size = int(header[2])
        found[sha] = (header[1].decode(), out[position : position + size])
        position += size + 1
    return found
