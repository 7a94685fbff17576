"""Run-time inputs: read them, apply defaults, check them against their declarations."""

from __future__ import annotations

import datetime
import functools
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import Diagnostic, InputError
from orchestrator.masking import Masker
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
        return [_secret_problem(decl.name, str(e.validator), e.validator_value) for e in errors]
    return [f"input '{decl.name}': {e.message}" for e in errors]


def _secret_problem(name: str, keyword: str, rule: Any) -> str:
    """What is wrong with a secret input, from the declaration alone: jsonschema's own
    messages repeat the value (``'hunter2' is too short``)."""
    phrases = {
        "type": f"is not of type {rule!r}",
        "pattern": f"does not match the pattern {rule!r}",
        "enum": f"is not one of {rule!r}",
        "const": f"is not {rule!r}",
        "minLength": f"is shorter than {rule!r} characters",
        "maxLength": f"is longer than {rule!r} characters",
        "format": f"is not a valid {rule!r}",
        "minimum": f"is less than the minimum of {rule!r}",
        "maximum": f"is more than the maximum of {rule!r}",
    }
    phrase = phrases.get(keyword, f"does not satisfy its '{keyword}'")
    return f"secret input '{name}' {phrase} (the value is not shown)"


def jsonable(value: Any) -> Any:
    """Plain JSON data: dates as ISO text, keys as strings, anything else as its text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def read_value(decl: InputDecl | None, text: str) -> Any:
    """A command-line value: kept as text for a string input, else read as YAML 1.2."""
    if decl is not None and decl.schema.get("type") == "string":
        return text
    digits = text.strip().lstrip("+-")
    if digits.isdigit() and len(digits) > sys.get_int_max_str_digits():
        # YAML would read it as a number Python refuses to build: say so, not "not an integer".
        raise ValueError("Exceeds the limit for integer string conversion")
    from . import frontmatter  # imported here: the YAML parser loads only when a value needs it

    try:
        value, _ = frontmatter.load(text, "<command line>")
    except frontmatter.FrontMatterError:
        return text
    return jsonable(value)


@dataclass(frozen=True)
class InputLimits:
    """How big inputs may be (settings ``max-input-bytes``, ``max-input-total-bytes`` and,
    for an inputs file, ``max-request-bytes``)."""

    value_bytes: int = 64 << 10
    total_bytes: int = 256 << 10
    file_bytes: int = 1 << 20


class InputTooLarge(InputError):
    """An input value, the inputs together, or an inputs file is over its limit."""


def resolve_inputs(
    doc: Document,
    *,
    cli_pairs: Sequence[str] = (),
    file_values: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    source: str = "<command line>",
    submitted: Mapping[str, Any] | None = None,
    limits: InputLimits | None = None,
    hidden: Iterable[str] = (),
) -> dict[str, Any]:
    """The validated inputs of a run, defaults applied.

    Precedence, lowest first: declared defaults, ``extra`` (``on.inputs`` for unattended
    runs), ``submitted`` (a request to the HTTP API), ``file_values`` (``--inputs FILE``),
    ``cli_pairs`` (``-i NAME=VALUE``). Raises ``InputTooLarge`` when a value or all of them
    are over ``limits`` (nothing else is checked then), else ``InputError`` with every
    problem at once. No message carries the value of a secret input or any of ``hidden``
    (the run's ``secrets:``).
    """
    limits = limits or InputLimits()
    path = str(doc.path)
    problems: list[Diagnostic] = []
    too_large: list[Diagnostic] = []
    values: dict[str, Any] = {d.name: d.default for d in doc.inputs if d.has_default}
    declared = ", ".join(d.name for d in doc.inputs) or "no inputs"

    def unknown(name: str, origin: str, where: tuple[str, int] = (source, 1)) -> None:
        problems.append(
            Diagnostic(
                *where, 1, f"unknown input '{name}'{origin} (the document declares {declared})"
            )
        )

    def take(name: str, value: Any, where: tuple[str, int], origin: str) -> None:
        size = value_size(value)
        if size > limits.value_bytes:
            too_large.append(
                Diagnostic(
                    where[0],
                    where[1],
                    1,
                    f"input '{name}'{origin} is {size} bytes: an input value may be at most "
                    f"{limits.value_bytes} bytes (setting max-input-bytes)",
                )
            )
        values[name] = value

    on_line = doc.triggers.line if doc.triggers is not None else 1
    file_path = getattr(file_values, "path", source)
    lines: Mapping[str, int] = getattr(file_values, "lines", {})
    for origin, given in (
        (" in on.inputs", extra),
        ("", submitted),
        (" in the inputs file", file_values),
    ):
        for key, value in (given or {}).items():
            name = str(key)
            where = (source, 1)
            if given is extra:
                where = (path, on_line)
            elif given is file_values:
                where = (file_path, lines.get(name, 1))
            if doc.input(name) is None and given is file_values:
                unknown(name, origin, where)
            elif doc.input(name) is None:
                unknown(name, "")
            else:
                take(name, jsonable(value), where, origin)
    for number, pair in enumerate(cli_pairs, 1):
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            # The argument is not repeated: a mistyped one may be a secret.
            problems.append(Diagnostic(source, 1, 1, f"-i argument {number}: expected NAME=VALUE"))
            continue
        decl = doc.input(name)
        if decl is None:
            unknown(name, " given with -i")
            continue
        try:
            value = read_value(decl, text)
        except ValueError as exc:  # a number past Python's digit limit, a date like 2026-13-45
            shown = None if decl.secret else text
            problems.append(
                Diagnostic(path, decl.line, 1, f"input '{name}': {unreadable(exc, shown)}")
            )
            continue
        take(name, value, (source, 1), " given with -i")
    masker = Masker([*hidden, *_secret_texts(doc, values)])
    total = sum(value_size(value) for value in values.values())
    if total > limits.total_bytes and not too_large:
        too_large.append(
            Diagnostic(
                path,
                doc.line_of("inputs"),
                1,
                f"the inputs are {total} bytes together: at most {limits.total_bytes} bytes "
                "are accepted (setting max-input-total-bytes)",
            )
        )
    if too_large:
        raise InputTooLarge(too_large)
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
        raise InputError(
            Diagnostic(d.path, d.line, d.col, masker.mask(d.message)) for d in problems
        )
    return values


def value_size(value: Any) -> int:
    """The bytes ``value`` takes as a step sees it in ``$ORCH_INPUT_<NAME>`` (a string as it
    is, anything else as compact JSON), measured without building that text."""
    if isinstance(value, str):
        return len(value.encode("utf-8", errors="surrogatepass"))
    if value is None:
        return 0
    size = 0
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            size += 2 + max(len(item) - 1, 0) + len(item)  # braces, commas, colons
            for key, nested in item.items():
                size += _json_size(str(key))
                pending.append(nested)
        elif isinstance(item, list):
            size += 2 + max(len(item) - 1, 0)
            pending.extend(item)
        elif isinstance(item, str):
            size += _json_size(item)
        else:
            size += _scalar_size(item)
    return size


def _json_size(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))


def _scalar_size(value: Any) -> int:
    if value is None:
        return 4
    if isinstance(value, bool):
        return 4 if value else 5
    if isinstance(value, int):
        if value.bit_length() > 10_000:  # str() refuses integers this long; estimate digits
            return int(value.bit_length() * 0.30103) + 1 + (value < 0)
        return len(str(value))
    return len(repr(value))


def _secret_texts(doc: Document, values: Mapping[str, Any]) -> list[str]:
    texts: list[str] = []
    for decl in doc.inputs:
        if decl.secret and values.get(decl.name) is not None:
            texts.extend(secret_texts(values[decl.name]))
    return texts


def secret_texts(value: Any) -> list[str]:
    """What to mask for a secret input's value: the text a step sees, and for a list or an
    object also each string inside it (a step may print one alone)."""
    texts = [_env_text(value)]
    pending = [value] if isinstance(value, (dict, list)) else []
    while pending:
        item = pending.pop()
        nested = list(item.values()) if isinstance(item, dict) else item
        for part in nested:
            if isinstance(part, (dict, list)):
                pending.append(part)
            elif isinstance(part, str) and len(part) >= 4:
                texts.append(part)
    return texts


def unreadable(exc: ValueError, text: str | None) -> str:
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
