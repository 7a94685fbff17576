"""Input values accepted by the compiled check are exactly those jsonschema accepts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from orchestrator.document.schema import compiled_check

DECLARATIONS: list[dict[str, Any]] = [
    {"type": "string", "pattern": "^v[0-9]+$"},
    {"type": "string", "enum": ["staging", "production"]},
    {"type": "string", "minLength": 2, "maxLength": 5},
    {"type": "integer", "minimum": 1, "maximum": 20},
    {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 5},
    {"type": "number", "maximum": 1.5},
    {"type": "boolean"},
    {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-30, 30) | st.floats(-3, 3) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(declaration=st.sampled_from(DECLARATIONS), value=VALUES)
def test_compiled_check_agrees_with_jsonschema(declaration: dict[str, Any], value: Any) -> None:
    check = compiled_check(json.dumps(declaration, sort_keys=True))
    if check is None:
        return
    assert check(value) == Draft202012Validator(declaration).is_valid(value)


def test_common_declarations_compile() -> None:
    compiled = [compiled_check(json.dumps(d, sort_keys=True)) for d in DECLARATIONS]
    unsupported = [d for d, c in zip(DECLARATIONS, compiled, strict=True) if c is None]
    assert unsupported == [{"type": "integer", "exclusiveMinimum": 0, "multipleOf": 5}]
