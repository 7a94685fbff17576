"""Step extraction held to the CommonMark spec's own examples.

The spec (``commonmark/spec.txt``) gives, for each example, the HTML CommonMark makes of its
Markdown; every code block in it is ``<pre><code class="language-X">BODY</code></pre>``. For
every example with a fence, or with a line that looks like one, the test

1. finds the fences with the reference parser and checks that it agrees with the spec's HTML
   on every code block (order, language, body): the spec is the judge, the parser only says
   which source line opens which fence;
2. turns each fence into a step by ending its opening line with an attribute group
   (``{step=fN file=fN render=false}``; a fence without an info string also gets the language
   ``text``), and ends every other line that looks like a fence (inside a fence body, an
   indented code block, a paragraph or an HTML block; never a closing fence) with a decoy
   group ``{step=dN ...}``: neither changes the block structure CommonMark sees;
3. parses the result as an intent document and asserts that orch found exactly those fences
   as steps: in order, with the language and the body the spec gives (plus the decoy words
   where a decoy line sits in a body), at the line of the opening fence. A decoy that became
   a step, a missed fence or a wrong body fails the example.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.token import Token

from orchestrator.document import parse
from orchestrator.errors import DocumentError

SPEC = Path(__file__).parent / "commonmark" / "spec.txt"
FRONT_MATTER = "---\nid: spec\ntitle: CommonMark spec example\n---\n"
NO_STEP = (
    "the document has no step, so a run would do nothing: a step is a fenced code block with "
    "step=NAME in braces after its language, like ```bash {step=build}"
)
# The example's first line is this line of the document.
FIRST_BODY_LINE = FRONT_MATTER.count("\n") + 1

_EXAMPLE = re.compile(
    r"^`{32} example\n(?P<markdown>[\s\S]*?)^\.\n(?P<html>[\s\S]*?)^`{32}$"
    r"|^#{1,6} *(?P<heading>.*)$",
    re.MULTILINE,
)
_CODE_BLOCK = re.compile(r'<pre><code(?: class="language-([^"]*)")?>(.*?)</code></pre>', re.DOTALL)
_FENCE_LIKE = re.compile(r"`{3,}|~{3,}")
_REFERENCE = MarkdownIt("commonmark")


@dataclass(frozen=True)
class Example:
    number: int
    section: str
    markdown: str
    html: str


@dataclass(frozen=True)
class CodeBlock:
    language: str | None
    body: str


def spec_examples() -> list[Example]:
    """The examples of spec.txt, numbered as the spec numbers them (``→`` is a tab)."""
    text = SPEC.read_text(encoding="utf-8").split("<!-- END TESTS -->", 1)[0]
    examples: list[Example] = []
    section = ""
    for match in _EXAMPLE.finditer(text):
        if match.group("heading") is not None:
            section = match.group("heading")
            continue
        markdown, rendered = (match.group(name).replace("→", "\t") for name in ("markdown", "html"))
        examples.append(Example(len(examples) + 1, section, markdown, rendered))
    return examples


EXAMPLES = spec_examples()
WITH_FENCES = [
    example
    for example in EXAMPLES
    if _FENCE_LIKE.search(example.markdown)
    or any(token.type == "fence" for token in _REFERENCE.parse(example.markdown))
]


def spec_code_blocks(rendered: str) -> list[CodeBlock]:
    """Every code block of the spec's HTML, fenced or indented, in order."""
    return [
        CodeBlock(html.unescape(language) if language else None, html.unescape(body))
        for language, body in _CODE_BLOCK.findall(rendered)
    ]


def reference_code_blocks(tokens: list[Token]) -> list[tuple[Token, CodeBlock]]:
    blocks = []
    for token in tokens:
        if token.type == "fence":
            words = unescapeAll(token.info).split()
            blocks.append((token, CodeBlock(words[0] if words else None, token.content)))
        elif token.type == "code_block":
            blocks.append((token, CodeBlock(None, token.content)))
    return blocks


@dataclass(frozen=True)
class Expected:
    name: str
    language: str
    body: str
    line: int


def annotate(example: Example) -> tuple[str, list[Expected], int]:
    """The example with its fences made steps and its fence-like lines given decoys.

    Returns the annotated Markdown, the steps orch must find, and the number of decoys.
    """
    spec = spec_code_blocks(example.html)
    reference = reference_code_blocks(_REFERENCE.parse(example.markdown))
    # The parser only locates fences; it must first agree with the spec on every code block.
    assert [block for _, block in reference] == spec, f"reference parser vs spec: {example}"
    lines = example.markdown.split("\n")
    fences: dict[int, tuple[Token, CodeBlock]] = {}
    closing_lines: set[int] = set()
    body_lines: dict[int, tuple[int, int]] = {}
    for token, block in reference:
        if token.type != "fence" or token.map is None:
            continue
        opening, end = token.map
        fences[opening] = (token, block)
        body_length = block.body.count("\n")
        if end - opening - 1 - body_length == 1:
            closing_lines.add(end - 1)
        for index in range(body_length):
            body_lines[opening + 1 + index] = (opening, index)
    bodies = {opening: block.body.split("\n") for opening, (_, block) in fences.items()}
    steps: list[tuple[str, str, int]] = []
    decoys = 0
    for number, line in enumerate(lines):
        if number in fences:
            token, block = fences[number]
            name = f"f{len(steps) + 1}"
            has_info = bool(line[line.find(token.markup) + len(token.markup) :].strip())
            language = block.language if has_info else "text"
            assert language is not None, example
            added = " " if has_info else " text "
            lines[number] = f"{line}{added}{{step={name} file={name} render=false}}"
            steps.append((name, language, number))
        elif _FENCE_LIKE.search(line) and number not in closing_lines and line.strip():
            decoys += 1
            decoy = f" {{step=d{decoys} file=d{decoys} render=false}}"
            lines[number] = line + decoy
            if number in body_lines:
                opening, index = body_lines[number]
                bodies[opening][index] += decoy
    expected = [
        Expected(name, language, "\n".join(bodies[number]), FIRST_BODY_LINE + number)
        for name, language, number in steps
    ]
    return "\n".join(lines), expected, decoys


def test_the_spec_is_the_whole_commonmark_0_31_2_spec() -> None:
    assert "version: '0.31.2'" in SPEC.read_text(encoding="utf-8")[:200]
    assert len(EXAMPLES) == 652
    fenced = [e for e in WITH_FENCES if "```" in e.markdown or "~~~" in e.markdown]
    assert len(fenced) == len(WITH_FENCES) == 40
    sections = {example.section for example in WITH_FENCES}
    assert {"Fenced code blocks", "List items", "Lists", "Block quotes", "HTML blocks"} <= sections


@pytest.mark.parametrize(
    "example", WITH_FENCES, ids=[f"example-{example.number}" for example in WITH_FENCES]
)
def test_steps_are_exactly_the_fences_commonmark_finds(example: Example) -> None:
    annotated, expected, _ = annotate(example)
    path = Path(f"example-{example.number}.md")
    if not expected:
        # Only decoys: no fence is a step, and a document without steps is refused.
        with pytest.raises(DocumentError) as refused:
            parse(FRONT_MATTER + annotated, path)
        assert [d.message for d in refused.value.diagnostics] == [NO_STEP]
        return
    document = parse(FRONT_MATTER + annotated, path)
    found = [Expected(s.name, s.language, s.body, s.line) for s in document.steps]
    assert found == expected, annotated
    assert all(step.attrs["file"] == step.name for step in document.steps)


def test_the_examples_exercise_decoys_and_fences_in_containers() -> None:
    """The check above has teeth: decoys sit inside bodies, and fences sit in containers."""
    decoys = sum(annotate(example)[2] for example in WITH_FENCES)
    steps = sum(len(annotate(example)[1]) for example in WITH_FENCES)
    assert decoys == 15
    assert steps == 36
    in_containers = [
        example.number
        for example in WITH_FENCES
        if any(
            token.type == "fence" and token.level > 0
            for token in _REFERENCE.parse(example.markdown)
        )
    ]
    assert in_containers == [128, 237, 263, 278, 318, 321, 324]


def test_the_language_is_read_as_commonmark_reads_it() -> None:
    body = (
        "``` b&#97;sh {step=entity}\necho 1\n```\n\n"
        "``` c\\+\\+ {step=escaped file=main.cpp}\nint main() {}\n```\n\n"
        '``` python title="check.py" {step=titled}\nprint(3)\n```\n'
    )
    document = parse(FRONT_MATTER + body, Path("languages.md"))
    assert [(s.name, s.language, s.command) for s in document.steps] == [
        ("entity", "bash", ("bash", "-eo", "pipefail")),
        ("escaped", "c++", ()),
        ("titled", "python", ("python3",)),
    ]
