"""Which files an artifact's ``files`` globs name, and where each goes in the payload.

The globs follow orch's one set of rules (``orchestrator.globs``), read in order: ``!glob``
takes out again what the globs before it brought. Each pattern's literal leading folders are
dropped in the payload (``build/dist/**`` puts ``build/dist/app.bin`` at ``payload/app.bin``);
a folder that matches brings every file under it. Every file resolves inside the working tree
and outside ``.git/`` and ``.orch/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchestrator.errors import PublishError
from orchestrator.globs import Glob, GlobError, parse_pattern, walk
from orchestrator.paths import PathEscape, inside


@dataclass(frozen=True, order=True)
class PayloadFile:
    name: str  # path inside payload/, POSIX
    source: Path


def _files_under(workdir: Path, folder: str) -> list[str]:
    return [
        relative
        for relative, is_folder in walk(workdir, folder)
        if not is_folder and (workdir / relative).is_file()
    ]


def _matches(workdir: Path, glob: Glob) -> list[str]:
    """The files ``glob`` names: matching files, and every file under a matching folder."""
    if glob.literal is not None:
        candidates = [glob.literal] if (workdir / glob.literal).exists() else []
    else:
        walked = walk(workdir, glob.folder)
        candidates = [relative for relative, _ in walked if glob.matches(relative)]
    files: set[str] = set()
    for match in candidates:
        target = workdir / match
        if target.is_dir():
            files.update(_files_under(workdir, match))
        elif target.is_file():
            files.add(match)
    return sorted(files)


def _nothing(workdir: Path, pattern: str, artifact: str) -> PublishError:
    message = (
        f"artifact {artifact!r}: files pattern {pattern!r} matches nothing in {workdir}; "
        "check the path, or that an earlier step produced it"
    )
    if any(char in pattern for char in "+?") and (workdir / pattern).exists():
        message += (
            f" ({pattern} exists: '+' and '?' repeat the character before them, so write "
            "'\\+' or '\\?' to match the character itself)"
        )
    return PublishError(message)


def collect(workdir: Path, patterns: tuple[str, ...], artifact: str) -> list[PayloadFile]:
    """Every payload file, sorted by payload name; raises ``PublishError`` on any problem."""
    chosen: list[tuple[Glob, list[str]]] = []  # each including pattern and the files it brings
    for pattern in patterns:
        try:
            excludes, glob = parse_pattern(pattern)
            if glob.folder or glob.literal:
                inside(workdir, glob.literal or glob.folder)
        except GlobError as exc:
            raise PublishError(f"artifact {artifact!r}: files pattern '{pattern}' {exc}") from None
        except PathEscape as exc:
            raise PublishError(f"artifact {artifact!r}: files pattern '{pattern}': {exc}") from None
        if excludes:
            for _, files in chosen:
                files[:] = [relative for relative in files if not glob.matches(relative)]
            continue
        files = _matches(workdir, glob)
        if not files:
            raise _nothing(workdir, pattern, artifact)
        chosen.append((glob, files))
    found: dict[str, PayloadFile] = {}
    for glob, files in chosen:
        # A pattern without wildcards names a file or folder: keep that one's own name.
        prefix = PurePosixPath(glob.folder)
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
    if not found:
        raise PublishError(
            f"artifact {artifact!r}: the '!' patterns of files {list(patterns)} exclude every "
            "file the others match; narrow the exclusions"
        )
    return sorted(found.values())
