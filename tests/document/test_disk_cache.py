"""The disk cache of parsed documents: what it returns is what parsing returns, or nothing."""

from __future__ import annotations

import dataclasses
import os
import pickle
import pwd
import shutil
from pathlib import Path

import pytest

from orchestrator import document
from orchestrator.api import queued_runs
from orchestrator.api.receiving import prepare
from orchestrator.api.rerunning import prepared_again
from orchestrator.api.run_request import RunRequest
from orchestrator.api.worktrees import temporary_worktree
from orchestrator.document import disk_cache
from orchestrator.errors import Diagnostic, DocumentError
from orchestrator.hooks.documents import parse_blobs
from tests.conftest import git
from tests.core.helpers import commit_documents
from tests.document.casefiles import CASES

ROOT = Path(__file__).resolve().parents[2]
VALID = "---\nid: one\ntitle: One\n---\n\n# One\n\n```sh {step=s}\necho one\n```\n"


def _entries(folder: Path) -> list[Path]:
    return (
        sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []
    )


def _documents() -> list[Path]:
    shipped = [*(ROOT / "intents").glob("*.md"), *(ROOT / "examples").rglob("*.md")]
    return sorted([*shipped, *CASES.glob("*.md")])


@pytest.mark.parametrize("path", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_cached_document_equals_the_parsed_one(document_cache: Path, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        parsed = document.parse(text, path)
    except DocumentError as parsing:
        with pytest.raises(DocumentError) as loading:
            document.load(path)
        assert loading.value.diagnostics == parsing.diagnostics
        assert _entries(document_cache) == [], "a document with errors is never kept"
        return
    first = document.load(path)
    assert first == parsed
    [entry] = _entries(document_cache)
    assert disk_cache.recall(text, path) == parsed
    assert document.load(path) == parsed
    assert _entries(document_cache) == [entry]


def test_another_text_path_or_orch_is_a_miss(
    document_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    document.load(doc)
    assert disk_cache.recall(VALID, doc) is not None
    assert disk_cache.recall(VALID.replace("title: One", "title: Two"), doc) is None
    assert disk_cache.recall(VALID, tmp_path / "sub" / ".." / "one.md") is None
    monkeypatch.setattr(disk_cache, "_fingerprint", "an edited orch")
    assert disk_cache.recall(VALID, doc) is None


def test_the_fingerprint_sees_an_edit_of_orch_and_a_package_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "orchestrator"
    shutil.copytree(ROOT / "orchestrator" / "document", package / "document")
    site = tmp_path / "site"
    (site / "a_parser").mkdir(parents=True)
    (site / "a_parser" / "__init__.py").write_text("")
    monkeypatch.setattr(disk_cache, "_PACKAGE", package)
    monkeypatch.setattr(disk_cache, "_PARSING_PACKAGES", ("a_parser",))
    monkeypatch.syspath_prepend(str(site))
    first = disk_cache._code_fingerprint()
    assert disk_cache._code_fingerprint() == first
    edited = package / "document" / "build.py"
    edited.write_text(edited.read_text() + "\n")
    second = disk_cache._code_fingerprint()
    assert second != first
    (site / "a_parser-2.0.dist-info").mkdir()
    os.utime(site, ns=(1, 1))
    assert disk_cache._code_fingerprint() != second


def test_a_damaged_or_misplaced_entry_is_a_miss_and_is_replaced(
    document_cache: Path, tmp_path: Path
) -> None:
    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    parsed = document.load(doc)
    [entry] = _entries(document_cache)
    for damage in (b"", entry.read_bytes()[:40], b"not a pickle", pickle.dumps(("other", parsed))):
        entry.write_bytes(damage)
        assert disk_cache.recall(VALID, doc) is None
        assert not entry.exists()
        assert document.load(doc) == parsed
        assert entry.exists()


def test_an_empty_setting_turns_the_cache_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    monkeypatch.setenv("ORCH_CACHE_DIR", "")
    assert disk_cache.folder() is None

    def never() -> str:
        raise AssertionError("a cache that is off fingerprints nothing")

    monkeypatch.setattr(disk_cache, "_fingerprint", None)
    monkeypatch.setattr(disk_cache, "_code_fingerprint", never)
    assert document.load(doc).id == "one"
    assert disk_cache.recall(VALID, doc) is None


def test_a_folder_that_cannot_be_made_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("ORCH_CACHE_DIR", str(blocker))
    assert document.load(doc).id == "one"
    assert disk_cache.recall(VALID, doc) is None


def test_the_folder_follows_xdg_and_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCH_CACHE_DIR", raising=False)
    assert disk_cache.folder({"XDG_CACHE_HOME": "/x"}) == Path("/x/orch/documents")
    assert disk_cache.folder({"HOME": "/h"}) == Path("/h/.cache/orch/documents")
    assert disk_cache.folder({"HOME": "/h", "XDG_CACHE_HOME": "rel"}) == Path(
        "/h/.cache/orch/documents"
    )
    assert disk_cache.folder({"HOME": "~"}) is None


def test_without_a_home_there_is_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown_user(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    monkeypatch.delenv("ORCH_CACHE_DIR", raising=False)
    # What a container user without an entry in /etc/passwd and without HOME meets.
    with monkeypatch.context() as homeless:
        homeless.delenv("HOME")
        homeless.setattr(pwd, "getpwuid", unknown_user)
        assert disk_cache.folder() is None
        assert document.load(doc).id == "one"
    assert disk_cache.folder({"ORCH_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}) == Path(
        "/c/documents"
    )


def test_the_least_recently_used_entries_go_first(
    document_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disk_cache, "KEEP_ENTRIES", 4)
    monkeypatch.setattr(disk_cache, "_PRUNED_TO", 2)
    texts = [VALID.replace("title: One", f"title: T{n}") for n in range(5)]
    doc = tmp_path / "one.md"
    for n, text in enumerate(texts[:4]):
        doc.write_text(text)
        document.load(doc)
        os.utime(document_cache / disk_cache._key(text, doc), ns=(n * 10**9, n * 10**9))
    assert disk_cache.recall(texts[0], doc) is not None  # used now: the newest
    abandoned = document_cache / ".writing-abandoned"
    abandoned.write_text("")
    os.utime(abandoned, ns=(0, 0))
    doc.write_text(texts[4])
    document.load(doc)
    with disk_cache._opened_folder(create=False) as place:
        assert place is not None
        disk_cache._prune(place)  # what one write in 256 does after writing
    kept = {entry.name for entry in _entries(document_cache)}
    assert kept == {disk_cache._key(texts[0], doc), disk_cache._key(texts[4], doc)}
    assert not abandoned.exists()


def test_a_document_the_hook_checked_is_kept_for_the_apply_that_follows(
    document_cache: Path,
) -> None:
    relative = Path("intents/one.md")
    parsed = parse_blobs({str(relative): "blob"}, {"blob": VALID.encode()})
    assert disk_cache.recall(VALID, relative) == parsed.documents[str(relative)]


def test_one_write_in_256_prunes(
    document_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disk_cache, "KEEP_ENTRIES", 1)
    monkeypatch.setattr(disk_cache, "_PRUNED_TO", 1)
    doc = tmp_path / "one.md"
    texts = (VALID.replace("title: One", f"title: T{n}") for n in range(100_000))
    pruning = next(text for text in texts if disk_cache._key(text, doc).startswith("00"))
    others = [VALID, VALID.replace("title: One", "title: Other")]
    for text in [*others, pruning]:
        doc.write_text(text)
        document.load(doc)
        if text is not pruning:
            os.utime(document_cache / disk_cache._key(text, doc), ns=(0, 0))
    assert [e.name for e in _entries(document_cache)] == [disk_cache._key(pruning, doc)]


def test_validating_reads_the_cache_but_keeps_nothing(document_cache: Path, tmp_path: Path) -> None:
    kept, new = tmp_path / "kept.md", tmp_path / "new.md"
    kept.write_text(VALID)
    new.write_text(VALID.replace("id: one", "id: two"))
    document.load(kept)
    [entry] = _entries(document_cache)
    # The entry for kept.md now holds a warning its text does not have: validate_paths
    # reports it, so it took the document from the cache; it keeps no entry for new.md.
    marked = Diagnostic(str(kept), 2, 1, "from the cache", severity="warning")
    planted = dataclasses.replace(document.parse(VALID, kept), warnings=(marked,))
    entry.write_bytes(pickle.dumps((entry.name, planted)))
    assert document.validate_paths([kept, new]) == [marked]
    assert [e.name for e in _entries(document_cache)] == [entry.name]


def test_an_orch_that_cannot_be_fingerprinted_uses_no_cache(
    document_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disk_cache, "_PACKAGE", tmp_path / "gone")
    monkeypatch.setattr(disk_cache, "_fingerprint", None)
    doc = tmp_path / "one.md"
    doc.write_text(VALID)
    assert document.load(doc).id == "one"
    assert disk_cache.recall(VALID, doc) is None
    assert _entries(document_cache) == []


def test_a_run_in_a_temporary_worktree_keeps_nothing(document_cache: Path, git_repo: Path) -> None:
    commit_documents(
        git_repo, {"intents/one.md": VALID.replace("---\n\n", "status: approved\n---\n\n", 1)}
    )
    head = git(git_repo, "rev-parse", "HEAD").strip()
    with temporary_worktree(git_repo, head) as tree:
        in_tree = tree.path / "intents" / "one.md"
        request = RunRequest(path=in_tree, workdir=tree.path, worktree=tree)
        assert prepare(request).document.id == "one"
        assert _entries(document_cache) == []
    prepare(RunRequest(path=git_repo / "intents" / "one.md"))
    assert len(_entries(document_cache)) == 1


def test_queued_runs_and_runs_again_in_a_worktree_keep_nothing(
    document_cache: Path, git_repo: Path
) -> None:
    approved = VALID.replace("---\n\n", "status: approved\n---\n\n", 1)
    commit_documents(git_repo, {"intents/one.md": approved})
    # Queueing validates the working copy's document, which runs again: that one is kept.
    queued = queued_runs.enqueue(git_repo, "one", {}, actor="ci")
    assert len(_entries(document_cache)) == 1
    assert queued_runs.run_queued(git_repo, queued) == "completed"
    with prepared_again(git_repo, queued.run_id) as again:
        assert again.request.worktree is not None
        assert again.document.id == "one"
    assert len(_entries(document_cache)) == 1
