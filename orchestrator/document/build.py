"""Assemble a ``Document`` from its front matter and steps, with the cross checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.durations import parse_duration
from orchestrator.errors import Diagnostic, DocumentError, TemplateError
from orchestrator.globs import pattern_problem
from orchestrator.model import (
    ArtifactSpec,
    ArtifactWhen,
    Defaults,
    Document,
    DocumentStatus,
    InputDecl,
    Publication,
    Step,
    StepKind,
    Triggers,
)
from orchestrator.templating import Where

from . import bodies, frontmatter, references, schema, steps, templates
from .frontmatter import Positions
from .injection import quoting_problems
from .inputs import environment_name, value_problems

DECL_KEYS = ("required", "default", "description", "secret")
_ARTIFACT_TEXT = ("name", "project", "baseline", "patch", "label", "description", "tags")


def normalise(text: str) -> str:
    """One newline convention and no byte-order mark, keeping line numbers."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def build(text: str, path: Path) -> Document:
    shown = str(path)
    text = normalise(text)
    try:
        split = frontmatter.split(text, shown)
    except frontmatter.FrontMatterError as exc:
        raise DocumentError(exc.diagnostics) from None
    problems: list[Diagnostic] = []
    data: dict[str, Any] = {}
    positions = Positions()
    bad: set[frontmatter.JsonPath] = set()
    front_matter_ok = True
    try:
        loaded, positions = frontmatter.load(split.front_matter, shown)
    except frontmatter.FrontMatterError as exc:
        problems.extend(exc.diagnostics)
        front_matter_ok = False
    else:
        found, bad = schema.check(loaded, positions, shown)
        problems.extend(found)
        if isinstance(loaded, dict):
            data = loaded
        else:
            front_matter_ok = False
    ctx = _Context(shown, data, positions, bad, problems)
    defaults = ctx.defaults()
    inputs = ctx.inputs()
    title = data.get("title") if isinstance(data.get("title"), str) else None
    every_name: list[tuple[str, int]] = []
    found_steps, step_problems = steps.parse_steps(
        split.body, split.body_offset, shown, title or path.stem, defaults, every_name
    )
    problems.extend(step_problems)
    if not every_name and not step_problems:
        problems.append(_no_steps(shown, split.body_offset + 1))
    problems.extend(bodies.problems(found_steps, shown))
    env = ctx.env()
    triggers = ctx.triggers(inputs)
    artifacts = ctx.artifacts()
    if front_matter_ok and ("inputs",) not in bad and ("env",) not in bad:
        by_name = {step.name: step for step in found_steps}
        every = [
            references.StepName(name, line, by_name.get(name))
            for name, line in dict(reversed(every_name)).items()
        ]
        every.sort(key=lambda step: step.line)
        ctx.check_references(inputs, found_steps, env, every, text.split("\n"))
    warnings = tuple(sorted(p for p in problems if p.severity == "warning"))
    if len(warnings) < len(problems):
        raise DocumentError(problems)
    return Document(
        path=path,
        text=text,
        id=str(data["id"]),
        title=str(data["title"]),
        steps=tuple(found_steps),
        owner=data.get("owner"),
        status=DocumentStatus(data.get("status", "draft")),
        publication=Publication(data.get("publication", "unpublished")),
        system=data.get("system"),
        description=data.get("description"),
        inputs=tuple(inputs),
        env=env,
        secrets=tuple(data.get("secrets", ())),
        defaults=defaults,
        triggers=triggers,
        artifacts=tuple(artifacts),
        runs_on=tuple(sorted(set(data.get("runs_on", ())))),
        key_lines={str(key[0]): pos[0] for key, pos in positions.keys.items() if len(key) == 1},
        warnings=warnings,
    )


def _no_steps(path: str, line: int) -> Diagnostic:
    return Diagnostic(
        path,
        line,
        1,
        "the document has no step, so a run would do nothing: a step is a fenced code block "
        "with step=NAME in braces after its language, like ```bash {step=build}",
        code="no-steps",
    )


class _Context:
    """The parts of one document's front matter, built defensively (errors collected)."""

    def __init__(
        self,
        path: str,
        data: dict[str, Any],
        positions: Positions,
        bad: set[frontmatter.JsonPath],
        problems: list[Diagnostic],
    ) -> None:
        self.path = path
        self.data = data
        self.positions = positions
        self.bad = bad
        self.problems = problems
        # Inputs whose declarations are invalid: known to exist, but not checked further.
        self.broken_inputs: set[str] = set()

    def error(self, where: tuple[str | int, ...], message: str) -> None:
        line, col = self.positions.of(where)
        self.problems.append(Diagnostic(self.path, line, col, message))

    def section(self, key: str) -> Any:
        return None if (key,) in self.bad else self.data.get(key)

    def valid(self, key: str, item: str | int) -> bool:
        return (key, item) not in self.bad

    def defaults(self) -> Defaults:
        given = {
            key: value
            for key, value in (self.section("defaults") or {}).items()
            if self.valid("defaults", key)
        }
        timeout = 3600.0
        if "timeout" in given:
            value = given["timeout"]
            try:
                timeout = float(value) if not isinstance(value, str) else parse_duration(value)
            except ValueError:
                self.error(
                    ("defaults", "timeout"),
                    f"defaults.timeout: bad duration '{value}': use 30s, 10m, 1h30m",
                )
        return Defaults(
            shell=given.get("shell", "bash"),
            timeout_seconds=timeout,
            cwd=given.get("cwd"),
            retries=given.get("retries", 0),
        )

    def inputs(self) -> list[InputDecl]:
        declared = self.section("inputs") or {}
        result = []
        env_names: dict[str, str] = {}
        for name, body in declared.items():
            where = ("inputs", name)
            if not self.valid("inputs", name):
                self.broken_inputs.add(name)
                continue
            decl = InputDecl(
                name=name,
                schema={k: v for k, v in body.items() if k not in DECL_KEYS},
                line=self.positions.key(where)[0],
                required=bool(body.get("required", False)),
                default=body.get("default"),
                has_default="default" in body,
                secret=bool(body.get("secret", False)),
                description=str(body.get("description", "")),
            )
            variable = environment_name(name)
            if variable in env_names:
                self.error(
                    where,
                    f"inputs '{env_names[variable]}' and '{name}' both become ${variable}",
                )
            env_names[variable] = name
            if decl.has_default:
                if decl.secret:
                    self.error(
                        (*where, "default"),
                        f"secret input '{name}' cannot have a default: it would not be secret",
                    )
                for message in value_problems(decl, decl.default):
                    self.error((*where, "default"), f"default of {message}")
            result.append(decl)
        return result

    def env(self) -> dict[str, str]:
        given = self.section("env") or {}
        env = {}
        for name, value in given.items():
            if not self.valid("env", name):
                continue
            text = value if isinstance(value, str) else _scalar_text(value)
            env[name] = text
            self.check_template(text, ("env", name), f"env {name}")
        return env

    def check_template(self, text: str, where: tuple[str | int, ...], what: str) -> None:
        if "{" not in text:
            return  # plain text: no Jinja tag, nothing to check
        line = self.positions.of(where)[0]
        try:
            templates.check_template_syntax(text, Where(self.path, line, what), body=False)
        except TemplateError as exc:
            line, col = self.positions.of(where)
            d = exc.diagnostic
            self.problems.append(Diagnostic(d.path, d.line, col, d.message))

    def check_paths(self, given: object, paths: Sequence[str]) -> None:
        """``on.paths``: each pattern reads as the hooks will read it (an ``!`` exclusion
        needs a glob after it), and at least one glob must include (a list of exclusions
        alone matches nothing)."""
        for index, pattern in enumerate(paths):
            where: tuple[str | int, ...] = ("on", "paths")
            if isinstance(given, list):
                where = (*where, index)
            problem = pattern_problem(pattern)
            if problem is not None:
                self.error(where, f"on.paths: {problem}")
        if paths and all(pattern.startswith("!") for pattern in paths):
            self.error(
                ("on", "paths"),
                "on.paths: only exclusions ('!…'), so no changed file can match: list the "
                "files to include first, e.g. ['src/**', '!src/**/*.md']",
            )

    def check_schedule(self, given: object, schedule: Sequence[str], timezone: str) -> None:
        """``on.schedule`` and ``on.timezone`` as the scheduler will evaluate them: each
        expression read by croniter and naming some date, the zone known to ``zoneinfo``."""
        # Imported here: documents without a schedule do not pay for zoneinfo and the rules.
        from orchestrator.schedule import cron_problem, zone_problem

        for index, expression in enumerate(schedule):
            where: tuple[str | int, ...] = ("on", "schedule")
            if isinstance(given, list):
                where = (*where, index)
            problem = cron_problem(expression)
            if problem:
                self.error(where, f"on.schedule: '{expression}' {problem}")
        problem = zone_problem(timezone)
        if problem:
            self.error(("on", "timezone"), f"on.timezone: {problem}")

    def triggers(self, inputs: list[InputDecl]) -> Triggers | None:
        given = self.section("on")
        if given is None or any(where[0] == "on" for where in self.bad):
            return None
        line = self.positions.key(("on",))[0]
        paths = _strings(given.get("paths", ()))
        self.check_paths(given.get("paths"), paths)
        schedule = _strings(given.get("schedule", ()))
        timezone = given.get("timezone", "UTC")
        if schedule or timezone != "UTC":
            self.check_schedule(given.get("schedule"), schedule, timezone)
        values = given.get("inputs", {})
        declared = {d.name: d for d in inputs}
        if ("inputs",) not in self.bad:
            for name, value in values.items():
                if name in self.broken_inputs:
                    continue
                decl = declared.get(name)
                if decl is None:
                    known = ", ".join(declared) or "no inputs"
                    self.error(
                        ("on", "inputs", name),
                        f"on.inputs: '{name}' is not a declared input (declared: {known})",
                    )
                    continue
                for message in value_problems(decl, value):
                    self.error(("on", "inputs", name), f"on.inputs: {message}")
            missing = [
                d.name for d in inputs if d.required and not d.has_default and d.name not in values
            ]
            if missing:
                names = ", ".join(missing)
                self.error(
                    ("on",),
                    f"unattended runs would lack required input(s) {names}: give them a "
                    "default or a value in on.inputs",
                )
        return Triggers(
            line=line,
            paths=paths,
            schedule=schedule,
            timezone=timezone,
            inputs=dict(values),
        )

    def artifacts(self) -> list[ArtifactSpec]:
        given = self.section("artifacts") or []
        project_default = self.data.get("system") or self.data.get("id")
        result = []
        for index, item in enumerate(given):
            if not self.valid("artifacts", index):
                continue
            for key, value in item.items():
                values = value if isinstance(value, list) else [value]
                for number, text in enumerate(values):
                    if isinstance(text, str):
                        where: tuple[str | int, ...] = ("artifacts", index, key)
                        if isinstance(value, list):
                            where = (*where, number)
                        self.check_template(text, where, f"artifact {key}")
                        problem = pattern_problem(text) if key == "files" else None
                        if problem is not None:
                            self.error(where, f"artifact files: {problem}")
            result.append(
                ArtifactSpec(
                    line=self.positions.key(("artifacts", index))[0],
                    name=item["name"],
                    type=item["type"],
                    files=_strings(item["files"]),
                    project=item.get("project") or _text_or_none(project_default),
                    baseline=_text_or_none(item.get("baseline")),
                    patch=_text_or_none(item.get("patch")),
                    label=item.get("label"),
                    description=item.get("description"),
                    tags=item.get("tags"),
                    format=item.get("format", "zip"),
                    when=ArtifactWhen(item.get("when", "success")),
                )
            )
        return result

    def check_references(
        self,
        inputs: list[InputDecl],
        found: list[Step],
        env: dict[str, str],
        every: list[references.StepName],
        lines: list[str],
    ) -> None:
        """Every name the templates use, against the context each will have; raw inputs
        pasted into scripts."""
        declared = {d.name: d for d in inputs}
        context = references.Context(
            inputs=declared,
            env=tuple(env),
            steps=every,
            broken_inputs=frozenset(self.broken_inputs),
            lines=lines,
        )
        sites: list[references.Site] = []
        for name in env:
            line, col = self.positions.of(("env", name))
            sites.append(references.Site(f"env {name}", env[name], line, col, "env"))
        for index, item in enumerate(self.section("artifacts") or []):
            if not self.valid("artifacts", index):
                continue
            for key in _ARTIFACT_TEXT:
                value = item.get(key)
                if isinstance(value, str):
                    line, col = self.positions.of(("artifacts", index, key))
                    sites.append(references.Site(f"artifact {key}", value, line, col, "artifact"))
        sites.extend(references.step_sites(found, every))
        self.problems.extend(references.check(self.path, context, sites))
        seen: set[tuple[int, str]] = set()
        for step in found:
            if step.render and step.kind is StepKind.SCRIPT:
                for line, message in quoting_problems(step, declared):
                    if (line, message) not in seen:
                        seen.add((line, message))
                        self.problems.append(Diagnostic(self.path, line, 1, message))


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
