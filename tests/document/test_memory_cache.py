"""DocumentCache: parse once per version of a file, never serve a stale document."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.document.memory_cache import DocumentCache
from orchestrator.errors import DocumentError

GOOD = "---\nid: {id}\ntitle: {title}\n---\n\n```bash {{step=a}}\necho\n```\n"


def test_unchanged_files_are_parsed_once_and_edits_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text(GOOD.format(id="one", title="Old"))
    cache = DocumentCache()
    first = cache.load(path)
    assert cache.load(path) is first

    path.write_text(GOOD.format(id="one", title="New"))  # same size: the times tell
    second = cache.load(path)
    assert second is not first and second.title == "New"
    assert cache.load(path) is second


def test_problems_are_raised_every_time_until_the_file_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text("---\nid: Bad Id\ntitle: T\n---\n\n```bash {step=a}\necho\n```\n")
    cache = DocumentCache()
    for _ in range(2):
        with pytest.raises(DocumentError) as caught:
            cache.load(path)
        assert caught.value.diagnostics and str(caught.value).startswith(f"{path}:2:")
    path.write_text(GOOD.format(id="fixed", title="T"))
    assert cache.load(path).id == "fixed"


def test_deleted_files_fail_and_are_forgotten(tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept.md", tmp_path / "gone.md"
    kept.write_text(GOOD.format(id="kept", title="T"))
    gone.write_text(GOOD.format(id="gone", title="T"))
    cache = DocumentCache()
    cache.load(kept), cache.load(gone)
    gone.unlink()
    with pytest.raises(DocumentError, match="cannot read"):
        cache.load(gone)
    cache.retain([kept])
    assert len(cache) == 1
