"""The start-a-run form of a document, generated from its input declarations.

Each declared input becomes a field: an ``enum`` a select, a ``boolean`` a checkbox, an
``integer``/``number`` a number field, an ``array``/``object`` a text area (YAML or JSON, as
``-i`` reads it), anything else a text field; defaults (``on.inputs`` first, as unattended
runs apply them) are filled in. What the browser sends is read exactly as ``orch apply -i``
reads a value and then validated by the same code as ``POST /api/runs``; its problems are
put back at their fields.

Secret inputs are never entered in a browser: their fields are left out and a value sent
for one is refused. A document with a required secret input that has no default cannot be
started from the browser at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.document.inputs import read_value
from orchestrator.errors import Diagnostic
from orchestrator.model import Document, InputDecl

SECRET_REFUSED = "secret inputs are never entered in a browser; this value was not used"  # noqa: S105
_INPUT_PROBLEM = re.compile(r"^input '(?P<name>[^']+)'(?: \(secret\))?(?::| is) (?P<what>.*)$")
_UNKNOWN = re.compile(r"^unknown input '(?P<name>[^']+)'")


@dataclass(frozen=True)
class Field:
    name: str
    widget: str  # text, number, select, checkbox, textarea
    type: str
    required: bool
    description: str = ""
    value: str = ""
    checked: bool = False
    options: tuple[str, ...] = ()
    minimum: str | None = None
    maximum: str | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class StartForm:
    fields: tuple[Field, ...]
    secrets: tuple[InputDecl, ...]
    blocked: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def has_errors(self) -> bool:
        return bool(self.problems) or any(f.errors for f in self.fields)


@dataclass
class Submitted:
    """What a form sent, read as run inputs; problems found before validation."""

    inputs: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def blocked_by_secrets(doc: Document) -> str | None:
    """Why the browser cannot start ``doc``: a required secret input without a default."""
    preset = doc.triggers.inputs if doc.triggers is not None else {}
    needed = [
        d.name
        for d in doc.inputs
        if d.secret and d.required and not d.has_default and d.name not in preset
    ]
    if not needed:
        return None
    names = ", ".join(needed)
    return (
        f"this workflow needs the secret input(s) {names}, which are never entered in a "
        "browser: start it with orch apply or POST /api/runs"
    )


def start_form(
    doc: Document,
    texts: Mapping[str, str] | None = None,
    errors: Mapping[str, Iterable[str]] | None = None,
    problems: Iterable[str] = (),
) -> StartForm:
    """The form for ``doc``; ``texts`` (what was sent) replace the defaults when given."""
    preset = doc.triggers.inputs if doc.triggers is not None else {}
    errors = errors or {}
    fields = []
    for decl in doc.inputs:
        if decl.secret:
            continue
        if decl.name in preset:
            default: Any = preset[decl.name]
        else:
            default = decl.default if decl.has_default else None
        fields.append(_field(decl, default, texts, tuple(errors.get(decl.name, ()))))
    return StartForm(
        fields=tuple(fields),
        secrets=tuple(d for d in doc.inputs if d.secret),
        blocked=blocked_by_secrets(doc),
        problems=tuple(problems),
    )


def _field(
    decl: InputDecl, default: Any, texts: Mapping[str, str] | None, errors: tuple[str, ...]
) -> Field:
    kind = str(decl.schema.get("type") or "string")
    enum = decl.schema.get("enum")
    sent = None if texts is None else texts.get(decl.name, "")
    base = Field(
        name=decl.name,
        widget="text",
        type=kind,
        required=decl.required and default is None,
        description=decl.description,
        errors=errors,
    )
    if kind == "boolean":
        checked = default is True if texts is None else sent not in (None, "")
        return replace(base, widget="checkbox", checked=checked)
    value = _shown(default) if sent is None else sent
    if isinstance(enum, list):
        options = tuple(_shown(option) for option in enum)
        return replace(base, widget="select", value=value, options=options)
    if kind in ("integer", "number"):
        return replace(
            base,
            widget="number",
            value=value,
            minimum=_bound(decl.schema.get("minimum")),
            maximum=_bound(decl.schema.get("maximum")),
        )
    if kind in ("array", "object"):
        return replace(base, widget="textarea", value=value)
    return replace(base, value=value)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _bound(value: Any) -> str | None:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_form(doc: Document, form: Mapping[str, str], ignored: Iterable[str] = ()) -> Submitted:
    """The inputs a form sent: empty fields left out (their default applies), checkboxes
    true when present, every other value read as ``orch apply -i NAME=VALUE`` reads it."""
    submitted = Submitted()
    skip = set(ignored)
    for name, text in form.items():
        if name in skip:
            continue
        decl = doc.input(name)
        if decl is None:
            submitted.errors.setdefault("", []).append(f"the form sent an unknown input {name!r}")
            continue
        if decl.secret:
            submitted.errors.setdefault("", []).append(f"input {name!r}: {SECRET_REFUSED}")
            continue
        submitted.texts[name] = text
    for decl in doc.inputs:
        if decl.secret:
            continue
        text = submitted.texts.get(decl.name, "")
        if decl.schema.get("type") == "boolean":
            submitted.inputs[decl.name] = text != ""
        elif text != "":
            submitted.inputs[decl.name] = read_value(decl, text)
    return submitted


def field_errors(
    diagnostics: Iterable[Diagnostic], known: Iterable[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Validation problems split into ``{input: [messages]}`` and the rest (for the form)."""
    names = set(known)
    at_field: dict[str, list[str]] = {}
    rest: list[str] = []
    for diagnostic in diagnostics:
        message = diagnostic.message
        match = _INPUT_PROBLEM.match(message)
        if match and match["name"] in names:
            what = match["what"]
            if what.startswith("required"):
                what = "required: fill it in"
            at_field.setdefault(match["name"], []).append(what)
            continue
        unknown = _UNKNOWN.match(message)
        rest.append(message if unknown else str(diagnostic))
    return at_field, rest
