"""load, discover, validate_paths and schema_path."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from orchestrator.document import (
    discover,
    load,
    parse,
    parse_duration,
    schema_path,
    validate_paths,
)
from orchestrator.document.health import parse_health
from orchestrator.errors import DocumentError
from tests.conftest import build_file_tree

GOOD = "---\nid: {id}\ntitle: T\n---\n\n```bash {{step=a}}\necho\n```\n"


def test_validate_paths_reports_duplicate_ids_at_second_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_file_tree(
        tmp_path,
        {
            "intents/a.md": GOOD.format(id="same"),
            "intents/sub/b.md": "---\ntitle: B\n\nid: same\n---\n\n```sh {step=b}\ntrue\n```\n",
            "intents/c.md": GOOD.format(id="other"),
            "intents/README.md": "# About these documents\n",
            "intents/notes.md": "# Notes without front matter\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    paths = discover(Path("."))
    assert paths == [
        Path("intents/a.md"),
        Path("intents/c.md"),
        Path("intents/notes.md"),
        Path("intents/sub/b.md"),
    ]
    shown = [str(d) for d in validate_paths(paths)]
    assert shown == [
        "intents/notes.md:1:1: no front matter: an intent document starts with a '---' line, "
        "then YAML (id, title, ...), then a closing '---' line",
        "intents/sub/b.md:4:1: id 'same' is already used by intents/a.md: ids must be unique",
    ]


def test_load_unreadable_and_non_utf8(tmp_path: Path) -> None:
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"---\nid: x\ntitle: caf\xe9\n---\n")
    with pytest.raises(DocumentError, match="not UTF-8"):
        load(latin)
    with pytest.raises(DocumentError, match="cannot read"):
        load(tmp_path / "missing.md")
    with pytest.raises(DocumentError, match="cannot read"):
        load(tmp_path)


def test_load_keeps_path_as_given(tmp_path: Path) -> None:
    target = tmp_path / "doc.md"
    target.write_text(GOOD.format(id="x"))
    doc = load(target)
    assert doc.path == target
    assert doc.id == "x"
    assert doc.line_of("title") == 3


def test_crlf_and_bom_keep_line_numbers() -> None:
    text = (
        "\ufeff---\r\nid: x\r\ntitle: T\r\n---\r\n\r\n```bash {step=a colour=1}\r\necho\r\n```\r\n"
    )
    with pytest.raises(DocumentError) as caught:
        parse(text, Path("d.md"))
    assert [(d.line, d.col) for d in caught.value.diagnostics] == [(6, 17)]


def test_front_matter_must_come_first_and_be_closed() -> None:
    with pytest.raises(DocumentError, match="no front matter"):
        parse("\n---\nid: x\ntitle: T\n---\n", Path("d.md"))
    with pytest.raises(DocumentError, match="not closed"):
        parse("---\nid: x\ntitle: T\n", Path("d.md"))
    with pytest.raises(DocumentError, match="must be a YAML mapping"):
        parse("---\n- a\n---\n", Path("d.md"))
    with pytest.raises(DocumentError, match="tag"):
        parse("---\nid: !!python/object:os.system x\ntitle: T\n---\n", Path("d.md"))


def test_shipped_schema_is_valid_and_matches_the_example() -> None:
    shipped = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(shipped)
    example = {
        "id": "deliver-weic-patch",
        "title": "Deliver",
        "on": {"schedule": "0 2 * * *", "inputs": {"target": "staging"}},
        "inputs": {"patch": {"type": "integer", "minimum": 1, "required": True}},
        "artifacts": [{"name": "x.zip", "type": "delivery-patch", "files": ["a"], "patch": 3}],
    }
    assert list(jsonschema.Draft202012Validator(shipped).iter_errors(example)) == []
    example["colour"] = "red"
    assert list(jsonschema.Draft202012Validator(shipped).iter_errors(example))


def test_repository_examples_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    paths = discover(root)
    assert paths
    assert validate_paths(paths) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("90", 90),
        ("1.5", 1.5),
        ("2m30s", 150),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "m", "1m1h", "1s1s", "-5", "1h 30m", "1.5.2"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_health_for_rendered_bodies() -> None:
    spec, problems = parse_health("url: http://h/\nexpect: {a: '0017'}\ninterval: 1s\n", "d.md", 10)
    assert problems == []
    assert spec == {
        "url": "http://h/",
        "expect": {"a": "0017"},
        "headers": {},
        "timeout": None,
        "interval": 1.0,
    }
    _, problems = parse_health("url: http://x/\nretries: 3\n", "d.md", 10)
    assert [str(p) for p in problems] == [
        "d.md:11:1: health check: unknown key 'retries' "
        "(expected one of: url, expect, timeout, interval, headers)"
    ]
