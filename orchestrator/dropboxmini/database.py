"""The store's metadata database (SQLite): its schema, connections that turn SQLite's
failures into the store's errors, the checks made when it is opened, and its rows as records."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from orchestrator.dropboxmini.layout import (
    LAYOUT_VERSION,
    cannot_write,
    database_problem,
    layout_version,
    migrate,
)
from orchestrator.dropboxmini.protocol import ArtifactRecord, ArtifactType, StoreDamagedError

SCHEMA = """
CREATE TABLE IF NOT EXISTS artifacts (
    artifact_id   TEXT PRIMARY KEY,
    day           TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    artifact_type TEXT NOT NULL,
    project       TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    baseline      INTEGER,
    patch         INTEGER,
    label         TEXT,
    description   TEXT,
    tags          TEXT NOT NULL,
    source        TEXT,
    created_by    TEXT,
    created_utc   TEXT NOT NULL,
    rel_path      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_order ON artifacts (day DESC, seq DESC);
CREATE UNIQUE INDEX IF NOT EXISTS delivery_patch_unique
    ON artifacts (project, patch) WHERE artifact_type = 'delivery-patch';
CREATE TABLE IF NOT EXISTS day_counters (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
"""

COLUMNS = (
    "artifact_id, artifact_type, project, file_name, size, sha256, baseline, patch, label, "
    "description, tags, source, created_by, created_utc, rel_path"
)


class Database:
    """The database of the store at ``root``."""

    def __init__(self, root: Path, db_path: Path) -> None:
        self.root = root
        self.db_path = db_path

    def open(self, *, check: bool = False) -> None:
        """Create or open the database, check it when asked, and bring an older layout
        up to date."""
        with self.connect(create=True) as db:
            if check:
                self._quick_check(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            if layout_version(db) != LAYOUT_VERSION:
                self._migrate(db)

    @contextlib.contextmanager
    def connect(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection; any SQLite failure but a bug of ours becomes the store's error.

        Only opening the store may create the database: one that disappears later is
        reported missing, not silently replaced by an empty one.
        """
        uri = f"{self.db_path.as_uri()}?mode={'rwc' if create else 'rw'}"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise database_problem(self.root, self.db_path, exc) from None
        try:
            db.execute("PRAGMA busy_timeout=60000")
            yield db
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.DatabaseError as exc:
            raise database_problem(self.root, self.db_path, exc) from None
        finally:
            db.close()

    def _quick_check(self, db: sqlite3.Connection) -> None:
        found = [str(row[0]) for row in db.execute("PRAGMA quick_check(3)").fetchall()]
        if found != ["ok"]:
            problems = " ".join(" ".join(found).replace("*** in database main ***", "").split())
            raise StoreDamagedError(
                f"the store's database {self.db_path} is damaged ({problems[:200]}); restore "
                "it from a backup"
            )

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            migrate(db, self.root)
            db.execute("COMMIT")
        except OSError as exc:
            db.execute("ROLLBACK")
            raise cannot_write(self.root, exc) from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def record(self, row: tuple[object, ...]) -> ArtifactRecord:
        try:
            return self._parse(row)
        except (TypeError, ValueError) as exc:
            raise StoreDamagedError(
                f"the store's database {self.db_path} holds a record that is not valid "
                f"({str(row[0])[:40]!r}: {exc}); restore the database from a backup"
            ) from None

    def _parse(self, row: tuple[object, ...]) -> ArtifactRecord:
        aid, atype, proj, name, size, sha, base, patch, label, desc, tags, src, by, utc, rel = row
        stored = PurePosixPath(str(rel))
        if stored.is_absolute() or ".." in stored.parts:
            raise ValueError(f"its path {str(rel)!r} leaves the store")
        return ArtifactRecord(
            artifact_id=str(aid),
            artifact_type=ArtifactType(str(atype)),
            project=str(proj),
            file_name=str(name),
            size=int(str(size)),
            sha256=str(sha),
            baseline=None if base is None else int(str(base)),
            patch=None if patch is None else int(str(patch)),
            label=None if label is None else str(label),
            description=None if desc is None else str(desc),
            tags=tuple(json.loads(str(tags))),
            source=None if src is None else str(src),
            created_by=None if by is None else str(by),
            created_utc=str(utc),
            storage_path=str(self.root / str(rel)),
        )
