"""Fixture-file cases: ``cases/NAME.md`` with the expected outcome in ``cases/NAME.expected``.

The expected file holds either the diagnostics (``path:line:col: message``, one a line, in
order; warnings as ``path:line:col: warning: message``) or, for a valid document, a JSON
summary of what was parsed, with its warnings (``"warnings"``) when it has any.

Writing an ``.expected`` file is for a new case only (``python tests/document/casefiles.py``
writes the missing ones): read what it says before committing it, it is the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.document import parse
from orchestrator.errors import DocumentError
from orchestrator.model import Document

CASES = Path(__file__).parent / "cases"


def summary(doc: Document) -> dict[str, Any]:
    warnings = {"warnings": [str(d) for d in doc.warnings]} if doc.warnings else {}
    return {
        **warnings,
        "id": doc.id,
        "title": doc.title,
        "status": str(doc.status),
        "defaults": {
            "shell": doc.defaults.shell,
            "timeout": doc.defaults.timeout_seconds,
            "cwd": doc.defaults.cwd,
            "retries": doc.defaults.retries,
        },
        "inputs": {
            d.name: {
                "schema": dict(d.schema),
                "line": d.line,
                "required": d.required,
                **({"default": d.default} if d.has_default else {}),
            }
            for d in doc.inputs
        },
        "env": dict(doc.env),
        "triggers": None
        if doc.triggers is None
        else {
            "line": doc.triggers.line,
            "paths": list(doc.triggers.paths),
            "schedule": list(doc.triggers.schedule),
            "inputs": dict(doc.triggers.inputs),
        },
        "steps": [
            {
                "name": s.name,
                "kind": str(s.kind),
                "language": s.language,
                "section": s.section,
                "line": s.line,
                "body_line": s.body_line,
                "command": list(s.command),
                "timeout": s.timeout_seconds,
                "retries": s.retries,
                "retry_delay": s.retry_delay_seconds,
                "continue_on_error": s.continue_on_error,
                "cwd": s.cwd,
                "file": s.file,
                "mode": None if s.mode is None else oct(s.mode),
                "render": s.render,
                "if": s.condition,
                "body": s.body,
            }
            for s in doc.steps
        ],
    }


def outcome(case: Path) -> str:
    """What parsing ``case`` gives, in the format of the ``.expected`` files."""
    try:
        doc = parse(case.read_text(encoding="utf-8"), Path(case.name))
    except DocumentError as exc:
        return "".join(f"{d}\n" for d in exc.diagnostics)
    return json.dumps(summary(doc), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # write the .expected file of each case that lacks one
    for case in sorted(CASES.glob("*.md")):
        expected = case.with_suffix(".expected")
        if not expected.exists():
            expected.write_text(outcome(case), encoding="utf-8")
            print(f"wrote {expected.name}")
