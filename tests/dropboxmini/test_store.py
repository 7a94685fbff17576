"""The store over a folder, used directly (the embedded local store)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.dropboxmini import (
    ArtifactType,
    ConflictError,
    FieldError,
    NotFoundError,
    Store,
    TooLargeError,
    UploadFields,
)
from orchestrator.dropboxmini import store as dropboxmini_store
from tests.dropboxmini.conftest import zip_bytes


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_put_streams_hashes_and_lays_out_the_folder(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    data = b"abc" * 10_000
    result = store.put(chunks(data), UploadFields("test-result", "proj", file_name="r.xml"))
    record = result.record
    assert result.created
    assert record.size == len(data)

    assert record.sha256 == hashlib.sha256(data).hexdigest()
    expected = store.root / "artifacts" / "proj" / "test-result" / record.artifact_id / "r.xml"
    assert Path(record.storage_path) == expected == store.path_of(record.artifact_id)
    assert expected.read_bytes() == data
    assert store.get(record.artifact_id) == record
    assert store.status().artifact_count == 1
    assert (store.root / "dropboxmini.sqlite3").exists()
    assert (store.root / ".gitignore").read_text().strip().endswith("*")


def test_chunks_larger_than_a_write_piece_are_stored_whole_and_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    piece = dropboxmini_store.WRITE_PIECE
    data = bytes(range(256)) * ((3 * piece + 1000) // 256) + b"tail"
    pending = store.begin_upload()
    pending.accept(data[:10])
    pending.absorb([data[:10]])
    rest = memoryview(data)[10:]
    pending.accept(rest)
    pending.absorb([rest])
    result = store.commit(pending, UploadFields("generic", "proj", file_name="big.bin"))
    assert len(data) > 3 * piece
    assert result.record.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path_of(result.record.artifact_id).read_bytes() == data


def test_embedded_store_does_not_check_baselines_unless_configured(tmp_path: Path) -> None:
    free = Store(tmp_path / "free")
    fields = UploadFields("delivery-patch", "p", file_name="p.zip", baseline="7", patch="1")
    assert free.put([zip_bytes()], fields).created
    pinned = Store(tmp_path / "pinned", baseline=8)
    with pytest.raises(FieldError, match="0008"):
        pinned.put([zip_bytes()], fields)


def test_delivery_patch_idempotence_and_conflict(tmp_path: Path) -> None:
    store = Store(tmp_path)
    fields = UploadFields("delivery-patch", "p", file_name="p.zip", baseline="18", patch="2")
    first = store.put([zip_bytes()], fields)
    repeat = store.put([zip_bytes()], fields)
    assert (first.created, repeat.created) == (True, False)
    assert repeat.record == first.record
    with pytest.raises(ConflictError):
        store.put([zip_bytes("changed")], fields)
    assert store.status().artifact_count == 1
    assert list((store.root / ".tmp").iterdir()) == []


def test_failed_streams_leave_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path, max_bytes=10_000)

    def broken() -> Iterator[bytes]:
        yield b"x" * 5000
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(broken(), UploadFields("generic", "p", file_name="f"))
    with pytest.raises(TooLargeError):
        store.put(chunks(b"y" * 20_000), UploadFields("generic", "p", file_name="f"))
    assert store.list() == []
    assert [p for p in store.root.rglob("*") if p.is_file() and "sqlite3" not in p.name] == [
        store.root / ".gitignore"
    ]


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = store.tmp_dir / f"upload-{int(done.stdout)}-abc.part"
    dead.write_bytes(b"partial")
    mine = store.begin_upload()
    mine.write(b"in progress")
    assert Store(tmp_path).tmp_dir.exists()
    assert not dead.exists()
    assert mine.path.exists()
    mine.discard()


def test_unknown_and_malformed_ids_are_not_found(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for artifact_id in ("20250101-001", "../../etc/passwd", "", "2025-01-01"):
        with pytest.raises(NotFoundError):
            store.get(artifact_id)


def test_list_newest_first_with_filters(tmp_path: Path) -> None:
    store = Store(tmp_path)
    made = [
        store.put([b"x"], UploadFields("generic", p, file_name="f", label=lbl)).record
        for p, lbl in (("a", "x"), ("b", "x"), ("a", "y"))
    ]
    ids = [r.artifact_id for r in made]
    assert [r.artifact_id for r in store.list()] == ids[::-1]
    assert [r.artifact_id for r in store.list(project="a")] == [ids[2], ids[0]]
    assert [r.artifact_id for r in store.list(label="x", limit=1)] == [ids[1]]
    assert store.list(artifact_type=ArtifactType.SCREENSHOT) == []
    assert len(store.list(max_age_hours=1)) == 3


WORKER = """
import sys
from pathlib import Path
from orchestrator.dropboxmini import Store, UploadFields
store = Store(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    r = store.put([b"w" + sys.argv[3].encode()], UploadFields("generic", "p", file_name="f"))
    print(r.record.artifact_id)
"""


def test_several_processes_on_one_store_get_unique_ids(tmp_path: Path) -> None:
    Store(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), "10", str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    ids = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        ids += out.split()
    assert len(ids) == 40 == len(set(ids))
    assert Store(tmp_path).status().artifact_count == 40
