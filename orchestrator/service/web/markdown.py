"""An intent document as HTML: its Markdown body, with every step fence labelled.

Raw HTML in the document is shown as text (``html=False``) and markdown-it refuses
``javascript:`` and similar links, so a document cannot put script or markup on the page.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

from orchestrator.document import frontmatter
from orchestrator.document.build import normalise
from orchestrator.model import Document, Step


@functools.cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    default_fence = cast(RendererHTML, parser.renderer).rules["fence"]

    def fence(
        renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Mapping[str, Any]
    ) -> str:
        token = tokens[idx]
        steps: Mapping[int, Step] = env.get("steps") or {}
        step = steps.get(env.get("offset", 0) + token.map[0] + 1) if token.map else None
        if step is None:
            return str(default_fence(tokens, idx, options, env))
        return _step_figure(step, token)

    parser.add_render_rule("fence", fence)
    return parser


def render(doc: Document) -> Markup:
    """The document's body as safe HTML; step fences become labelled figures."""
    try:
        split = frontmatter.split(normalise(doc.text), str(doc.path))
    except frontmatter.FrontMatterError:
        return Markup("<pre>{}</pre>").format(doc.text)
    env = {"steps": {step.line: step for step in doc.steps}, "offset": split.body_offset}
    html = _parser().render(split.body, env)
    return Markup(html)  # noqa: S704 - markdown-it escaped every text and attribute


def _step_figure(step: Step, token: Token) -> str:
    language = escape(step.language or "text")
    attrs = " ".join(
        f"{escape(name)}={escape(value)}" for name, value in step.attrs.items() if name != "step"
    )
    name = escape(step.name)
    return (
        f'<figure class="step step-{escape(step.kind.value)}" id="step-{name}">'
        f'<figcaption><span class="step-kind">{escape(step.kind.value)}</span> '
        f'step <strong>{name}</strong> <span class="muted">{language}'
        f"{' · ' + attrs if attrs else ''} · line {step.line}</span></figcaption>"
        f"<pre><code>{escape(token.content)}</code></pre></figure>\n"
    )
