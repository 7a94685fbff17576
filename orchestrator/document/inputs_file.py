"""Inputs files (``--inputs FILE``): YAML or JSON, read up to a limit, parsed like front matter.

No error message repeats a value from the file: any of them may be a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import Diagnostic, InputError

from .inputs import InputLimits, InputTooLarge, jsonable, unreadable


class InputsFile(dict[str, Any]):
    """The values of an inputs file, with its path and the line of each top-level key."""

    def __init__(self, values: Mapping[str, Any], path: str, lines: Mapping[str, int]) -> None:
        super().__init__(values)
        self.path = path
        self.lines = dict(lines)


def load_inputs_file(path: Path, max_bytes: int | None = None) -> InputsFile:
    """Input values from a YAML or JSON file (a mapping of input name to value).

    A file over ``max_bytes`` is refused before it is parsed. Error messages never repeat a
    value from the file: any of them may be a secret.
    """
    shown = str(path)
    limit = InputLimits().file_bytes if max_bytes is None else max_bytes
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # at most: the file may be endless (a FIFO)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(
            [Diagnostic(shown, 1, 1, f"cannot read the inputs file: {reason}")]
        ) from None
    if len(data) > limit:
        raise InputTooLarge(
            [
                Diagnostic(
                    shown,
                    1,
                    1,
                    f"the inputs file is larger than {limit} bytes, the most orch reads "
                    "(setting max-request-bytes)",
                )
            ]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            [Diagnostic(shown, 1, 1, f"cannot read the inputs file: not UTF-8 (byte {exc.start})")]
        ) from None
    if path.suffix.lower() == ".json":
        values, lines = _json_file(text, shown)
    else:
        values, lines = _yaml_file(text, shown)
    return InputsFile(jsonable(values), shown, lines)


def _json_file(text: str, shown: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            [Diagnostic(shown, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")]
        ) from None
    except RecursionError:
        raise InputError([Diagnostic(shown, 1, 1, "invalid JSON: nested too deeply")]) from None
    except ValueError as exc:  # a number past Python's digit limit
        problem = unreadable(exc, None)
        raise InputError([Diagnostic(shown, 1, 1, f"in the inputs file: {problem}")]) from None
    return _mapping(data, shown), {}


def _yaml_file(text: str, shown: str) -> tuple[dict[str, Any], dict[str, int]]:
    from . import frontmatter  # imported here: the YAML parser loads only when a value needs it

    try:
        data, positions = frontmatter.load(text, shown, show_values=False)
    except frontmatter.FrontMatterError as exc:
        raise InputError(
            Diagnostic(d.path, d.line, d.col, _for_inputs_file(d.message)) for d in exc.diagnostics
        ) from None
    mapping = _mapping(data, shown)
    return mapping, {str(key): positions.key((key,))[0] for key in mapping}


def _for_inputs_file(message: str) -> str:
    return message.replace("the front matter", "an inputs file").replace(
        "front matter", "an inputs file"
    )


def _mapping(data: Any, shown: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            [Diagnostic(shown, 1, 1, "an inputs file is a mapping of input name to value")]
        )
    return data
