"""The JSON Schema of the front matter, shipped as ``intent.schema.json``, and its checks."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from orchestrator.errors import Diagnostic

from .frontmatter import JsonPath, Positions

_SCHEMA_FILE = Path(__file__).with_name("intent.schema.json")


def schema_path() -> Path:
    """The shipped JSON Schema of the front matter (for editors and other tools)."""
    return _SCHEMA_FILE


@functools.cache
def schema() -> Mapping[str, Any]:
    loaded: dict[str, Any] = json.loads(_SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(data: Any, positions: Positions, path: str) -> tuple[list[Diagnostic], set[JsonPath]]:
    """Every schema error in ``data``, each at the line of the key or value it is about.

    Also returns the places (JSON paths cut to two levels: ``("inputs", "patch")``) whose
    values are invalid, so later checks leave them alone instead of piling up consequences.
    Unknown keys do not count: they are reported, and ignored when building.
    """
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {_json_type(data)}"
        message = f"front matter must be a YAML mapping of keys (id, title, ...), not {kind}"
        return [Diagnostic(path, 2, 1, message)], set()
    found: dict[tuple[int, int, str], None] = {}
    bad: set[JsonPath] = set()
    for error in _validator().iter_errors(data):
        if error.validator != "additionalProperties":
            bad.add(tuple(error.absolute_path)[:2])
        for line, col, message in _explain(error, positions):
            found[(line, col, message)] = None
    return [Diagnostic(path, line, col, message) for line, col, message in found], bad


def location(where: JsonPath) -> str:
    """A JSON path as writers see it: ``inputs.patch.minimum``, ``artifacts[0].type``."""
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _explain(error: jsonschema.ValidationError, positions: Positions) -> list[tuple[int, int, str]]:
    where: JsonPath = tuple(error.absolute_path)
    label = location(where)
    prefix = f"{label}: " if label else ""
    validator = error.validator
    rule: Any = error.schema if isinstance(error.schema, Mapping) else {}
    expected_value: Any = error.validator_value
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = rule.get("properties", {})
        result = []
        for key in error.instance:
            if key in known:
                continue
            line, col = positions.key((*where, key))
            expected = ", ".join(known)
            message = f"unknown key '{key}'"
            message += f" in {_describe(where)}" if where else " in the front matter"
            if expected:
                message += f" (expected one of: {expected})"
            result.append((line, col, message))
        return result
    if validator == "required" and isinstance(error.instance, dict):
        line, col = positions.key(where) if where else (1, 1)
        missing = [k for k in expected_value if k not in error.instance]
        where_text = f" in {_describe(where)}" if where else " in the front matter"
        return [(line, col, f"missing required key '{k}'{where_text}") for k in missing]
    if "propertyNames" in error.relative_schema_path:
        line, col = positions.key((*where, str(error.instance)))
        return [(line, col, f"{prefix}invalid name '{error.instance}': {_names_rule(where)}")]
    line, col = positions.of(where)
    if validator in ("oneOf", "anyOf") and "description" in rule:
        return [(line, col, f"{prefix}expected {rule['description']}, got {_show(error)}")]
    if where == ("id",) and validator == "pattern":
        message = f"id: {error.instance!r} is not a valid id: use lowercase letters, digits and '-'"
        return [(line, col, message)]
    if validator == "type":
        expected = expected_value
        if isinstance(expected, list):
            expected = " or ".join(expected)
        return [(line, col, f"{prefix}expected {expected}, got {_show(error)}")]
    return [(line, col, f"{prefix}{error.message}")]


def _describe(where: JsonPath) -> str:
    if len(where) == 2 and where[0] == "inputs":
        return f"the declaration of input '{where[1]}'"
    if len(where) == 2 and where[0] == "artifacts":
        return f"artifact {int(where[1]) + 1}"
    return f"'{location(where)}'"


def _names_rule(where: JsonPath) -> str:
    if where == ("inputs",):
        return "input names are letters, digits, '_' and '-', starting with a letter or '_'"
    return "names are letters, digits and '_', starting with a letter or '_'"


def _show(error: jsonschema.ValidationError) -> str:
    value = error.instance
    if isinstance(value, (dict, list)) or value is None:
        return _json_type(value)
    return f"{_json_type(value)} {value!r}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__
