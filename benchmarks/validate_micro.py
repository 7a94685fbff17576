"""Micro-benchmarks and agreement checks behind ``bench_validate.py``'s alternatives.

Each returns printable lines. Speeds are medians of interleaved rounds over the benchmark's
own documents; cold costs (importing an engine and compiling the shipped schema, importing
Jinja) are medians of fresh interpreters, started in turn for each engine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from validate_alternatives import SCHEMA_ENGINES

from orchestrator.document import frontmatter, load, schema, templates
from orchestrator.document.build import normalise
from orchestrator.templating import Where, check_expression, check_syntax

CASES = Path(__file__).resolve().parents[1] / "tests" / "document" / "cases"

# Where a schema engine and jsonschema could disagree: types, JSON equality, regex dialects,
# formats, the meta-schema. (schema, value) pairs.
EDGES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "integer"}, 1.0),
    ({"type": "integer"}, True),
    ({"enum": [1]}, True),
    ({"const": False}, 0),
    ({"uniqueItems": True}, [1, True]),
    ({"uniqueItems": True}, [1, 1.0]),
    ({"type": "number", "maximum": 1.5}, float("inf")),
    ({"type": "string", "maxLength": 1}, "\U0001f600"),
    ({"type": "string", "pattern": "^\\d+$"}, "\u0663"),
    ({"type": "string", "pattern": "^a$"}, "a\n"),
    ({"type": "string", "pattern": "^\\s$"}, "\ufeff"),
    ({"type": "string", "pattern": "^\\w+$"}, "\u00e9"),
    ({"type": "string", "pattern": "(?P<n>a)"}, "a"),
    ({"type": "string", "format": "regex"}, "(?<n>a)"),
    ({"type": "string", "format": "regex"}, "(?P<n>a)"),
    ({"type": "string", "format": "regex"}, "\\p{L}"),
    ({"type": "string", "format": "email"}, "x"),
    ({"type": "string", "format": "date"}, "2024-13-01"),
    ({"$ref": "https://json-schema.org/draft/2020-12/schema"}, {"type": "foo"}),
    ({"$ref": "https://json-schema.org/draft/2020-12/schema"}, {"pattern": "(?<n>a)"}),
    ({"$ref": "https://json-schema.org/draft/2020-12/schema"}, {"pattern": "(?P<n>a)"}),
]


def _median_us(samples: list[float], count: int) -> str:
    return f"{statistics.median(samples) / count * 1e6:8.2f} µs"


def _rounds(engines: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in engines}
    names = list(engines)
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            start = time.perf_counter()
            engines[name]()
            times[name].append(time.perf_counter() - start)
    return times


def front_matters(paths: list[Path]) -> list[Any]:
    loaded = []
    for path in paths:
        text = normalise(path.read_text(encoding="utf-8"))
        split = frontmatter.split(text, str(path))
        loaded.append(frontmatter.load(split.front_matter, str(path))[0])
    return loaded


def _schema_speed(data: list[Any], rounds: int) -> list[str]:
    checks = {name: make(schema.schema()) for name, make in SCHEMA_ENGINES.items()}
    for name, check in checks.items():
        assert all(check(item) for item in data), name
    times = _rounds(
        {n: (lambda c=c: [c(item) for item in data]) for n, c in checks.items()}, rounds
    )
    lines = [f"schema: is the front matter valid? per document ({len(data)} front matters)"]
    base = statistics.median(times["orch"])
    for name, samples in times.items():
        ratio = statistics.median(samples) / base
        lines.append(f"  {name:16s} {_median_us(samples, len(data))}  {ratio:6.2f} x orch")
    return lines


_COLD = """
import sys, time
start = time.perf_counter()
sys.path.insert(0, sys.argv[2])
import orchestrator.cli, orchestrator.document.build
import validate_alternatives
from orchestrator.document import schema
engine = sys.argv[1]
start = time.perf_counter()
if engine == "jsonschema-rs":
    import jsonschema_rs
elif engine == "fastjsonschema":  # jsonschema: for draft 7's meta-schema
    import fastjsonschema, jsonschema
elif engine == "jinja":
    import jinja2.sandbox
imported = time.perf_counter()
if engine == "orch":
    schema._fast_check()
elif engine != "jinja":
    validate_alternatives.SCHEMA_ENGINES[engine](schema.schema())
print(imported - start, time.perf_counter() - imported)
"""


def _cold(rounds: int) -> list[str]:
    engines = [*SCHEMA_ENGINES, "jinja"]
    here = str(Path(__file__).resolve().parent)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name in engines:
            out = subprocess.run(
                [sys.executable, "-c", _COLD, name, here],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            samples[name].append((float(out[0]), float(out[1])))
    lines = ["first use in a fresh process that has imported orch's CLI and document modules:"]
    for name, values in samples.items():
        imported = statistics.median(v[0] for v in values) * 1000
        compiled = statistics.median(v[1] for v in values) * 1000
        what = "import jinja2" if name == "jinja" else "import + compile the shipped schema"
        lines.append(
            f"  {name:16s} {imported + compiled:7.1f} ms  ({what}: {imported:.1f} + {compiled:.1f})"
        )
    return lines


def _verdict(check: Callable[[Any], bool], value: Any) -> bool | None:
    try:
        return bool(check(value))
    except Exception:
        return None


def _agreement(valid: list[Any]) -> list[str]:
    """How often each engine's verdict differs from jsonschema's, and in which direction."""
    reference = Draft202012Validator(
        schema.schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    case_data = []
    for path in sorted(CASES.glob("*.md")):
        try:
            text = normalise(path.read_text(encoding="utf-8"))
            split = frontmatter.split(text, path.name)
            case_data.append(frontmatter.load(split.front_matter, path.name)[0])
        except frontmatter.FrontMatterError:
            continue
    pairs: list[tuple[Callable[[Callable[[Any], Any]], Callable[[Any], bool] | None], Any, bool]]
    pairs = []
    for item in [*case_data, *valid]:
        pairs.append((lambda make: make(schema.schema()), item, reference.is_valid(item)))
    for node, value in EDGES:
        expected = Draft202012Validator(
            node, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).is_valid(value)
        pairs.append((lambda make, node=node: make(node), value, expected))
    lines = [
        f"agreement with jsonschema: {len(case_data)} test-case front matters, {len(valid)} "
        f"benchmark front matters, {len(EDGES)} edge cases",
        "  (unsafe: accepts what jsonschema rejects; falls back: rejects what it accepts,",
        "   which only costs a jsonschema run; refused: cannot compile the schema)",
    ]
    engines = {**SCHEMA_ENGINES, "jsonschema-rs, own regexes": _rs_own_regexes}
    for name, make in engines.items():
        same = unsafe = back = refused = 0
        for compile_, value, expected in pairs:
            try:
                check = compile_(make)
            except Exception:
                refused += 1
                continue
            got = _verdict(check, value) if check is not None else None
            if got is None:
                refused += 1
            elif got == expected:
                same += 1
            elif got:
                unsafe += 1
            else:
                back += 1
        lines.append(
            f"  {name:28s} same {same:4d}  unsafe {unsafe:2d}  falls back {back:2d}  "
            f"refused {refused:2d}"
        )
    return lines


def _rs_own_regexes(node: Any) -> Callable[[Any], bool]:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(node, validate_formats=True)
    return validator.is_valid  # type: ignore[no-any-return]


def _templates(paths: list[Path], rounds: int) -> list[str]:
    texts: list[tuple[str, bool]] = []
    conditions: list[str] = []
    for path in paths:
        doc = load(path)
        for step in doc.steps:
            if step.render and "{{" in step.body:
                texts.append((step.body, True))
            if step.condition:
                conditions.append(step.condition)
        for artifact in doc.artifacts:
            for field in (artifact.name, artifact.baseline, artifact.patch):
                if field and "{{" in field:
                    texts.append((field, False))
    assert all(templates._simple_template(t, b) for t, b in texts)
    assert all(templates._compiled(templates._SIMPLE_CONDITION).fullmatch(c) for c in conditions)

    def jinja_texts() -> None:
        for text, body in texts:
            check_syntax(text, Where("", 1), body=body)

    def jinja_conditions() -> None:
        for condition in conditions:
            check_expression(condition, Where("", 1))

    times = _rounds(
        {
            "orch templates": lambda: [templates._simple_template(t, b) for t, b in texts],
            "jinja templates": jinja_texts,
            "orch conditions": lambda: [
                templates._compiled(templates._SIMPLE_CONDITION).fullmatch(c) for c in conditions
            ],
            "jinja conditions": jinja_conditions,
        },
        rounds,
    )
    lines = [
        f"templates: check one text's syntax, nothing remembered ({len(texts)} templates, "
        f"{len(conditions)} conditions)"
    ]
    for kind, count in (("templates", len(texts)), ("conditions", len(conditions))):
        base = statistics.median(times[f"orch {kind}"])
        for name in (f"orch {kind}", f"jinja {kind}"):
            ratio = statistics.median(times[name]) / base
            lines.append(f"  {name:16s} {_median_us(times[name], count)}  {ratio:6.2f} x orch")
    return lines


def micro_benchmarks(typical: list[Path], distinct: list[Path], rounds: int) -> list[str]:
    valid = front_matters(typical) + front_matters(distinct)
    lines = _schema_speed(valid, rounds)
    lines += _cold(rounds)
    lines += _agreement(valid[:50] + valid[-50:])
    lines += _templates(distinct, rounds)
    return lines
