"""The artifact store over one folder: bytes on disk, metadata in SQLite.

Layout (see :mod:`orchestrator.dropboxmini.layout`)::

    <root>/dropboxmini.sqlite3                                          metadata (WAL mode)
    <root>/.tmp/upload-<pid>-<random>.part                              uploads in progress
    <root>/artifacts/<project>/<artifactType>/<artifactId>/<fileName>   stored bytes

An upload streams into a temporary file under the root, hashing as it goes; only when the
bytes are complete and valid is the file renamed into place and its row committed, inside
one ``BEGIN IMMEDIATE`` transaction that also allocates the ``YYYYMMDD-NNN`` id. Several
processes may share one root. Damage the store cannot repair (a database that is not one,
missing bytes, a folder it cannot write) raises :class:`StoreDamagedError`, never a bare
``sqlite3`` or ``OSError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from orchestrator.dropboxmini.database import COLUMNS, Database
from orchestrator.dropboxmini.layout import (
    DB_NAME,
    TMP_DIR,
    artifact_path,
    cannot_write,
    prepare_root,
    read_only,
)
from orchestrator.dropboxmini.pending import CHUNK as CHUNK
from orchestrator.dropboxmini.pending import WRITE_PIECE as WRITE_PIECE
from orchestrator.dropboxmini.pending import PendingUpload
from orchestrator.dropboxmini.protocol import (
    DEFAULT_LIST_LIMIT,
    DEFAULT_MAX_BYTES,
    ArtifactRecord,
    ArtifactType,
    ConflictError,
    FieldError,
    NotFoundError,
    StoreDamagedError,
    UploadFields,
    ValidUpload,
    format_number,
    format_utc,
    is_artifact_id,
    utc_now,
    validate_upload,
)

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PutResult:
    record: ArtifactRecord
    created: bool


@dataclass(frozen=True)
class StoreStatus:
    artifact_count: int
    baseline: int | None

    @property
    def baseline_text(self) -> str | None:
        return format_number(self.baseline)


class Store:
    """One DropBoxMini store. ``baseline`` None leaves delivery-patch baselines unchecked;
    ``check`` runs SQLite's ``quick_check`` over the database when it is opened (a server
    does, a short-lived client need not)."""

    def __init__(
        self,
        root: Path,
        baseline: int | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        check: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.baseline = baseline
        self.max_bytes = max_bytes
        self.tmp_dir = self.root / TMP_DIR
        self.db_path = self.root / DB_NAME
        prepare_root(self.root)
        self._db = Database(self.root, self.db_path)
        self._db.open(check=check)
        self.remove_stale_uploads()

    def remove_stale_uploads(self) -> int:
        """Delete temporary files left by processes that no longer run; returns the count."""
        removed = 0
        for part in self.tmp_dir.glob("upload-*.part"):
            try:
                pid = int(part.name.split("-")[1])
            except (IndexError, ValueError):
                pid = -1
            if pid == os.getpid() or _alive(pid):
                continue
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
                removed += 1
        return removed

    # --- writing ----------------------------------------------------------------------

    def begin_upload(self) -> PendingUpload:
        return PendingUpload(self.tmp_dir, self.max_bytes)

    def put(self, stream: BinaryIO | Iterable[bytes], fields: UploadFields) -> PutResult:
        """Validate ``fields``, stream the bytes in and store them (see ``commit``)."""
        valid = validate_upload(fields)
        pending = self.begin_upload()
        try:
            pending.copy_from(stream)
            return self.commit(pending, valid)
        finally:
            pending.discard()

    def commit(self, pending: PendingUpload, fields: UploadFields | ValidUpload) -> PutResult:
        """Check the received bytes and store them; the pending file is consumed or left
        for the caller to discard."""
        valid = fields if isinstance(fields, ValidUpload) else validate_upload(fields)
        pending.close()
        self._check_content(valid, pending)
        if (
            valid.artifact_type is ArtifactType.DELIVERY_PATCH
            and self.baseline is not None
            and valid.baseline != self.baseline
        ):
            raise FieldError(
                "baseline",
                f"is {format_number(valid.baseline)} but this service's current baseline "
                f"is {format_number(self.baseline)}",
            )
        now = utc_now()
        with self._db.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                existing = self._existing_patch(db, valid)
                if existing is not None:
                    db.execute("ROLLBACK")
                    if existing.sha256 == pending.sha256:
                        return PutResult(existing, created=False)
                    raise ConflictError(
                        f"project {valid.project!r} already has delivery-patch "
                        f"{format_number(valid.patch)} ({existing.artifact_id}) with different "
                        "bytes; use a new patch number"
                    )
                record = self._insert(db, valid, pending, now)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return PutResult(record, created=True)

    def _check_content(self, valid: ValidUpload, pending: PendingUpload) -> None:
        if valid.artifact_type is ArtifactType.DELIVERY_PATCH:
            if not pending.head.startswith(_ZIP_MAGIC) or not zipfile.is_zipfile(pending.path):
                raise FieldError("file", "a delivery-patch must be a zip archive")
        elif valid.artifact_type is ArtifactType.SCREENSHOT and pending.head != _PNG_MAGIC:
            raise FieldError("file", "a screenshot must be a PNG image")

    def _existing_patch(self, db: sqlite3.Connection, valid: ValidUpload) -> ArtifactRecord | None:
        if valid.artifact_type is not ArtifactType.DELIVERY_PATCH:
            return None
        row = db.execute(
            f"SELECT {COLUMNS} FROM artifacts WHERE artifact_type = ? AND project = ? "  # noqa: S608
            "AND patch = ?",
            (valid.artifact_type.value, valid.project, valid.patch),
        ).fetchone()
        return None if row is None else self._db.record(row)

    def _insert(
        self, db: sqlite3.Connection, valid: ValidUpload, pending: PendingUpload, now: datetime
    ) -> ArtifactRecord:
        day = now.strftime("%Y%m%d")
        db.execute(
            "INSERT INTO day_counters (day, last) VALUES (?, 1) "
            "ON CONFLICT (day) DO UPDATE SET last = last + 1",
            (day,),
        )
        (seq,) = db.execute("SELECT last FROM day_counters WHERE day = ?", (day,)).fetchone()
        artifact_id = f"{day}-{seq:03d}"
        rel = artifact_path(valid.project, valid.artifact_type.value, artifact_id, valid.file_name)
        target = self.root / rel
        if self.root not in target.resolve().parents:
            raise FieldError("file", "the file name would leave the store")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            pending.path.replace(target)
        except OSError as exc:
            raise cannot_write(self.root, exc) from None
        try:
            db.execute(
                f"INSERT INTO artifacts (day, seq, {COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    day,
                    seq,
                    artifact_id,
                    valid.artifact_type.value,
                    valid.project,
                    valid.file_name,
                    pending.size,
                    pending.sha256,
                    valid.baseline,
                    valid.patch,
                    valid.label,
                    valid.description,
                    json.dumps(list(valid.tags)),
                    valid.source,
                    valid.created_by,
                    format_utc(now),
                    rel,
                ),
            )
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink()
                target.parent.rmdir()
            raise
        return self._get(db, artifact_id)

    # --- reading ----------------------------------------------------------------------

    def _get(self, db: sqlite3.Connection, artifact_id: str) -> ArtifactRecord:
        row = db.execute(
            f"SELECT {COLUMNS} FROM artifacts WHERE artifact_id = ?",  # noqa: S608
            (artifact_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no artifact with id {artifact_id!r}")
        return self._db.record(row)

    def get(self, artifact_id: str) -> ArtifactRecord:
        if not is_artifact_id(artifact_id):
            raise NotFoundError(
                f"no artifact with id {artifact_id[:40]!r} (ids look like YYYYMMDD-NNN)"
            )
        with self._db.connect() as db:
            return self._get(db, artifact_id)

    def path_of(self, artifact_id: str) -> Path:
        """Where the artifact's bytes are; :class:`StoreDamagedError` when they are missing
        or have another size than recorded."""
        record = self.get(artifact_id)
        path = Path(record.storage_path)
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError:
            size = None
        if size is None:
            raise StoreDamagedError(
                f"the bytes of artifact {artifact_id} are missing from the store ({path}); "
                "restore the file from a backup"
            )
        if size != record.size:
            raise StoreDamagedError(
                f"the bytes of artifact {artifact_id} in the store ({path}) are {size} bytes, "
                f"not the recorded {record.size}; restore the file from a backup"
            )
        return path

    def list(
        self,
        *,
        project: str | None = None,
        artifact_type: ArtifactType | None = None,
        baseline: int | None = None,
        patch: int | None = None,
        label: str | None = None,
        since: datetime | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        max_age_hours: float | None = None,
    ) -> list[ArtifactRecord]:
        """Artifacts matching every given filter, newest first."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (
            ("project", project),
            ("artifact_type", None if artifact_type is None else artifact_type.value),
            ("baseline", baseline),
            ("patch", patch),
            ("label", label),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        floor = since
        if max_age_hours is not None:
            window = utc_now() - timedelta(hours=max_age_hours)
            floor = window if floor is None else max(floor, window)
        if floor is not None:
            where.append("created_utc >= ?")
            args.append(format_utc(floor))
        sql = f"SELECT {COLUMNS} FROM artifacts"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY day DESC, seq DESC LIMIT ?"
        args.append(limit)
        with self._db.connect() as db:
            return [self._db.record(row) for row in db.execute(sql, args).fetchall()]

    def status(self) -> StoreStatus:
        """The store's counts; :class:`StoreDamagedError` when it cannot take uploads."""
        with self._db.connect() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM artifacts").fetchone()
        try:
            self.tmp_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise cannot_write(self.root, exc) from None
        if not os.access(self.tmp_dir, os.W_OK):
            raise read_only(self.root)
        return StoreStatus(artifact_count=int(count), baseline=self.baseline)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
