"""The disk cache of parsed documents runs no code but orch's: entries are pickles, so a
folder another user, or the folder's group, could write to is neither read nor written."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from orchestrator import document
from orchestrator.document import disk_cache

VALID = "---\nid: one\ntitle: One\n---\n\n# One\n\n```sh {step=s}\necho one\n```\n"


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


class _Planted:
    """Unpickling this touches a file: it stands for code a hostile entry would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def _plant(document_cache: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A document read once, its entry replaced by one that touches ``marker`` when read:
    (the document, the entry, the marker)."""
    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    document.load(doc)
    [entry] = _entries(document_cache)
    marker = tmp_path / "ran"
    entry.write_bytes(pickle.dumps(_Planted(marker)))
    return doc, entry, marker


def test_a_folder_others_can_write_is_neither_read_nor_written(
    document_cache: Path, tmp_path: Path
) -> None:
    doc, entry, marker = _plant(document_cache, tmp_path)
    document_cache.chmod(0o777)
    assert disk_cache.recall(VALID, doc) is None
    assert document.load(doc).id == "one"
    assert not marker.exists()
    # The folder's check is all that stands between a planted entry and its code: in a
    # folder only this user may write to, it is read (and, not being a document, dropped).
    document_cache.chmod(0o700)
    assert disk_cache.recall(VALID, doc) is None
    assert marker.exists()
    assert not entry.exists()
    document_cache.chmod(0o770)
    other = tmp_path / "two.md"
    other.write_text(VALID)
    document.load(other)
    assert not (document_cache / disk_cache._key(VALID, other)).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the folder away needs root")
def test_a_folder_of_another_user_is_not_used(document_cache: Path, tmp_path: Path) -> None:
    doc, _, marker = _plant(document_cache, tmp_path)
    os.chown(document_cache, 65534, 65534)
    assert disk_cache.recall(VALID, doc) is None
    assert document.load(doc).id == "one"
    assert not marker.exists()


def test_a_folder_that_is_a_symbolic_link_is_not_used(document_cache: Path, tmp_path: Path) -> None:
    doc, entry, marker = _plant(document_cache, tmp_path)
    # Ours, private, and holding the planted entry: only its name is a link.
    elsewhere = tmp_path / "elsewhere"
    document_cache.rename(elsewhere)
    document_cache.symlink_to(elsewhere, target_is_directory=True)
    assert disk_cache.recall(VALID, doc) is None
    assert document.load(doc).id == "one"
    assert not marker.exists()
    assert [e.name for e in _entries(elsewhere)] == [entry.name]
