"""Pages from templates: one autoescaping Jinja2 environment over ``templates/``.

Every text that reaches a page is escaped by Jinja2 unless it is ``Markup`` made here (the
rendered Markdown, whose text markdown-it escaped).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from orchestrator import __version__
from orchestrator.record import moment
from orchestrator.service.web.charts import duration_text
from orchestrator.service.web.sessions import CSRF_FIELD, Session

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"


def when(value: Any) -> str:
    """A recorded time as ``2026-11-25 22:15:03 UTC`` (empty when there is none)."""
    found = value if isinstance(value, datetime) else moment(value)
    if found is None:
        return ""
    return found.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def size_text(value: Any) -> str:
    if not isinstance(value, int):
        return ""
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def query(base: dict[str, Any], **changes: Any) -> str:
    """A query string: ``base`` with ``changes``, empty values left out."""
    merged = {**base, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(duration=duration_text, when=when, size=size_text)
    env.globals.update(version=__version__, query=query, csrf_field=CSRF_FIELD)
    return env


def page(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the session's details (role, CSRF token) available."""
    html = (
        environment()
        .get_template(template)
        .render(
            request_path=request.url.path,
            session=session,
            may_run=session is not None and session.may_run(),
            csrf=session.csrf if session is not None else "",
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
