"""What a store keeps in its root, the checks made when one is opened, and moving a store of
the first layout into the current one.

Layout (version 1)::

    <root>/dropboxmini.sqlite3                     metadata (SQLite, WAL mode: -wal and -shm
                                                   beside it while it is open, -journal briefly
                                                   when it is created)
    <root>/.gitignore                              "*": a store is never committed
    <root>/.tmp/                                   uploads in progress
    <root>/artifacts/<project>/<artifactType>/<artifactId>/<fileName>

Names a client chooses (project, file name) are joined only under ``artifacts/``, which holds
nothing else, so no upload can land on the store's own files. The first layout kept
``<project>/`` folders in the root itself, where a project named like the database's journal
broke the store; :func:`migrate` moves such a store's bytes under ``artifacts/``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import sqlite3
from pathlib import Path, PurePosixPath

from orchestrator.dropboxmini.protocol import (
    DropBoxError,
    StoreDamagedError,
    StoreFullError,
    UnavailableError,
)

log = logging.getLogger("orchestrator.dropboxmini")

DB_NAME = "dropboxmini.sqlite3"
SQLITE_SIDE_FILES = (f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal")
GITIGNORE = ".gitignore"
TMP_DIR = ".tmp"
ARTIFACTS_DIR = "artifacts"
# Every name a store ever puts in its root.
ROOT_NAMES = (DB_NAME, *SQLITE_SIDE_FILES, GITIGNORE, TMP_DIR, ARTIFACTS_DIR)
LAYOUT_VERSION = 1


def artifact_path(project: str, artifact_type: str, artifact_id: str, file_name: str) -> str:
    """The stored file's path relative to the root (``/``-separated, as the database keeps it)."""
    return PurePosixPath(ARTIFACTS_DIR, project, artifact_type, artifact_id, file_name).as_posix()


# --- what went wrong, in one sentence ---------------------------------------------------------


def cannot_write(root: Path, exc: OSError) -> StoreDamagedError | StoreFullError:
    if exc.errno == errno.ENOSPC:
        return StoreFullError(
            f"no space left on device in the store folder {root}; free some space, then try again"
        )
    reason = exc.strerror or type(exc).__name__
    return StoreDamagedError(
        f"cannot write to the store folder {root}: {reason}; make it writable (and free some "
        "space if it is full), then try again"
    )


def read_only(root: Path) -> StoreDamagedError:
    return StoreDamagedError(
        f"the store folder {root} is read-only; make it writable (the database and uploads "
        "are written there)"
    )


def database_problem(root: Path, db_path: Path, exc: sqlite3.Error) -> DropBoxError:
    """The error to raise for ``exc``, met while using the store's database."""
    message = str(exc)
    if "locked" in message or "busy" in message:
        return UnavailableError(
            f"the store's database {db_path} stayed locked by another process; try again"
        )
    if not root.is_dir():
        return StoreDamagedError(
            f"the store folder {root} is gone; restore it from a backup, or start the "
            "service over another folder"
        )
    if not db_path.exists():
        return StoreDamagedError(
            f"the store's database {db_path} is missing; restore it from a backup (a new, "
            "empty database would hand out artifact ids again)"
        )
    if not db_path.is_file():
        return StoreDamagedError(
            f"the store's database {db_path} is not a file; restore it from a backup"
        )
    if not os.access(root, os.W_OK):
        return read_only(root)
    return StoreDamagedError(
        f"the store's database {db_path} cannot be used ({message}); restore it from a "
        f"backup (the artifacts' bytes under {root / ARTIFACTS_DIR} are not touched)"
    )


# --- opening a root ---------------------------------------------------------------------------


def prepare_root(root: Path) -> None:
    """Make ``root`` a usable store folder, or raise :class:`StoreDamagedError` saying why
    it is not. Repairs what the first layout could break: a project folder named like one
    of the database's side files is moved under ``artifacts/``."""
    if root.exists() and not root.is_dir():
        raise StoreDamagedError(
            f"the store root {root} is not a folder; move it away or choose another folder "
            "(a missing one is created)"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreDamagedError(
            f"cannot create the store folder {root}: {exc.strerror}; choose a folder you can "
            "write to"
        ) from None
    db_path = root / DB_NAME
    if db_path.exists() and not db_path.is_file():
        raise StoreDamagedError(
            f"the store's database {db_path} is not a file; move it away and restore the "
            "database from a backup"
        )
    try:
        for name in (TMP_DIR, ARTIFACTS_DIR):
            folder = root / name
            if folder.exists() and not folder.is_dir():
                raise StoreDamagedError(
                    f"{folder} should be the store's {name} folder but is a file; move it away"
                )
            folder.mkdir(exist_ok=True)
        _rescue_side_file_folders(root)
        ignore = root / GITIGNORE
        if not ignore.exists():
            ignore.write_text("# a DropBoxMini store: never commit it\n*\n")
        _probe_writable(root)
    except OSError as exc:
        raise cannot_write(root, exc) from None
    if not db_path.exists() and any((root / ARTIFACTS_DIR).iterdir()):
        raise StoreDamagedError(
            f"the store's database {db_path} is missing but {root / ARTIFACTS_DIR} holds "
            "artifacts; restore the database from a backup (a new, empty one would hand out "
            "artifact ids again)"
        )


def _rescue_side_file_folders(root: Path) -> None:
    """SQLite's side files are never folders: a folder with such a name is a project of the
    first layout, and SQLite cannot open the database while it is there."""
    for name in SQLITE_SIDE_FILES:
        folder = root / name
        if not folder.is_dir() or folder.is_symlink():
            continue
        target = root / ARTIFACTS_DIR / name
        if target.exists():
            raise StoreDamagedError(
                f"{folder} is in the way of the store's database and {target} exists too; "
                "move one of them away"
            )
        folder.rename(target)
        log.warning("moved the project folder %s out of the way to %s", folder, target)


def _probe_writable(root: Path) -> None:
    # Named like an upload, so one left by a process that died is removed like one.
    probe = root / TMP_DIR / f"upload-{os.getpid()}-probe{secrets.token_hex(4)}.part"
    probe.touch(exist_ok=False)
    probe.unlink()


# --- from the first layout to this one ---------------------------------------------------------


def layout_version(db: sqlite3.Connection) -> int:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return int(version)


def migrate(db: sqlite3.Connection, root: Path) -> int:
    """Move every artifact of a first-layout store under ``artifacts/``; returns how many.

    Runs inside the caller's write transaction. A file is renamed before its row changes, so
    a migration cut short is finished by the next one: a row whose file is already in its
    new place only has its path updated. Nothing is deleted except folders left empty.
    """
    version = layout_version(db)
    if version == LAYOUT_VERSION:
        return 0
    if version > LAYOUT_VERSION:
        raise StoreDamagedError(
            f"the store at {root} has layout version {version}, newer than this orch knows "
            f"({LAYOUT_VERSION}); use a newer orch"
        )
    moved = 0
    rows = db.execute("SELECT artifact_id, rel_path FROM artifacts").fetchall()
    for artifact_id, rel_text in rows:
        rel = PurePosixPath(str(rel_text))
        if rel.is_absolute() or ".." in rel.parts or len(rel.parts) != 4:
            raise StoreDamagedError(
                f"the store's database {root / DB_NAME} records the path {str(rel_text)!r} for "
                f"artifact {artifact_id}, which is not a store path; restore it from a backup"
            )
        old, new = root.joinpath(*rel.parts), root.joinpath(ARTIFACTS_DIR, *rel.parts)
        if old.is_file() and not old.is_symlink():
            new.parent.mkdir(parents=True, exist_ok=True)
            old.replace(new)
            moved += 1
            _remove_empty_folders(old.parent, root)
        elif not new.is_file():
            log.warning("artifact %s: its bytes were already missing from %s", artifact_id, old)
        db.execute(
            "UPDATE artifacts SET rel_path = ? WHERE artifact_id = ?",
            (PurePosixPath(ARTIFACTS_DIR, rel).as_posix(), artifact_id),
        )
    db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")
    if moved:
        log.warning("moved %d artifacts of %s under %s/", moved, root, ARTIFACTS_DIR)
    return moved


def _remove_empty_folders(folder: Path, root: Path) -> None:
    keep = {root, root / ARTIFACTS_DIR}
    while folder not in keep and root in folder.parents:
        with contextlib.suppress(OSError):
            folder.rmdir()
        if folder.exists():
            return
        folder = folder.parent
