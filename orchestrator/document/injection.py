"""The injection rule as ``orch validate`` reads it: from the template, before any value
exists. The check of the rendered body when a step runs is the guarantee (see
``orchestrator.templating.guard``); this is the early, friendly message for the plain forms:
an input written into a script without its language's quoting filter, and a quoting filter
of another language."""

from __future__ import annotations

import re
from collections.abc import Iterator

from orchestrator.model import InputDecl, Step
from orchestrator.templating import quoting_filter_uses, raw_input_references

from .inputs import environment_name

# Bodies that may use a quoting filter that does not fit the step: only those are parsed for
# it (parsing is not free).
_MAY_USE = {
    "sh": re.compile(r"(?:\||\bfilter)\s*py\b"),
    "py": re.compile(r"(?:\||\bfilter)\s*sh\b"),
    None: re.compile(r"(?:\||\bfilter)\s*(?:sh|py)\b"),
}


def _quoting_filter(step: Step) -> str | None:
    """The filter that quotes for a script step's language (None: orch knows none)."""
    if step.interpreter is not None:
        return None
    return "py" if step.language in ("python", "python3") else "sh"


def quoting_problems(step: Step, declared: dict[str, InputDecl]) -> Iterator[tuple[int, str]]:
    """The injection rule, read from the template before any value exists (the check of the
    rendered body at run time is the guarantee; this is the early, friendly message)."""
    quoting = _quoting_filter(step)
    language = step.interpreter or step.language
    wrong = _MAY_USE[quoting].search(step.body)
    uses = quoting_filter_uses(step.body, body=True) if wrong else []
    for used, lineno in uses:
        if used == quoting:
            continue
        line = step.body_line + lineno - 1
        if quoting is None:
            yield (
                line,
                (
                    f"step '{step.name}' runs with interpreter={step.interpreter!r}, which orch "
                    f"knows no quoting for: the {used} filter does not apply; read the value "
                    "from the environment ($ORCH_INPUT_<NAME>)"
                ),
            )
        elif quoting == "py":
            yield (
                line,
                (
                    f"step '{step.name}' is {language}: the sh filter quotes for the shell, not "
                    "for Python: use the py filter ({{ ... | py }})"
                ),
            )
        else:
            yield (
                line,
                (
                    f"step '{step.name}' is {language}: the py filter writes a Python literal, "
                    "not a shell word: use the sh filter ({{ ... | sh }})"
                ),
            )
    if "inputs" not in step.body:
        return
    for name, lineno in raw_input_references(step.body, body=True):
        decl = declared.get(name)
        if decl is None or decl.secret or decl.restricted:
            continue
        variable = environment_name(name)
        line = step.body_line + lineno - 1
        if quoting == "sh":
            yield (
                line,
                (
                    f"input '{name}' is pasted raw into script step '{step.name}': declare an "
                    f'enum or pattern, use "${variable}", or quote it with '
                    f"{{{{ inputs.{name} | sh }}}}"
                ),
            )
        elif quoting == "py":
            yield (
                line,
                (
                    f"input '{name}' is pasted raw into python step '{step.name}': declare an "
                    f'enum or pattern, use os.environ["{variable}"], or quote it with '
                    f"{{{{ inputs.{name} | py }}}}"
                ),
            )
        else:
            yield (
                line,
                (
                    f"input '{name}' is pasted into step '{step.name}', whose interpreter="
                    f"{step.interpreter!r} orch knows no quoting for: declare an enum, or read "
                    f"${variable} from the environment"
                ),
            )
