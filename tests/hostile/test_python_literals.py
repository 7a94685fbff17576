"""What the ``py`` filter writes evaluates to exactly the value, and to nothing else.

The end-to-end tests (``test_injection.py``) run hostile strings through a real step; this
one covers every kind of value the filter takes, generated, against Python's own reading of
the text it writes.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.templating.literals import python_literal
from orchestrator.templating.where import Placeholder

# The text is evaluated with no builtins but ``float`` (which ``nan`` and ``inf`` need): a
# literal that called anything else would fail here instead of running.
_ONLY_FLOAT = {"__builtins__": {"float": float}}

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _same(read: Any, value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return isinstance(read, float) and math.isnan(read)
    if isinstance(value, (list, tuple)):
        return (
            type(read) is type(value)
            and len(read) == len(value)
            and all(_same(r, v) for r, v in zip(read, value, strict=True))
        )
    if isinstance(value, dict):
        return (
            isinstance(read, dict)
            and list(read) == list(value)
            and all(_same(read[k], value[k]) for k in value)
        )
    return type(read) is type(value) and read == value


@given(_values)
def test_every_value_reads_back_as_itself(value: Any) -> None:
    text = python_literal(value)
    assert _same(eval(text, dict(_ONLY_FLOAT)), value), text


def test_the_forms_python_has_no_plain_literal_for() -> None:
    assert python_literal(float("nan")) == "float('nan')"
    assert python_literal(float("-inf")) == "float('-inf')"
    assert python_literal((1,)) == "(1,)"
    assert python_literal(True) == "True"


def test_a_value_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="a set value has no Python literal"):
        python_literal({1})


def test_a_placeholder_writes_its_name_and_stands_for_its_parts() -> None:
    output = Placeholder("steps.build.outputs")
    assert python_literal(output.version) == repr("<steps.build.outputs.version>")
    assert str(output["a b"]) == "<steps.build.outputs.a b>"
    assert output.version == Placeholder("steps.build.outputs.version")
    assert output.version != "steps.build.outputs.version"
    assert len({output.version, Placeholder("steps.build.outputs.version")}) == 1
    assert bool(output)
    with pytest.raises(AttributeError):
        _ = output._private
