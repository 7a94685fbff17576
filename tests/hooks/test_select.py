"""The pure parts: which documents a change runs (the glob rules themselves are tested in
tests/globs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import document
from orchestrator.errors import DocumentError
from orchestrator.hooks import changed_documents, is_intent_path
from orchestrator.hooks.select import selected_by
from orchestrator.model import Document
from tests.hooks.helpers import approved, draft


def test_intent_paths_follow_the_settings_and_skip_readmes() -> None:
    patterns = ("intents/**/*.md", "ops/*.md")
    assert is_intent_path("intents/a.md", patterns)
    assert is_intent_path("intents/team/a.md", patterns)
    assert is_intent_path("ops/deploy.md", patterns)
    assert not is_intent_path("intents/README.md", patterns)
    assert not is_intent_path("intents/team/readme.md", patterns)
    assert not is_intent_path("docs/a.md", patterns)


def _parsed(texts: dict[str, str]) -> dict[str, Document]:
    return {path: document.parse(text, Path(path)) for path, text in texts.items()}


STEP = "\n```sh {step=a}\ntrue\n```\n"
DOCUMENTS = {
    "intents/build.md": approved("build", "# Build\n" + STEP, 'on:\n  paths: ["src/**"]\n'),
    "intents/docs.md": approved(
        "docs", "# Docs\n" + STEP, 'on:\n  paths: ["docs/*.md", "mkdocs.yml"]\n'
    ),
    "intents/plain.md": approved("plain", "# Plain\n" + STEP),
    "intents/later.md": draft("later", extra='on:\n  paths: ["src/**"]\n'),
    "intents/gone.md": draft("gone", extra='status: superseded\non:\n  paths: ["**"]\n'),
}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["src/app.py"], ["intents/build.md"]),
        (["src/deep/er/app.py", "docs/guide.md"], ["intents/build.md", "intents/docs.md"]),
        (["mkdocs.yml"], ["intents/docs.md"]),
        (["intents/plain.md"], ["intents/plain.md"]),
        (
            ["intents/plain.md", "intents/build.md", "src/x"],
            ["intents/build.md", "intents/plain.md"],
        ),
        (["intents/later.md", "src/x"], ["intents/build.md"]),
        (["docs/deep/guide.md", "README.md"], []),
        ([], []),
    ],
)
def test_changed_documents_are_the_approved_ones_a_change_concerns(
    changed: list[str], expected: list[str]
) -> None:
    assert changed_documents(_parsed(DOCUMENTS), changed) == expected


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["src/**", "!src/**/*.md"], "src/app.py", True),
        (["src/**", "!src/**/*.md"], "src/docs/notes.md", False),
        (["src/**", "!src/vendor/**", "src/vendor/patched.py"], "src/vendor/patched.py", True),
        (["src/**", "!src/vendor/**", "src/vendor/patched.py"], "src/vendor/other.py", False),
        (["!src/**/*.md", "src/**"], "src/notes.md", True),
        (["docs/*.md"], "src/app.py", False),
        ([], "src/app.py", False),
    ],
)
def test_on_paths_exclusions_apply_in_order(patterns: list[str], path: str, expected: bool) -> None:
    assert selected_by(patterns, path) is expected


def test_changed_documents_honour_exclusions() -> None:
    docs = _parsed(
        {
            "intents/build.md": approved(
                "build", "# Build\n" + STEP, 'on:\n  paths: ["src/**", "!src/**/*.md"]\n'
            ),
        }
    )
    assert changed_documents(docs, ["src/README.md", "src/a/notes.md"]) == []
    assert changed_documents(docs, ["src/README.md", "src/app.py"]) == ["intents/build.md"]
    assert changed_documents(docs, ["intents/build.md"]) == ["intents/build.md"]


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ('["!src/**"]', "only exclusions"),
        ('"!docs/**"', "only exclusions"),
        ('["src/**", "!"]', "'!' excludes nothing"),
    ],
)
def test_on_paths_that_can_never_match_are_reported(paths: str, message: str) -> None:
    text = approved("build", "# Build\n" + STEP, f"on:\n  paths: {paths}\n")
    with pytest.raises(DocumentError) as caught:
        document.parse(text, Path("intents/build.md"))
    assert message in str(caught.value)
    assert str(caught.value).startswith("intents/build.md:")
