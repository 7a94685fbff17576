"""The JSON Schema of the front matter, shipped as ``intent.schema.json``, and its checks."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import Diagnostic

from .suggest import did_you_mean

if TYPE_CHECKING:
    import jsonschema
    from jsonschema import Draft202012Validator

    from .frontmatter import JsonPath, Positions

_SCHEMA_FILE = Path(__file__).with_name("intent.schema.json")


def schema_path() -> Path:
    """The shipped JSON Schema of the front matter (for editors and other tools)."""
    return _SCHEMA_FILE


@functools.cache
def schema() -> Mapping[str, Any]:
    loaded: dict[str, Any] = json.loads(_SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


# jsonschema is imported only when a document is invalid (to explain why) or uses a rare
# keyword: valid documents, the usual case, are checked by the compiled checks below, and
# importing jsonschema costs more than validating a document.


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

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
        return [Diagnostic(path, 2, 1, message, code="schema")], set()
    if _fast_check()(data):
        return [], set()
    found: dict[tuple[int, int, str], str] = {}
    bad: set[JsonPath] = set()
    for error in _validator().iter_errors(data):
        code = "unknown-key" if error.validator == "additionalProperties" else "schema"
        if code == "schema":
            bad.add(tuple(error.absolute_path)[:2])
        for line, col, message in _explain(error, positions):
            found.setdefault((line, col, message), code)
    return [Diagnostic(path, *at, code=code) for at, code in found.items()], bad


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
            hint = did_you_mean(str(key), known)
            if hint:
                message += f": {hint}"
            elif expected:
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
    if where[:1] == ("runs_on",) and validator == "pattern":
        message = (
            f"{prefix}{error.instance!r} is not a worker label: use up to 40 lowercase "
            "letters, digits, '-' and '_', starting with a letter or digit"
        )
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


# A fast "is it valid?" for the shipped schema: the schema compiled once into plain Python
# checks, with jsonschema's semantics for the keywords it uses. A valid front matter (the
# usual case) is accepted without jsonschema; an invalid one is handed to jsonschema for the
# diagnostics. A keyword the compiler does not know makes it give up (everything then goes
# to jsonschema), so it never accepts what jsonschema would reject.

_Check = Callable[[Any], bool]
_META_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_ANNOTATIONS = frozenset(("$schema", "$id", "$defs", "$comment", "title", "description", "default"))


class _Unsupported(Exception):
    pass


@functools.cache
def _fast_check() -> _Check:
    root = schema()
    try:
        return _SchemaCompiler(root).compile(root)
    except (_Unsupported, KeyError, TypeError, re.error):
        return lambda data: False


@functools.lru_cache(maxsize=1024)
def compiled_check(schema_json: str) -> _Check | None:
    """A fast validity check of a JSON Schema given as JSON text, or None when the schema
    uses what the compiler does not know (then only jsonschema can tell)."""
    node = json.loads(schema_json)
    try:
        return _SchemaCompiler(node).compile(node)
    except (_Unsupported, KeyError, TypeError, re.error):
        return None


@functools.cache
def _meta_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@functools.cache
def _format_checker() -> jsonschema.FormatChecker:
    from jsonschema import Draft202012Validator

    checker: jsonschema.FormatChecker = Draft202012Validator.FORMAT_CHECKER
    return checker


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, _Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": _is_number,
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
    ),
}


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as jsonschema sees it: ``true`` is not ``1``."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[key], two[key]) for key in one)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, (dict, list, str)) or isinstance(two, (dict, list, str)):
        return type(one) is type(two) and bool(one == two)
    return bool(one == two)


def _unique(items: list[Any]) -> bool:
    return not any(
        _equal(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))
    )


class _SchemaCompiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.defs: dict[str, _Check] = {}

    def compile(self, node: Any) -> _Check:
        if node is True:
            return lambda value: True
        if node is False:
            return lambda value: False
        if not isinstance(node, Mapping):
            raise _Unsupported(node)
        checks = [self.keyword(node, key, rule) for key, rule in node.items()]
        active = [check for check in checks if check is not None]
        if not active:
            return lambda value: True
        if len(active) == 1:
            return active[0]
        return lambda value: all(check(value) for check in active)

    def ref(self, target: str) -> _Check:
        if target == _META_SCHEMA:
            return lambda value: bool(_meta_validator().is_valid(value))
        if not target.startswith("#/$defs/"):
            raise _Unsupported(target)
        name = target.removeprefix("#/$defs/")
        if name not in self.defs:
            self.defs[name] = lambda value: False  # replaced below; guards self-reference
            compiled = self.compile(self.root["$defs"][name])
            self.defs[name] = compiled
        defs = self.defs
        return lambda value: defs[name](value)

    def keyword(self, node: Mapping[str, Any], key: str, rule: Any) -> _Check | None:
        if key in _ANNOTATIONS:
            return None
        if key == "type":
            names = [rule] if isinstance(rule, str) else list(rule)
            types = [_TYPES[name] for name in names]
            return lambda value: any(is_type(value) for is_type in types)
        if key == "enum":
            options = list(rule)
            return lambda value: any(_equal(value, option) for option in options)
        if key == "const":
            return lambda value: _equal(value, rule)
        if key == "pattern":
            pattern = re.compile(rule)
            return lambda value: not isinstance(value, str) or pattern.search(value) is not None
        if key == "format":
            return lambda value: bool(_format_checker().conforms(value, rule))
        if key == "minLength":
            return lambda value: not isinstance(value, str) or len(value) >= rule
        if key == "maxLength":
            return lambda value: not isinstance(value, str) or len(value) <= rule
        if key == "minItems":
            return lambda value: not isinstance(value, list) or len(value) >= rule
        if key == "maxItems":
            return lambda value: not isinstance(value, list) or len(value) <= rule
        if key == "uniqueItems":
            if not rule:
                return None
            return lambda value: not isinstance(value, list) or _unique(value)
        if key == "minimum":
            return lambda value: not _is_number(value) or value >= rule
        if key == "exclusiveMinimum":
            return lambda value: not _is_number(value) or value > rule
        if key == "maximum":
            return lambda value: not _is_number(value) or value <= rule
        if key == "exclusiveMaximum":
            return lambda value: not _is_number(value) or value < rule
        if key == "required":
            names = list(rule)
            return lambda value: not isinstance(value, dict) or all(n in value for n in names)
        if key == "properties":
            known = {name: self.compile(sub) for name, sub in rule.items()}
            return lambda value: (
                not isinstance(value, dict)
                or all(check(value[name]) for name, check in known.items() if name in value)
            )
        if key == "additionalProperties":
            if "patternProperties" in node:
                raise _Unsupported(key)
            listed = frozenset(node.get("properties", {}))
            extra = self.compile(rule)
            return lambda value: (
                not isinstance(value, dict)
                or all(extra(item) for name, item in value.items() if name not in listed)
            )
        if key == "propertyNames":
            names_check = self.compile(rule)
            return lambda value: (
                not isinstance(value, dict) or all(names_check(name) for name in value)
            )
        if key == "items":
            if "prefixItems" in node:
                raise _Unsupported(key)
            item_check = self.compile(rule)
            return lambda value: (
                not isinstance(value, list) or all(item_check(item) for item in value)
            )
        if key == "oneOf":
            options = [self.compile(sub) for sub in rule]
            return lambda value: sum(1 for option in options if option(value)) == 1
        if key == "anyOf":
            options = [self.compile(sub) for sub in rule]
            return lambda value: any(option(value) for option in options)
        if key == "$ref":
            return self.ref(rule)
        raise _Unsupported(key)
