"""Health step bodies, read as the runtime reads them: a YAML mapping with ``url``, ``expect``,
``timeout``, ``interval`` and ``headers``.

A body without template tags is checked whole. A templated body is checked as far as the
template allows: each ``{{ ... }}`` stands for a value unknown until the run, so its keys,
and every value that holds no tag, are checked now; a value made by a tag is checked when
the step runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from orchestrator.durations import MAX_DURATION_TEXT, parse_duration, too_long
from orchestrator.errors import Diagnostic

from .suggest import did_you_mean

HEALTH_KEYS = ("url", "expect", "timeout", "interval", "headers")

# Stands for the value of a ``{{ ... }}`` tag in a templated body: a plain word, so the YAML
# around it reads as it will once rendered, and not a word a writer would use.
_MARKER = "ORCHxTEMPLATEx"
_TAG = re.compile(r"\{\{.*?\}\}", re.DOTALL)
# RFC 9110 "token": the characters of a header name.
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be polled (not http or https, or malformed), or None."""
    if not url.startswith(("http://", "https://")):
        return (
            f"url {url!r} is not a usable address: it must start with http:// or https:// "
            "(in lower case)"
        )
    if _CONTROL.search(url.strip()):
        return (
            f"url {url!r} is not a usable address: it holds a space or a control character "
            "(write a space in a path as %20)"
        )
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - reading it checks it
    except ValueError as exc:
        return f"url {url!r} is not a usable address: {exc}"
    if not parts.hostname:
        return f"url {url!r} is not a usable address: give http:// or https:// and a host"
    return None


def health_problems(text: str, path: str, first_line: int, label: str) -> list[Diagnostic]:
    """Problems of a health check body (YAML: url, expect, timeout, interval, headers)."""
    _, problems = parse_health(text, path, first_line, label)
    return problems


def templated_health_problems(
    text: str, path: str, first_line: int, label: str
) -> list[Diagnostic]:
    """Problems of a templated health body that no rendering can remove: unknown keys and
    values written without tags. Bodies with ``{% %}`` tags, or whose YAML would only be
    readable once rendered, are left to the run."""
    if "{%" in text:
        return []
    problems = [
        Diagnostic(path, first_line + offset, col, f"{label}: {message}", code="health")
        for offset, col, message in _templated_problems(_stand_in(text))
    ]
    scheme = _URL_PREFIX.search(text)
    if scheme is not None and not scheme.group(2).startswith(("http://", "https://")):
        shown = scheme.group(2) + "…"
        problems.append(
            Diagnostic(
                path,
                first_line + text.count("\n", 0, scheme.start(2)),
                1,
                f"{label}: url {shown!r} must start with http:// or https:// (in lower case)",
                code="health",
            )
        )
    return sorted(problems)


# ``url: htp://{{ host }}/``: the part before the first tag shows a scheme.
_URL_PREFIX = re.compile(r"^url:[ \t]*(['\"]?)([A-Za-z][A-Za-z0-9+.-]*://[^{\s'\"]*)\{\{", re.M)
_VALUE_WITH_TAG = re.compile(r"^([ \t]*(?:-[ \t]+)?[A-Za-z0-9_-]+:[ \t]+)(.*\{\{.*)$", re.M)


def _stand_in(text: str) -> str:
    """The body with each value that holds a tag replaced by one marker word (so bodies that
    differ only in what their tags make are read once), and any other tag by the marker."""
    return _TAG.sub(_MARKER, _VALUE_WITH_TAG.sub(lambda m: m.group(1) + _MARKER, text))


@functools.lru_cache(maxsize=1024)
def _templated_problems(stand_in: str) -> tuple[tuple[int, int, str], ...]:
    """``(line offset, column, message)`` of a stand-in body's problems, unlabelled."""
    _, problems = _read(stand_in, "", 1, "", templated=lambda value: _MARKER in value)
    if any(d.code == "yaml" for d in problems):
        return ()
    return tuple((d.line - 1, d.col, d.message.removeprefix(": ")) for d in problems)


def parse_health(
    text: str, path: str, first_line: int, label: str = "health check"
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Read a (rendered) health body; ``first_line`` is the file line of its first line.

    Returns the spec with ``timeout``/``interval`` in seconds (None when absent).
    """
    return _read(text, path, first_line, label, templated=lambda value: False)


def _read(
    text: str,
    path: str,
    first_line: int,
    label: str,
    *,
    templated: Callable[[str], bool],
) -> tuple[dict[str, Any], list[Diagnostic]]:
    from . import frontmatter  # imported here: the YAML parser loads only when a value needs it

    padded = "\n" * max(first_line - 1, 0) + text
    try:
        data, positions = frontmatter.load(padded, path)
    except frontmatter.FrontMatterError as exc:
        return {}, [
            Diagnostic(d.path, d.line, d.col, f"{label}: {d.message}", code="yaml")
            for d in exc.diagnostics
        ]
    problems: list[Diagnostic] = []

    def error(where: tuple[str, ...], message: str) -> None:
        line, col = positions.key(where) if where else (first_line, 1)
        problems.append(Diagnostic(path, line, col, f"{label}: {message}", code="health"))

    def made_by_template(value: Any) -> bool:
        return isinstance(value, str) and templated(value)

    if not isinstance(data, dict):
        if not made_by_template(data):
            error(
                (), "a health check is a YAML mapping with url, expect, timeout, interval, headers"
            )
        return {}, problems
    for key in data:
        if key not in HEALTH_KEYS and not made_by_template(key):
            hint = did_you_mean(str(key), HEALTH_KEYS)
            fix = f": {hint}" if hint else f" (expected one of: {', '.join(HEALTH_KEYS)})"
            error((key,), f"unknown key '{key}'{fix}")
    spec: dict[str, Any] = {"url": data.get("url"), "expect": data.get("expect", {})}
    url = spec["url"]
    if not isinstance(url, str) or not url.strip():
        error(("url",) if "url" in data else (), "url is required (the address to poll)")
    elif not made_by_template(url) and (problem := url_problem(url)) is not None:
        error(("url",), problem)
    if not isinstance(spec["expect"], dict) and not made_by_template(spec["expect"]):
        error(("expect",), "expect must be a mapping of JSON fields to expected values")
    _headers(data, spec, error, made_by_template)
    for key in ("timeout", "interval"):
        value = data.get(key)
        spec[key] = None
        if value is None or made_by_template(value):
            continue
        try:
            spec[key] = (
                float(value)
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else parse_duration(str(value))
            )
        except ValueError:
            error((key,), f"bad {key} '{value}': use a duration like 30s, 2m")
            continue
        if too_long(spec[key]):
            error((key,), f"{key} '{value}' is longer than the maximum of {MAX_DURATION_TEXT}")
        elif spec[key] <= 0:
            error((key,), f"{key} must be longer than zero")
    return spec, problems


def _headers(
    data: dict[str, Any],
    spec: dict[str, Any],
    error: Callable[[tuple[str, ...], str], None],
    made_by_template: Callable[[Any], bool],
) -> None:
    headers = data.get("headers", {})
    if made_by_template(headers):
        return
    if not isinstance(headers, dict) or not all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in headers.values()
    ):
        error(("headers",), "headers must be a mapping of header names to strings")
        return
    spec["headers"] = {str(k): str(v) for k, v in headers.items()}
    for name, value in headers.items():
        if not made_by_template(name) and not _HEADER_NAME.match(str(name)):
            error(
                ("headers", name),
                f"header name {str(name)!r} is not a valid HTTP header name (letters, digits "
                "and !#$%&'*+-.^_`|~, no spaces or colons)",
            )
        elif isinstance(value, str) and ("\n" in value or "\r" in value):
            error(("headers", name), f"header {name!r}: a header value is one line")
