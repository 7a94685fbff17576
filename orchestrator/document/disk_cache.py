"""Documents read before, kept on disk so that running one again skips parsing it.

Parsing a document is a pure function of its text, the path it is shown as, and the code
that parses it (orch's package, the Markdown and YAML parsers, Jinja, croniter and the
``tzdata`` package the checks consult). An entry's name is the SHA-256 of all of those, so
an entry is never stale: an edited document, another path, an upgraded package or an
edited orch simply name another entry. The code is fingerprinted by the size and
modification time of every file of orch's package, and by the modification time of the
folder each of those packages is installed in (installing, upgrading or removing a package
there changes it). Where orch's package cannot be read to fingerprint it, the cache is off.
The system's own zone database is not fingerprinted: a zone that leaves it is reported
when the schedule is next evaluated.

Only documents that parsed go in; a document with errors is read again each time, so its
messages always come from the parser. Anything wrong with an entry (unreadable, truncated,
written by another Python) makes it a miss, and it is written again: the cache can make a
run faster, never make it fail.

Entries are pickles, which run code when read, like the ``__pycache__`` Python itself
keeps. So the folder is used only when it belongs to the user running orch and nobody else
may write to it (and is no symbolic link); otherwise orch reads and writes nothing there.
The folder is opened once and checked through that descriptor, and every entry is read and
written relative to it, so no one can swap another folder in between the check and the use.

The folder is ``$ORCH_CACHE_DIR`` (set but empty: no cache), else ``$XDG_CACHE_HOME/orch``,
else ``~/.cache/orch``; entries live in its ``documents/``. It keeps the ``KEEP_ENTRIES``
most recently used entries, give or take the writes between two prunings.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import stat
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from orchestrator.model import Document

# Part of every key: raising it sets every entry aside at once. The fingerprint already sees
# every edit of orch's files, so it is for a change of the entries' own form.
FORMAT = 1
KEEP_ENTRIES = 4096
_PRUNED_TO = 3072
# A write that died between creating its file and renaming it leaves the file behind.
_ABANDONED_AFTER_SECONDS = 3600
# The packages whose code decides what a document parses to, besides orch's own.
_PARSING_PACKAGES = ("markdown_it", "mdurl", "ruamel", "jinja2", "markupsafe", "croniter", "tzdata")
_PACKAGE = Path(__file__).resolve().parents[1]


def folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache's ``documents/`` folder, or None when the cache is turned off."""
    environ = os.environ if environ is None else environ
    configured = environ.get("ORCH_CACHE_DIR")
    if configured is not None:
        return Path(configured) / "documents" if configured else None
    # As the XDG specification says, a relative XDG_CACHE_HOME is ignored. Without a home
    # (no HOME, and none in the user database), there is no cache.
    base = Path(environ.get("XDG_CACHE_HOME", ""))
    if not base.is_absolute():
        try:
            home = Path(environ.get("HOME") or Path("~").expanduser())
        except RuntimeError:
            return None
        if not home.is_absolute():
            return None
        base = home / ".cache"
    return base / "orch" / "documents"


def recall(text: str, path: Path) -> Document | None:
    """The document parsed before from exactly this ``text`` shown as ``path``, or None."""
    with _opened_folder(create=False) as place:
        key = _key(text, path) if place is not None else None
        if place is None or key is None:
            return None
        try:
            handle = os.open(key, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=place)
        except OSError:
            return None
        try:
            with os.fdopen(handle, "rb") as entry:
                stored_key, doc = pickle.loads(entry.read())  # noqa: S301 (see the module)
        except Exception:  # a damaged entry is a miss, whatever unpickling made of it
            doc = None
            stored_key = None
        found = stored_key == key and isinstance(doc, Document)
        with contextlib.suppress(OSError):
            if found:
                os.utime(key, dir_fd=place)  # what was used last is pruned last
            else:
                os.unlink(key, dir_fd=place)
        return doc if found else None


def keep(text: str, path: Path, doc: Document) -> None:
    """Remember ``doc``, parsed from ``text`` shown as ``path``; a failure to write is no
    error (a full disk or a read-only home only means the next run parses again)."""
    if folder() is None:
        return
    key = _key(text, path)
    if key is None:
        return
    with _opened_folder(create=True) as place:
        if place is None:
            return
        temporary = f".writing-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            handle = os.open(temporary, flags, 0o600, dir_fd=place)
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(pickle.dumps((key, doc), protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(temporary, key, src_dir_fd=place, dst_dir_fd=place)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=place)
            return
        # Counting the entries reads the whole folder: about one write in 256 does it (those
        # whose name starts "00"), so the folder holds a little over KEEP_ENTRIES at most.
        if key.startswith("00"):
            _prune(place)


@contextlib.contextmanager
def _opened_folder(*, create: bool) -> Iterator[int | None]:
    """The cache's folder, opened once, when this user owns it and no one else may write to
    it; None otherwise. Every entry is read and written through this descriptor, so the
    folder checked is the folder used, whatever happens to its path meanwhile."""
    place = folder()
    if place is None:
        yield None
        return
    try:
        if create:
            place.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(place, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        yield None
        return
    try:
        info = os.fstat(descriptor)
        foreign = info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        yield None if foreign else descriptor
    finally:
        os.close(descriptor)


# Computed on first use; "" when orch's package could not be read (the cache is then off).
_fingerprint: str | None = None


def _key(text: str, path: Path) -> str | None:
    global _fingerprint
    if _fingerprint is None:
        try:
            _fingerprint = _code_fingerprint()
        except OSError:
            _fingerprint = ""
    if not _fingerprint:
        return None
    digest = hashlib.sha256()
    for part in (_fingerprint, str(path), text):
        encoded = part.encode("utf-8", "surrogateescape")
        digest.update(b"%d:" % len(encoded) + encoded)
    return digest.hexdigest()


def _code_fingerprint() -> str:
    parts = [f"format {FORMAT}", sys.version, sys.executable]
    folders = [_PACKAGE]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for item in entries:
                if item.is_dir(follow_symlinks=False):
                    if item.name != "__pycache__":
                        folders.append(Path(item.path))
                    continue
                info = item.stat(follow_symlinks=False)
                parts.append(f"{item.path} {info.st_mtime_ns} {info.st_size}")
    for name in _PARSING_PACKAGES:
        parts.append(f"{name} {_installed_at(name)}")
    parts[3:] = sorted(parts[3:])
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _installed_at(package: str) -> str:
    """Where ``package`` is installed and when that folder last changed (found, not imported)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return "absent"
    locations = list(spec.submodule_search_locations or [spec.origin or ""])
    installed_in = Path(locations[0]).parent
    try:
        return f"{installed_in} {installed_in.stat().st_mtime_ns}"
    except OSError:
        return f"{installed_in} -"


def _prune(place: int) -> None:
    """Remove the least recently used entries beyond ``KEEP_ENTRIES`` from the folder opened
    as ``place``, and writes abandoned long ago."""
    try:
        with os.scandir(place) as found:
            items = [(item.name, item.stat(follow_symlinks=False).st_mtime_ns) for item in found]
        if len(items) <= KEEP_ENTRIES:
            return
        abandoned = (time.time() - _ABANDONED_AFTER_SECONDS) * 1e9
        for name, changed in items:
            if name.startswith(".writing-") and changed < abandoned:
                os.unlink(name, dir_fd=place)
        entries = sorted((changed, name) for name, changed in items if not name.startswith("."))
        for _, name in entries[: max(0, len(entries) - _PRUNED_TO)]:
            os.unlink(name, dir_fd=place)
    except OSError:
        pass  # another orch pruned at the same time
