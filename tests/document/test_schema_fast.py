"""The fast validity check of the front matter agrees with jsonschema."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.document import frontmatter, schema
from orchestrator.document.build import normalise

from .casefiles import CASES

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = st.sampled_from(
    [
        "id",
        "title",
        "owner",
        "status",
        "system",
        "description",
        "inputs",
        "env",
        "secrets",
        "defaults",
        "on",
        "artifacts",
        "publication",
        "type",
        "required",
        "default",
        "enum",
        "pattern",
        "minimum",
        "exclusiveMinimum",
        "items",
        "properties",
        "name",
        "files",
        "paths",
        "schedule",
        "timeout",
        "retries",
        "shell",
        "string",
        "integer",
        "approved",
        "draft",
        "generic",
        "delivery-patch",
        "x",
        "Bad Name",
        "[",
        "",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=True),
    WORDS,
    st.text(max_size=5),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(WORDS, inner, max_size=4)),
    max_leaves=12,
)


def _agrees(data: Any) -> None:
    expected = not list(schema._validator().iter_errors(data))
    assert schema._fast_check()(data) is expected, data


def test_the_fast_check_is_compiled() -> None:
    # Compiling gives up (and everything goes to jsonschema) on an unknown keyword.
    assert schema._fast_check()({"id": "a", "title": "T"}) is True


DOCUMENTS = sorted(CASES.glob("*.md")) + sorted((CASES.parents[2] / "intents").glob("**/*.md"))


@pytest.mark.parametrize("case", DOCUMENTS, ids=lambda p: p.stem)
def test_agrees_on_the_case_files(case: Any) -> None:
    text = normalise(case.read_text(encoding="utf-8"))
    try:
        data, _ = frontmatter.load(frontmatter.split(text, "c").front_matter, "c")
    except frontmatter.FrontMatterError:
        return
    _agrees(data)


@SETTINGS
@given(st.dictionaries(WORDS, VALUES, max_size=6))
def test_agrees_on_arbitrary_front_matter(data: dict[str, Any]) -> None:
    _agrees(data)


BASE = {
    "id": "a-b",
    "title": "T",
    "inputs": {"patch": {"type": "integer", "minimum": 1, "required": True}},
    "secrets": ["A"],
    "artifacts": [{"name": "n", "type": "generic", "files": ["a"]}],
}


@SETTINGS
@given(st.sampled_from(list(BASE)), WORDS, VALUES)
def test_agrees_near_valid_front_matter(section: str, key: str, value: Any) -> None:
    data: dict[str, Any] = {k: v for k, v in BASE.items()}
    target = data[section]
    if isinstance(target, dict):
        inner = next(iter(target))
        data[section] = {inner: {**target[inner], key: value}}
    elif isinstance(target, list) and target and isinstance(target[0], dict):
        data[section] = [{**target[0], key: value}]
    else:
        data[section] = value
    _agrees(data)
