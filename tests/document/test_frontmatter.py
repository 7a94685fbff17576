"""The front matter loader: YAML 1.2 core values, positions, and refusals of hostile input."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.document import frontmatter, parse
from orchestrator.document.frontmatter import MAX_ALIAS_VALUES, MAX_DEPTH, FrontMatterError
from orchestrator.errors import DocumentError


def load(text: str) -> object:
    return frontmatter.load(text, "d.md")[0]


def problems(text: str) -> list[str]:
    with pytest.raises(FrontMatterError) as caught:
        frontmatter.load(text, "d.md")
    return [str(d) for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0017", 17),
        ("0x1F", 31),
        ("0o17", 15),
        ("-12", -12),
        ("1_000", 1000),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("2024-01-01", "2024-01-01"),
        ("0o19", "0o19"),
        ("1e", "1e"),
        ("=", "="),
        ('"17"', "17"),
        ("'0x1F'", "0x1F"),
        ("'true'", "true"),
        ('"null"', "null"),
        ("|\n  17\n", "17\n"),
        ("!!str 17", "17"),
        ("!!int '17'", 17),
        ("!!float 1", 1.0),
        ("! 17", "17"),
    ],
)
def test_scalars_by_the_yaml_12_core_schema(text: str, value: object) -> None:
    loaded = load(f"k: {text}\n")
    assert isinstance(loaded, dict)
    assert loaded["k"] == value
    assert type(loaded["k"]) is type(value)


def test_nan() -> None:
    loaded = load("k: .nan\n")
    assert isinstance(loaded, dict)
    assert math.isnan(loaded["k"])


def test_on_is_a_key_not_true() -> None:
    assert load("on:\n  paths: [a]\nyes: 1\noff: 2\n") == {
        "on": {"paths": ["a"]},
        "yes": 1,
        "off": 2,
    }


def test_non_string_keys_become_their_text() -> None:
    assert load("1: a\nnull: b\ntrue: c\n") == {"1": "a", "null": "b", "true": "c"}


def test_positions_are_one_based_and_file_relative() -> None:
    data, positions = frontmatter.load("\nid: x\nlist:\n  - a\n  - {b: 'c'}\n", "d.md")
    assert data == {"id": "x", "list": ["a", {"b": "c"}]}
    assert positions.keys[("id",)] == (2, 1)
    assert positions.values[("id",)] == (2, 5)
    assert positions.keys[("list", 0)] == (4, 5)
    assert positions.keys[("list", 1)] == (5, 5)
    assert positions.keys[("list", 1, "b")] == (5, 6)
    assert positions.values[("list", 1, "b")] == (5, 9)


def test_duplicate_keys_name_both_lines() -> None:
    assert problems("a: 1\nb:\n  c: 1\n  c: 2\n") == [
        "d.md:4:3: duplicate key 'c' (first at line 3): keep one of the two"
    ]
    assert problems("1: a\n'1': b\n") == [
        "d.md:2:1: duplicate key '1' (first at line 1): keep one of the two"
    ]


def test_collection_keys_are_refused() -> None:
    (message,) = problems("? [a, b]\n: 1\n")
    assert "a key must be a plain value" in message


@pytest.mark.parametrize(
    "text",
    [
        "id: !!python/object:os.system x\n",
        "id: !!python/object/apply:os.system [echo]\n",
        "id: !!python/name:os.system\n",
        "id: !custom x\n",
        "id: !!binary aGVsbG8=\n",
        "id: !!set {a}\n",
        "id: !!timestamp 2024-01-01\n",
        "!!python/object:os.Foo {a: 1}\n",
    ],
)
def test_other_tags_are_refused(text: str) -> None:
    (message,) = problems(text)
    assert "is not allowed in front matter" in message
    assert message.split(":")[1] in ("1",)


def test_python_tag_names_the_tag_and_builds_nothing() -> None:
    assert problems("id: x\ncmd: !!python/object/apply:os.system ['true']\n") == [
        "d.md:2:6: YAML tag '!!python/object/apply:os.system' is not allowed in front matter"
    ]


def test_core_tag_that_does_not_fit() -> None:
    assert problems("k: !!int abc\n") == ["d.md:1:4: YAML tag '!!int': the value is not an integer"]


def test_anchors_aliases_and_merge_keys() -> None:
    data, positions = frontmatter.load(
        "base: &base {shell: zsh, list: [1, 2]}\ncopy: *base\nmore:\n  <<: *base\n  shell: sh\n",
        "d.md",
    )
    assert data == {
        "base": {"shell": "zsh", "list": [1, 2]},
        "copy": {"shell": "zsh", "list": [1, 2]},
        "more": {"shell": "sh", "list": [1, 2]},
    }
    assert isinstance(data, dict)
    assert data["copy"] is not data["base"]
    assert positions.of(("copy", "shell")) == (1, 21)


def refusal_and_events_read(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """The one problem of ``text``, and how many parse events the loader read to find it.

    Work counted in parse events, not seconds: the count is the same on any machine and load.
    """
    read = 0
    events = frontmatter._events

    def counted_events(text: str) -> tuple[Callable[[], Any], Callable[[], None]]:
        next_event, close = events(text)

        def counted() -> Any:
            nonlocal read
            read += 1
            return next_event()

        return counted, close

    monkeypatch.setattr(frontmatter, "_events", counted_events)
    (message,) = problems(text)
    return message, read


def test_alias_bomb_is_refused_at_the_alias_that_passes_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    message, read = refusal_and_events_read("\n".join(lines) + "\n", monkeypatch)
    # a0 is 11 values, a1 111, a2 1111: the 8th alias of a3 (line 4, column 45) brings the
    # expansion past the limit (110 + 1110 + 8 * 1111), and nothing after it is read.
    limit = f"aliases expand to more than {MAX_ALIAS_VALUES} values"
    assert message == f"d.md:4:45: invalid YAML: {limit}"
    # Stream, document and mapping start; 13 events for each of lines 1-3 (key, sequence
    # start, 10 items, sequence end); line 4's key, sequence start and its first 8 aliases.
    assert read == 3 + 3 * 13 + 2 + 8


def test_unknown_alias() -> None:
    (message,) = problems("a: *nothing\n")
    assert "unknown alias '*nothing'" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("k: " + "[" * 5000 + "]" * 5000 + "\n", "1:67"),
        ("k: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", "1:256"),
        ("".join(" " * depth + f"k{depth}:\n" for depth in range(5000)), "65:65"),
        ("- " * 5000 + "x\n", "1:129"),
    ],
    ids=["flow-lists", "flow-maps", "block-maps", "block-lists"],
)
def test_deep_nesting_is_refused_at_the_first_level_too_many(
    text: str, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    message, read = refusal_and_events_read(text, monkeypatch)
    assert (
        message == f"d.md:{where}: invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)"
    )
    # At most a key and a start event per level, plus the stream's and document's starts:
    # bounded by the limit, not by the 5000 levels of the text.
    assert read <= 2 * MAX_DEPTH + 3


def test_nesting_up_to_the_limit_is_fine() -> None:
    text = "k: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert isinstance(load(text), dict)


def test_aliases_cannot_nest_past_the_limit() -> None:
    half = MAX_DEPTH // 2 + 1
    text = f"a: &a {'[' * half}{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    assert "nested too deeply" in problems(text)[0]


def test_one_document_only() -> None:
    (message,) = problems("a: 1\n...\n---\nb: 2\n")
    assert "more than one document" in message


def test_syntax_errors_have_file_positions() -> None:
    with pytest.raises(DocumentError) as caught:
        parse("---\nid: x\ntitle: [a\n---\n\n```sh {step=a}\ntrue\n```\n", Path("d.md"))
    (diagnostic,) = caught.value.diagnostics
    # At the bracket that is never closed, not where the parser gave up (line 4).
    assert (diagnostic.line, diagnostic.col) == (3, 8)
    assert diagnostic.message == (
        "invalid YAML: the '[' of this list is never closed: add ']' after its last item"
    )
    assert diagnostic.code == "yaml"


def test_the_c_parser_is_used_when_installed() -> None:
    try:
        import _ruamel_yaml  # noqa: F401
    except ImportError:
        pytest.skip("ruamel.yaml.clib is not installed")
    assert frontmatter.parser_name() == "libyaml"


def test_same_result_without_the_c_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "\nid: x\non: {inputs: {patch: 0017}}\nlist:\n  - 'a'\n  - .inf\n"
    with_c = frontmatter.load(text, "d.md")
    broken = "k: [a\n"
    c_message = problems(broken)
    monkeypatch.setattr(frontmatter, "CParser", None)
    assert frontmatter.parser_name() == "python"
    assert frontmatter.load(text, "d.md") == with_c
    assert problems(broken) == c_message
    assert "nested too deeply" in problems("k: " + "[" * 5000 + "]" * 5000 + "\n")[0]
