"""Which files an artifact's ``files`` globs name, and where each goes in the payload.

Each pattern's literal leading folders are dropped in the payload (``build/dist/**`` puts
``build/dist/app.bin`` at ``payload/app.bin``); a folder that matches brings every file under
it. Every file resolves inside the working tree and outside ``.git/`` and ``.orch/``.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchestrator.errors import PublishError
from orchestrator.paths import PathEscape, inside

_WILDCARDS = set("*?[")


@dataclass(frozen=True, order=True)
class PayloadFile:
    name: str  # path inside payload/, POSIX
    source: Path


def _literal_prefix(pattern: str) -> PurePosixPath:
    parts = PurePosixPath(pattern).parts
    literal: list[str] = []
    for part in parts:
        if _WILDCARDS & set(part):
            break
        literal.append(part)
    prefix = PurePosixPath(*literal) if literal else PurePosixPath()
    # A pattern without wildcards names a file or folder: keep the file's own name.
    return prefix.parent if len(literal) == len(parts) else prefix


def collect(workdir: Path, patterns: tuple[str, ...], artifact: str) -> list[PayloadFile]:
    """Every payload file, sorted by payload name; raises ``PublishError`` on any problem."""
    found: dict[str, PayloadFile] = {}
    for pattern in patterns:
        prefix = _literal_prefix(pattern)
        # glob.glob, not Path.glob: on 3.11 a trailing "**" in Path.glob yields folders only.
        matches = sorted(glob.glob(pattern, root_dir=workdir, recursive=True))  # noqa: PTH207
        files: list[str] = []
        for match in matches:
            target = workdir / match
            if target.is_dir():
                files.extend(
                    p.relative_to(workdir).as_posix()
                    for p in sorted(target.rglob("*"))
                    if p.is_file()
                )
            elif target.is_file():
                files.append(match)
        if not files:
            raise PublishError(
                f"artifact {artifact!r}: files pattern {pattern!r} matches nothing in "
                f"{workdir}; check the path, or that an earlier step produced it"
            )
        for relative in files:
            try:
                source = inside(workdir, relative)
            except PathEscape as exc:
                raise PublishError(f"artifact {artifact!r}: {exc}") from None
            name = PurePosixPath(relative).relative_to(prefix).as_posix()
            previous = found.get(name)
            if previous is not None and previous.source != source:
                raise PublishError(
                    f"artifact {artifact!r}: two files would both be payload/{name} "
                    f"({previous.source} and {source}); narrow the patterns"
                )
            found[name] = PayloadFile(name=name, source=source)
    return sorted(found.values())
