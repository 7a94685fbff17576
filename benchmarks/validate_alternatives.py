"""The libraries measured against orch's own code in ``bench_validate.py``.

Each alternative is swapped in for one of orch's functions while a timed run lasts, so the
rest of validation is exactly the product's. Only the benchmark uses these; orch does not.

- ``jsonschema-rs``: the front matter's and input values' "valid?" question answered by
  jsonschema-rs, with ``pattern`` and the ``regex`` format evaluated by Python's ``re`` (as
  jsonschema does; jsonschema-rs's own ECMA-262 regexes disagree with jsonschema on ``\\d``,
  ``\\w``, ``$`` and which patterns are valid, and jsonschema still words the diagnostics).
- ``fastjsonschema``: the same question answered by fastjsonschema. It implements drafts 4, 6
  and 7 only: the shipped schema's three references to the 2020-12 meta-schema are handed
  draft 7's meta-schema, since fastjsonschema would fetch the URL, and cannot compile the
  2020-12 one (``$dynamicRef``).
- ``jinja+cache``: template and condition syntax checked by Jinja (``check_syntax``,
  ``check_expression``), remembered by text, without orch's shortcut for simple templates.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from orchestrator.document import inputs, schema, templates
from orchestrator.errors import TemplateError
from orchestrator.templating import Where, check_expression, check_syntax

Check = Callable[[Any], bool]


class PythonPattern:
    """jsonschema-rs keyword: ``pattern`` with Python's ``re.search``, as jsonschema has it."""

    def __init__(self, parent: object, value: str, path: object) -> None:
        self.regex = re.compile(value)

    def validate(self, instance: object) -> None:
        if isinstance(instance, str) and self.regex.search(instance) is None:
            raise ValueError(f"{instance!r} does not match {self.regex.pattern!r}")


def python_regex(text: str) -> bool:
    try:
        re.compile(text)
    except re.error:
        return False
    return True


def rs_check(schema_node: Any) -> Check:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(
        schema_node,
        validate_formats=True,
        formats={"regex": python_regex},
        keywords={"pattern": PythonPattern},
    )
    return validator.is_valid  # type: ignore[no-any-return]


def fjs_check(schema_node: Any) -> Check:
    import fastjsonschema
    from jsonschema import Draft7Validator

    meta = Draft7Validator.META_SCHEMA
    validate = fastjsonschema.compile(
        copy.deepcopy(schema_node), handlers={"https": lambda uri: copy.deepcopy(meta)}
    )

    def check(data: Any) -> bool:
        try:
            validate(data)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


SCHEMA_ENGINES: dict[str, Callable[[Any], Check]] = {
    "orch": lambda node: (
        schema.compiled_check(json.dumps(node, sort_keys=True)) or (lambda data: False)
    ),
    "jsonschema-rs": rs_check,
    "fastjsonschema": fjs_check,
}


@functools.lru_cache(maxsize=4096)
def jinja_valid_template(text: str, body: bool) -> bool:
    try:
        check_syntax(text, Where("", 1), body=body)
    except TemplateError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def jinja_valid_expression(expression: str) -> bool:
    try:
        check_expression(expression, Where("", 1))
    except TemplateError:
        return False
    return True


def clear_caches() -> None:
    """Forget every text and schema remembered, orch's and the alternatives'."""
    for cached in (
        templates._valid_template,
        templates._valid_expression,
        jinja_valid_template,
        jinja_valid_expression,
        schema.compiled_check,
    ):
        cached.cache_clear()


@contextlib.contextmanager
def swapped(variant: str) -> Iterator[None]:
    """orch's validation with one part replaced by the alternative named ``variant``."""
    saved = [
        (schema, "_fast_check", schema._fast_check),
        (inputs, "compiled_check", inputs.compiled_check),
        (templates, "_valid_template", templates._valid_template),
        (templates, "_valid_expression", templates._valid_expression),
    ]
    if variant in ("jsonschema-rs", "fastjsonschema"):
        make = SCHEMA_ENGINES[variant]
        front_matter = make(schema.schema())
        schema._fast_check = lambda: front_matter  # type: ignore[assignment]

        @functools.lru_cache(maxsize=1024)
        def input_check(schema_json: str) -> Check | None:
            try:
                return make(json.loads(schema_json))
            except Exception:
                return None

        inputs.compiled_check = input_check  # type: ignore[assignment]
    elif variant == "jinja+cache":
        templates._valid_template = jinja_valid_template
        templates._valid_expression = jinja_valid_expression
    elif variant != "orch":
        raise ValueError(variant)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


VARIANTS = ("orch", "jsonschema-rs", "fastjsonschema", "jinja+cache")
