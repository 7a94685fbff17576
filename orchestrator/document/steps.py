"""Steps: the fenced code blocks of the Markdown body whose attribute group names a step.

Only ``fence`` tokens of markdown-it (CommonMark) are considered, in any container, so
indented code blocks never run and a fence written inside another fence is only text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from orchestrator.durations import MAX_DURATION_TEXT, parse_duration, too_long
from orchestrator.errors import Diagnostic, TemplateError
from orchestrator.model import Defaults, Step, StepKind
from orchestrator.templating import Where

from . import conditions, fences
from .health import health_problems, templated_health_problems
from .suggest import did_you_mean
from .templates import check_condition_syntax, check_template_syntax

# Only the block structure is needed (fences, headings and their raw text): the inline rules,
# which would parse emphasis and links inside every paragraph, are off.
_MD = MarkdownIt("commonmark").disable(["inline", "text_join"])

KNOWN_ATTRIBUTES = (
    "step",
    "if",
    "timeout",
    "retries",
    "retry_delay",
    "continue_on_error",
    "cwd",
    "file",
    "mode",
    "interpreter",
    "render",
)
SHELLS: Mapping[str, tuple[str, ...]] = {
    "sh": ("sh", "-e"),
    "bash": ("bash", "-eo", "pipefail"),
    "zsh": ("zsh", "-e"),
}
PYTHONS = ("python", "python3")

_STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MODE = re.compile(r"^0?[0-7]{3}$")
MAX_RETRIES = 100


@dataclass(frozen=True)
class _Fence:
    """A fenced block that may be a step, with where it is in the document."""

    token: Token
    line: int
    col: int
    section: str
    source: str


def parse_steps(
    body: str,
    body_offset: int,
    path: str,
    title: str,
    defaults: Defaults,
    every_name: list[tuple[str, int]] | None = None,
) -> tuple[list[Step], list[Diagnostic]]:
    """Every step of ``body`` (a Markdown text whose line 0 is file line ``body_offset + 1``).

    ``every_name`` gets ``(name, fence line)`` of every fence written as a step, the invalid
    ones included (so that references to them are not reported as unknown too)."""
    steps: list[Step] = []
    problems: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for fence in _fences(body, body_offset, title):
        names: list[str] = []
        step = _step(fence, path, defaults, problems, names)
        if not names:
            continue
        name = names[0]
        if every_name is not None:
            every_name.append((name, fence.line))
        if name in seen:
            problems.append(
                Diagnostic(
                    path,
                    fence.line,
                    _word_col(fence.source, "step", fence.col),
                    f"duplicate step name '{name}' (first used at line {seen[name]})",
                )
            )
            continue
        seen[name] = fence.line
        if step is not None:
            problems.extend(conditions.never_true(step, steps, path))
            steps.append(step)
    return steps, problems


def _fences(body: str, body_offset: int, title: str) -> list[_Fence]:
    lines = body.split("\n")
    tokens = _MD.parse(body)
    section = title
    fences: list[_Fence] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            section = tokens[index + 1].content.strip() or section
        elif token.type == "fence" and token.map is not None:
            source = lines[token.map[0]] if token.map[0] < len(lines) else ""
            at = source.find(token.markup)
            col = at + 1 if at >= 0 else len(source) - len(source.lstrip()) + 1
            fences.append(_Fence(token, body_offset + token.map[0] + 1, col, section, source))
    return fences


def _word_col(source: str, word: str, fallback: int, occurrence: int = 1) -> int:
    """1-based column of the ``occurrence``-th attribute ``word`` on the fence's line."""
    pattern = re.compile(r"(?<=[\s{])" + re.escape(word) + r"(?=[=\s}]|$)")
    found = list(pattern.finditer(source))
    if len(found) >= occurrence:
        return found[occurrence - 1].start() + 1
    return fallback


def _attributes(
    text: str, at: tuple[str, int, int, str], problems: list[Diagnostic]
) -> dict[str, str] | None:
    """The ``key=value`` words of an attribute group, or None when it is not a step."""
    path, line, col, source = at
    try:
        words = _split_words(text)
    except ValueError as exc:
        if re.search(r"\bstep\b", text):
            message = f"step attributes: {exc}"
            problems.append(Diagnostic(path, line, col, message, code="step-attribute"))
        return None
    words, spaced = fences.join_spaced_equals(words)
    keys = [word.split("=", 1)[0] for word in words]
    if "step" not in keys:
        misspelled = fences.misspelled_step(keys)
        if misspelled is not None:
            message = (
                f"unknown attribute '{misspelled}': did you mean step=? Without step=NAME "
                "this code block is documentation and never runs"
            )
            problems.append(
                Diagnostic(
                    path, line, _word_col(source, misspelled, col), message, code="step-fence"
                )
            )
            return None
        stray = [key for key in keys if key in KNOWN_ATTRIBUTES]
        if stray:
            problems.append(
                Diagnostic(
                    path,
                    line,
                    col,
                    f"code block has step attributes ({', '.join(stray)}) but no step=NAME: "
                    "add step=NAME to run it, or remove them",
                    code="step-attribute",
                )
            )
        return None
    if spaced:
        message = (
            "spaces around '=' in the step attributes: write "
            f"{{{fences.without_spaced_equals(text)}}}"
        )
        spaced_col = fences.column(source, "=", col)
        problems.append(Diagnostic(path, line, spaced_col, message, code="step-fence"))
    attrs: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals:
            message = f"step attribute '{word}' is not key=value"
            problems.append(
                Diagnostic(path, line, _word_col(source, key, col), message, code="step-attribute")
            )
            continue
        if key not in KNOWN_ATTRIBUTES:
            hint = did_you_mean(key, KNOWN_ATTRIBUTES, shown="{}=")
            message = f"unknown step attribute '{key}'" + (
                f": {hint}" if hint else f" (known: {', '.join(KNOWN_ATTRIBUTES)})"
            )
            problems.append(
                Diagnostic(path, line, _word_col(source, key, col), message, code="step-attribute")
            )
            continue
        if key in attrs:
            second = _word_col(source, key, col, occurrence=2)
            message = f"step attribute '{key}' given twice"
            problems.append(Diagnostic(path, line, second, message, code="step-attribute"))
            continue
        attrs[key] = value
    return attrs


def _split_words(text: str) -> list[str]:
    """The words of an attribute group, quoted as in a POSIX shell (``#`` is no comment)."""
    return shlex.split(text, comments=False, posix=True)


def _step(
    fence: _Fence,
    path: str,
    defaults: Defaults,
    problems: list[Diagnostic],
    names: list[str],
) -> Step | None:
    """The step of ``fence``, None when it is not one or is invalid (``names`` gets its name)."""
    token, line, col = fence.token, fence.line, fence.col
    info = fences.read_info(token.info)
    language = info.language
    if info.group is None:
        _unbraced(info, fence, path, problems, names)
        return None
    attrs = _attributes(info.group, (path, line, col, fence.source), problems)
    if attrs is None or "step" not in attrs:
        return None
    before = len(problems)
    _group_shape(info, fence, path, problems)

    def error(message: str) -> None:
        problems.append(Diagnostic(path, line, col, message))

    name = attrs["step"]
    names.append(name)
    if not _STEP_NAME.match(name):
        error(
            f"invalid step name '{name}': use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    label = f"step '{name}'"
    timeout = defaults.timeout_seconds
    retries = defaults.retries
    retry_delay = 0.0
    for key in ("timeout", "retry_delay"):
        if key in attrs:
            try:
                seconds = parse_duration(attrs[key])
            except ValueError:
                error(f"{label}: bad {key} '{attrs[key]}': use a duration like 30s, 10m, 1h30m")
                continue
            if too_long(seconds):
                error(
                    f"{label}: {key} '{attrs[key]}' is longer than the maximum of "
                    f"{MAX_DURATION_TEXT}"
                )
            elif key == "timeout" and seconds <= 0:
                error(f"{label}: timeout must be longer than zero")
            elif key == "timeout":
                timeout = seconds
            else:
                retry_delay = seconds
    if "timeout" not in attrs and too_long(timeout):
        error(
            f"{label}: its timeout (defaults.timeout) is longer than the maximum of "
            f"{MAX_DURATION_TEXT}"
        )
    if "retries" in attrs:
        given = attrs["retries"]
        if not (given.isascii() and given.isdigit()):
            error(f"{label}: retries must be a whole number ≥ 0, not '{given}'")
        elif len(given.lstrip("0")) > 3 or int(given) > MAX_RETRIES:
            shown = given if len(given) <= 20 else given[:20] + "…"
            error(f"{label}: retries {shown} is more than the maximum of {MAX_RETRIES}")
        else:
            retries = int(given)
    flags = {}
    for key, default in (("continue_on_error", False), ("render", True)):
        value = attrs.get(key, "true" if default else "false")
        if value not in ("true", "false"):
            error(f"{label}: {key} must be true or false, not '{value}'")
        flags[key] = value == "true" if value in ("true", "false") else default
    mode = None
    if "mode" in attrs:
        if "file" not in attrs:
            error(f"{label}: mode= is only for file steps (with file=PATH)")
        elif _MODE.match(attrs["mode"]):
            mode = int(attrs["mode"], 8)
        else:
            error(f"{label}: mode must be octal permission bits like 0644, not '{attrs['mode']}'")
    for key in ("file", "cwd", "interpreter"):
        if key in attrs and not attrs[key].strip():
            error(f"{label}: {key}= needs a value")
    kind, command = _kind(language, attrs, defaults, label, error)
    condition = attrs.get("if")
    if condition is not None:
        try:
            check_condition_syntax(condition, Where(path, line, f"{label} if"))
        except TemplateError as exc:
            problems.append(_at_col(exc.diagnostic, col))
    body = token.content
    body_line = line + 1
    if flags["render"] and _has_template(body):
        try:
            check_template_syntax(body, Where(path, body_line, label), body=True)
        except TemplateError as exc:
            problems.append(exc.diagnostic)
    if kind is StepKind.HEALTH and (not flags["render"] or not _has_template(body)):
        problems.extend(health_problems(body, path, body_line, label))
    elif kind is StepKind.HEALTH and len(problems) == before:
        problems.extend(templated_health_problems(body, path, body_line, label))
    if len(problems) > before or kind is None:
        return None
    return Step(
        name=name,
        kind=kind,
        language=language,
        body=body,
        section=fence.section,
        line=line,
        body_line=body_line,
        attrs=attrs,
        condition=condition,
        timeout_seconds=timeout,
        retries=retries,
        retry_delay_seconds=retry_delay,
        continue_on_error=flags["continue_on_error"],
        cwd=attrs.get("cwd", defaults.cwd),
        file=attrs.get("file"),
        mode=mode,
        interpreter=attrs.get("interpreter"),
        render=flags["render"],
        command=command,
    )


def _unbraced(
    info: fences.Info, fence: _Fence, path: str, problems: list[Diagnostic], names: list[str]
) -> None:
    """``bash step=lint``: a step in all but the braces."""
    word = fences.unbraced_step(info)
    if word is None:
        return
    name = word.partition("=")[2]
    if name:
        names.append(name)
    message = (
        f"{word} is outside braces, so this code block is documentation and never runs: "
        f"write {info.language or 'bash'} {{{info.after}}}"
    )
    at = fences.column(fence.source, word, fence.col)
    problems.append(Diagnostic(path, fence.line, at, message, code="step-fence"))


def _group_shape(info: fences.Info, fence: _Fence, path: str, problems: list[Diagnostic]) -> None:
    """A step's group must be closed and end the info string."""
    group = (info.group or "").strip()
    if not info.closed:
        message = f"the step attributes are not closed: write {{{group}}}"
        problems.append(Diagnostic(path, fence.line, fence.col, message, code="step-fence"))
    elif info.after:
        fix = (
            f"move it inside the braces: {{{group} {info.after}}}"
            if "=" in info.after
            else f"remove it: the info string is LANGUAGE {{ATTRIBUTES}}, like {info.language} "
            f"{{{group}}}"
        )
        message = f"text after the step attributes ('{info.after}'): {fix}"
        at = fences.column(fence.source, info.after, fence.col)
        problems.append(Diagnostic(path, fence.line, at, message, code="step-fence"))


def _at_col(diagnostic: Diagnostic, col: int) -> Diagnostic:
    return Diagnostic(diagnostic.path, diagnostic.line, col, diagnostic.message)


def _has_template(text: str) -> bool:
    """Whether a step body has any Jinja tag at all (comments are off in bodies)."""
    return "{{" in text or "{%" in text


def _kind(
    language: str, attrs: Mapping[str, str], defaults: Defaults, label: str, error: Any
) -> tuple[StepKind | None, tuple[str, ...]]:
    if not language:
        error(f"{label}: the code block has no language: write it before the braces, e.g. bash")
        return None, ()
    if "file" in attrs:
        if "interpreter" in attrs:
            error(f"{label}: a step has file= or interpreter=, not both")
            return None, ()
        return StepKind.FILE, ()
    if "interpreter" in attrs:
        try:
            command = tuple(shlex.split(attrs["interpreter"]))
        except ValueError as exc:
            error(f"{label}: interpreter: {exc}")
            return None, ()
        return (StepKind.SCRIPT, command) if command else (None, ())
    if language == "health":
        return StepKind.HEALTH, ()
    if language == "manual":
        return StepKind.MANUAL, ()
    if language == "shell":
        return StepKind.SCRIPT, SHELLS.get(defaults.shell, SHELLS["bash"])
    if language in SHELLS:
        return StepKind.SCRIPT, SHELLS[language]
    if language in PYTHONS:
        return StepKind.SCRIPT, ("python3",)
    error(
        f"{label}: unknown step language '{language}': use sh, bash, zsh, shell, python, "
        "health or manual, or add interpreter=PROGRAM or file=PATH"
    )
    return None, ()
