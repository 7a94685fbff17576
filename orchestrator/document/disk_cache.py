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
may write to it; otherwise orch reads and writes nothing there.

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
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from orchestrator.model import Document

# Bumped when the model changes shape in a way the fingerprint would not see (it sees every
# edit of orch's files, so this is for a change that ships without one: never so far).
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
    # As the XDG specification says, a relative XDG_CACHE_HOME is ignored; so is a home
    # that cannot be found (expanduser then leaves "~" as it is).
    base = Path(environ.get("XDG_CACHE_HOME", ""))
    if not base.is_absolute():
        home = Path(environ.get("HOME") or Path("~").expanduser())
        if not home.is_absolute():
            return None
        base = home / ".cache"
    return base / "orch" / "documents"


def recall(text: str, path: Path) -> Document | None:
    """The document parsed before from exactly this ``text`` shown as ``path``, or None."""
    place = _usable_folder(create=False)
    key = _key(text, path) if place is not None else None
    if place is None or key is None:
        return None
    entry = place / key
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    try:
        stored_key, doc = pickle.loads(data)  # noqa: S301 (a folder only this user writes)
    except Exception:  # a damaged entry is a miss, whatever unpickling made of it
        doc = None
        stored_key = None
    if stored_key != key or not isinstance(doc, Document):
        entry.unlink(missing_ok=True)
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # what was used last is pruned last
    return doc


def keep(text: str, path: Path, doc: Document) -> None:
    """Remember ``doc``, parsed from ``text`` shown as ``path``; a failure to write is no
    error (a full disk or a read-only home only means the next run parses again)."""
    if folder() is None:
        return
    key = _key(text, path)
    place = _usable_folder(create=True) if key is not None else None
    if place is None or key is None:
        return
    try:
        handle, temporary = tempfile.mkstemp(dir=place, prefix=".writing-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(pickle.dumps((key, doc), protocol=pickle.HIGHEST_PROTOCOL))
        Path(temporary).replace(place / key)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return
    # Counting the entries reads the whole folder: about one write in 256 does it (those whose
    # name starts "00"), so the folder holds a little over KEEP_ENTRIES at most.
    if key.startswith("00"):
        _prune(place)


def _usable_folder(*, create: bool) -> Path | None:
    place = folder()
    if place is None:
        return None
    try:
        if create:
            place.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = place.stat()
    except OSError:
        return None
    foreign = info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return None if foreign or not stat.S_ISDIR(info.st_mode) else place


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


def _prune(place: Path) -> None:
    try:
        with os.scandir(place) as found:
            items = list(found)
        if len(items) <= KEEP_ENTRIES:
            return
        abandoned = time.time() - _ABANDONED_AFTER_SECONDS
        for item in items:
            if item.name.startswith(".writing-") and item.stat().st_mtime < abandoned:
                Path(item.path).unlink()
        entries = [item for item in items if not item.name.startswith(".")]
        entries.sort(key=lambda item: item.stat().st_mtime_ns)
        for item in entries[: max(0, len(entries) - _PRUNED_TO)]:
            Path(item.path).unlink()
    except OSError:
        pass  # another orch pruned at the same time, or the folder went away
