"""Marked text: where each piece of a rendered text came from.

A value from outside the document (an input, a step's output, the run's actor) enters the
template context as ``Text`` whose one part is *tainted*. The quoting filters return ``Text``
whose one part is *quoted* for a language. Joining texts (``~``, ``+``, captured blocks,
``join``) keeps each piece's part where it lands; every other operation on a marked text
(slicing, ``replace``, ``trim``, formatting, any method) gives a text tainted as a whole, so
quoting undone after the fact is caught. Unmarked characters are the document's own.

This is the idea of markupsafe's ``Markup`` turned around: instead of marking text as safe,
orch marks where outside text stands, and the render checks every mark at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, is_dataclass
from enum import StrEnum
from typing import Any, SupportsIndex

from orchestrator.templating.where import Placeholder, placeholder_name


class Kind(StrEnum):
    TAINTED = "tainted"  # outside text, not quoted
    QUOTED = "quoted"  # outside text quoted for ``language``
    PLACEHOLDER = "placeholder"  # a stand-in for a value known only at run time


@dataclass(frozen=True)
class Part:
    """One marked piece of a ``Text``: ``text[start:end]``."""

    start: int
    end: int
    kind: Kind
    origin: str  # "inputs.name", "steps.build.outputs.version", "env.X", "run.actor"
    derived: bool = False  # made from the origin by some operation, not the value itself
    language: str = ""  # for QUOTED parts: "sh" or "python"

    def moved(self, offset: int) -> Part:
        return Part(
            self.start + offset,
            self.end + offset,
            self.kind,
            self.origin,
            self.derived,
            self.language,
        )


class Text(str):
    """A ``str`` that knows which of its pieces came from outside the document."""

    parts: tuple[Part, ...]

    def __new__(cls, value: object = "", parts: tuple[Part, ...] | None = None) -> Text:
        self = super().__new__(cls, value)
        if parts is None:
            # Built by code that knows nothing of marks (a library calling ``type(s)(...)``
            # on a marked string): whatever it made came from marked text.
            parts = (Part(0, len(self), Kind.TAINTED, "a value", derived=True),)
        self.parts = parts
        return self

    # Jinja writes every ``{{ }}`` value as ``str(value)``: keep the marks through that.
    def __str__(self) -> str:
        return self

    def __repr__(self) -> str:
        return str.__repr__(self)

    def __format__(self, spec: str) -> str:
        return derive(self, str.__format__(self, spec))

    def __add__(self, other: str) -> str:
        if isinstance(other, str):
            return compose((self, other))
        return NotImplemented

    def __radd__(self, other: str) -> str:
        if isinstance(other, str):
            return compose((other, self))
        return NotImplemented

    def __mul__(self, count: SupportsIndex) -> str:
        return derive(self, str.__mul__(self, count))

    __rmul__ = __mul__

    def __mod__(self, args: Any) -> str:
        return derive(self, str.__mod__(self, args))

    def __rmod__(self, template: Any) -> Any:
        if not isinstance(template, str):
            return NotImplemented
        return derive(self, str.__mod__(template, self))

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        return derive(self, str.__getitem__(self, key))

    def __iter__(self) -> Iterator[str]:
        for char in str.__iter__(self):
            yield derive(self, char)

    @property
    def origin(self) -> str:
        return self.parts[0].origin if self.parts else ""


class TaintedInt(int):
    """A number computed from outside text (``inputs.x.find(';')``, ``| length``): it can be
    turned back into characters (``'%c' % n``), so it stays marked."""

    origin: str

    def __new__(cls, value: Any, origin: str) -> TaintedInt:
        self = super().__new__(cls, value)
        self.origin = origin
        return self


class TaintedFloat(float):
    """A float computed from outside text (see ``TaintedInt``)."""

    origin: str

    def __new__(cls, value: Any, origin: str) -> TaintedFloat:
        self = super().__new__(cls, value)
        self.origin = origin
        return self


class TaintedBytes(bytes):
    """``inputs.x.encode()``: outside text as bytes, marked through slicing and decoding."""

    origin: str

    def __new__(cls, value: Any, origin: str) -> TaintedBytes:
        self = super().__new__(cls, value)
        self.origin = origin
        return self

    def __getitem__(self, key: Any) -> Any:
        return _taint_result(bytes.__getitem__(self, key), self.origin)

    def __iter__(self) -> Iterator[int]:
        for number in bytes.__iter__(self):
            yield TaintedInt(number, self.origin)


def _derived_bytes_method(name: str) -> Callable[..., Any]:
    method = getattr(bytes, name)

    def wrapper(self: TaintedBytes, *args: Any, **kwargs: Any) -> Any:
        return _taint_result(method(self, *args, **kwargs), self.origin)

    wrapper.__name__ = name
    return wrapper


for _name in dir(bytes):
    if not _name.startswith("_") and callable(getattr(bytes, _name)) and _name != "fromhex":
        setattr(TaintedBytes, _name, _derived_bytes_method(_name))


def _derived_method(name: str) -> Callable[..., Any]:
    method = getattr(str, name)

    def wrapper(self: Text, *args: Any, **kwargs: Any) -> Any:
        return taint_value(method(self, *args, **kwargs), self)

    wrapper.__name__ = name
    wrapper.__doc__ = method.__doc__
    return wrapper


for _name in (
    "capitalize",
    "casefold",
    "center",
    "count",
    "encode",
    "expandtabs",
    "find",
    "index",
    "format",
    "format_map",
    "join",
    "ljust",
    "lower",
    "lstrip",
    "partition",
    "removeprefix",
    "removesuffix",
    "replace",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
):
    setattr(Text, _name, _derived_method(_name))


def plain(value: str) -> str:
    """The characters of ``value`` as an exact ``str`` (no marks)."""
    return str.__str__(value)


def tainted(value: str, origin: str) -> Text:
    """``value``, marked as outside text from ``origin``."""
    return Text(value, (Part(0, len(value), Kind.TAINTED, origin),))


def quoted(value: str, language: str, origin: str) -> Text:
    return Text(value, (Part(0, len(value), Kind.QUOTED, origin, language=language),))


def placeholder(value: str, origin: str) -> Text:
    return Text(value, (Part(0, len(value), Kind.PLACEHOLDER, origin),))


def first_origin(value: Any) -> str | None:
    """The origin of the first marked text found in ``value`` (None: nothing marked)."""
    return _first_origin(value, 0)


def derive(source: Any, result: str) -> Text:
    """``result``, made from marked ``source`` by an operation: tainted as a whole."""
    origin = first_origin(source) or "a value"
    return Text(result, (Part(0, len(result), Kind.TAINTED, origin, derived=True),))


def compose(pieces: Iterable[object]) -> str:
    """Join ``pieces`` keeping the marks of each where it lands."""
    texts: list[str] = []
    parts: list[Part] = []
    offset = 0
    for piece in pieces:
        text = piece if isinstance(piece, str) else value_text(piece)
        if isinstance(text, Text):
            parts.extend(part.moved(offset) for part in text.parts)
        texts.append(text)
        offset += len(text)
    joined = "".join(texts)
    return Text(joined, tuple(parts)) if parts else joined


def retag(value: Any, origin: str) -> Any:
    """``value`` with its tainted parts now said to come from ``origin`` (an ``env`` value
    made from inputs is reported as that ``env`` value)."""
    if not isinstance(value, Text):
        return value
    parts = tuple(
        Part(p.start, p.end, p.kind, origin, False, p.language) if p.kind is Kind.TAINTED else p
        for p in value.parts
    )
    return Text(plain(value), parts)


def outside(value: Any, origin: str) -> Any:
    """``value`` from outside the document, every string in it marked as tainted."""
    if isinstance(value, str):
        return tainted(plain(value), origin)
    if isinstance(value, Mapping):
        # The keys of an object input came from outside too.
        return {outside(key, origin): outside(item, origin) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(outside(item, origin) for item in value)
    return value


def taint_value(result: Any, source: Any) -> Any:
    """The result of an operation on ``source``: marked as derived when ``source`` holds
    marked text. Marked texts passed through unchanged keep their marks (``first`` returns
    the very value it was given); new strings become tainted as a whole."""
    origin = first_origin(source)
    if origin is None:
        return result
    return _taint_result(result, origin)


def _taint_result(result: Any, origin: str) -> Any:
    if isinstance(result, (Text, TaintedInt, TaintedFloat, TaintedBytes, bool)):
        return result  # marked already (or a bool: a yes or no selects, it cannot spell)
    if isinstance(result, str):
        return Text(result, (Part(0, len(result), Kind.TAINTED, origin, derived=True),))
    if isinstance(result, int):
        return TaintedInt(result, origin)
    if isinstance(result, float):
        return TaintedFloat(result, origin)
    if isinstance(result, bytes):
        return TaintedBytes(result, origin)
    if isinstance(result, tuple) and hasattr(result, "_fields"):  # a named tuple
        return type(result)(*(_taint_result(item, origin) for item in result))
    if isinstance(result, (list, tuple)):
        return type(result)(_taint_result(item, origin) for item in result)
    if isinstance(result, dict):
        return {key: _taint_result(item, origin) for key, item in result.items()}
    if isinstance(result, Iterator):
        return (_taint_result(item, origin) for item in result)
    return result


def _first_origin(value: Any, depth: int) -> str | None:
    if isinstance(value, Text):
        part = next((p for p in value.parts if p.kind is not Kind.PLACEHOLDER), None)
        return part.origin if part is not None else None
    if isinstance(value, (TaintedInt, TaintedFloat, TaintedBytes)):
        return value.origin
    if isinstance(value, (str, bytes, int, float)) or depth > 8:
        return None
    items: Iterable[Any]
    if isinstance(value, Mapping):
        items = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    elif (is_dataclass(value) and not isinstance(value, type)) or _is_namespace(value):
        items = vars(value).values()
    else:
        return None
    for item in items:
        found = _first_origin(item, depth + 1)
        if found is not None:
            return found
    return None


def _is_namespace(value: Any) -> bool:
    """jinja2.utils.Namespace (``{% set ns.x = ... %}``), known without importing Jinja."""
    return type(value).__name__ == "Namespace" and type(value).__module__ == "jinja2.utils"


def value_text(value: Any) -> str:
    """How a value is written into a template's output, as in ``$ORCH_INPUT_<NAME>``:
    booleans ``true``/``false``, null as nothing, lists and mappings as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (TaintedInt, TaintedFloat, TaintedBytes)):
        text = str(value) if not isinstance(value, bytes) else repr(bytes(value))
        return Text(text, (Part(0, len(text), Kind.TAINTED, value.origin, True),))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Placeholder):
        return placeholder(str(value), placeholder_name(value))
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
        origin = first_origin(value)
        return Text(text, (Part(0, len(text), Kind.TAINTED, origin, True),)) if origin else text
    text = str(value)
    origin = first_origin(value)
    if origin is not None and not isinstance(text, Text):
        return Text(text, (Part(0, len(text), Kind.TAINTED, origin, True),))
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return plain(str(value))
