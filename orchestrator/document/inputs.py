"""Run-time inputs: read them, apply defaults, check them against their declarations."""

from __future__ import annotations

import datetime
import functools
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from orchestrator.errors import Diagnostic, InputError
from orchestrator.model import Document, InputDecl

from .schema import compiled_check

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


@functools.lru_cache(maxsize=1024)
def _validator(schema_json: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def value_problems(decl: InputDecl, value: Any) -> list[str]:
    """What is wrong with ``value`` for ``decl`` (empty when it is valid)."""
    schema_json = json.dumps(decl.schema, sort_keys=True, default=str)
    fast = compiled_check(schema_json)
    if fast is not None and fast(value):
        return []
    import jsonschema  # only to explain a problem, or for what the fast check cannot tell

    try:
        validator = _validator(schema_json)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    except (jsonschema.SchemaError, jsonschema.exceptions.UnknownType, TypeError) as exc:
        return [f"input '{decl.name}': its declaration is not a valid schema ({exc})"]
    if decl.secret:
        return [
            f"input '{decl.name}' (secret): the value does not satisfy '{e.validator}'"
            for e in errors
        ]
    return [f"input '{decl.name}': {e.message}" for e in errors]


def _safe_yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    return yaml


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def read_value(decl: InputDecl | None, text: str) -> Any:
    """A command-line value: kept as text for a string input, else read as YAML 1.2."""
    if decl is not None and decl.schema.get("type") == "string":
        return text
    try:
        return _jsonable(_safe_yaml().load(text))
    except (YAMLError, RecursionError):
        return text


def resolve_inputs(
    doc: Document,
    *,
    cli_pairs: Sequence[str] = (),
    file_values: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    source: str = "<command line>",
) -> dict[str, Any]:
    """The validated inputs of a run, defaults applied.

    Precedence, lowest first: declared defaults, ``extra`` (``on.inputs`` for unattended
    runs), ``file_values`` (``--inputs FILE``), ``cli_pairs`` (``-i NAME=VALUE``). Raises
    ``InputError`` with every problem at once.
    """
    path = str(doc.path)
    problems: list[Diagnostic] = []
    values: dict[str, Any] = {d.name: d.default for d in doc.inputs if d.has_default}
    declared = ", ".join(d.name for d in doc.inputs) or "no inputs"

    def unknown(name: str, origin: str) -> None:
        problems.append(
            Diagnostic(
                source, 1, 1, f"unknown input '{name}'{origin} (the document declares {declared})"
            )
        )

    for origin, given in (("", extra), (" in the inputs file", file_values)):
        for name, value in (given or {}).items():
            if doc.input(str(name)) is None:
                unknown(str(name), origin)
            else:
                values[str(name)] = _jsonable(value)
    for pair in cli_pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            problems.append(Diagnostic(source, 1, 1, f"-i {pair!r}: expected NAME=VALUE"))
            continue
        decl = doc.input(name)
        if decl is None:
            unknown(name, " given with -i")
            continue
        try:
            values[name] = read_value(decl, text)
        except ValueError as exc:  # a number past Python's digit limit, a date like 2026-13-45
            shown = None if decl.secret else text
            problems.append(
                Diagnostic(path, decl.line, 1, f"input '{name}': {_unreadable(exc, shown)}")
            )
            continue
    for decl in doc.inputs:
        if decl.name not in values:
            if decl.required:
                problems.append(
                    Diagnostic(
                        path,
                        decl.line,
                        1,
                        f"input '{decl.name}' is required: give it with -i {decl.name}=VALUE",
                    )
                )
            continue
        for message in value_problems(decl, values[decl.name]):
            problems.append(Diagnostic(path, decl.line, 1, message))
    if problems:
        raise InputError(problems)
    return values


def load_inputs_file(path: Path) -> dict[str, Any]:
    """Input values from a YAML or JSON file (a mapping of input name to value)."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Diagnostic(shown, 1, 1, f"cannot read the inputs file: {exc}")]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else _safe_yaml().load(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            [Diagnostic(shown, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")]
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(exc.problem or "invalid YAML").split())
        raise InputError([Diagnostic(shown, line, col, f"invalid YAML: {message}")]) from None
    except (YAMLError, RecursionError) as exc:
        message = " ".join(str(exc).split())
        raise InputError([Diagnostic(shown, 1, 1, f"invalid YAML: {message}")]) from None
    except ValueError as exc:
        problem = _unreadable(exc, None)
        raise InputError([Diagnostic(shown, 1, 1, f"in the inputs file: {problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            [Diagnostic(shown, 1, 1, "an inputs file is a mapping of input name to value")]
        )
    result: dict[str, Any] = _jsonable(data)
    return result


def _unreadable(exc: ValueError, text: str | None) -> str:
    """A value YAML or JSON could not turn into data (``text`` None: never shown)."""
    if "integer string conversion" in str(exc):
        limit = sys.get_int_max_str_digits()
        return (
            f"a whole number of more than {limit} digits cannot be read: "
            "declare the input as a string to pass such a value"
        )
    if text is None:
        return f"a value cannot be read: {exc}"
    shown = text.strip() if len(text.strip()) <= 40 else text.strip()[:40] + "…"
    return f"cannot read {shown!r}: {exc}"


def environment_name(name: str) -> str:
    """``ORCH_INPUT_<NAME>``: upper case, ``-`` becomes ``_``."""
    return "ORCH_INPUT_" + name.upper().replace("-", "_")


def input_environment(doc: Document, values: Mapping[str, Any]) -> dict[str, str]:
    """The ``ORCH_INPUT_*`` variables of a run (secret inputs too: steps read them here)."""
    del doc  # the values are already resolved against it; kept for a stable signature
    return {environment_name(name): _env_text(value) for name, value in values.items()}


def _env_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)
