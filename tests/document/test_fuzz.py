"""Whatever the text, ``parse`` returns a Document or raises DocumentError, nothing else."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.document import parse
from orchestrator.errors import DocumentError

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LANGUAGES = st.sampled_from(
    ["", "bash", "sh", "zsh", "shell", "python", "health", "manual", "ruby", "yaml", "{", "`"]
)
ATTRIBUTE_WORDS = st.one_of(
    st.sampled_from(
        [
            "step=a",
            "step=b",
            "step=Bad",
            "step",
            "timeout=10m",
            "timeout=x",
            "retries=-1",
            "retry_delay=1h30m",
            "render=false",
            "render=maybe",
            "file=out.txt",
            "mode=0755",
            "mode=9",
            "interpreter='perl -w'",
            'interpreter="',
            "if='inputs.x == 1'",
            "if='1 +'",
            "continue_on_error=true",
            "colour=red",
            "cwd=",
            "}",
            "{",
        ]
    ),
    st.text(alphabet="ab=\"' {}\\", max_size=8),
)
BODIES = st.one_of(
    st.sampled_from(
        [
            "echo {{ inputs.x }}\n",
            "echo {{ inputs.x | sh }}\n",
            "{% if %}\n",
            "url: http://x\nexpect: {a: 1}\n",
            "url: [\n",
            "{{ inputs['y'] }}\n",
            "```\nnested\n```\n",
        ]
    ),
    st.text(max_size=40),
)
FRONT_MATTER = st.one_of(
    st.sampled_from(
        [
            "id: x\ntitle: T\n",
            "id: x\ntitle: T\ninputs:\n  x: {type: string}\n",
            "id: x\ntitle: T\ninputs:\n  x: {type: integer, default: 0017}\non: {inputs: {}}\n",
            "id: x\ntitle: T\ndefaults: {shell: zsh, timeout: 1s}\nenv: {A: '{{ inputs.x }}'}\n",
            "id: [\n",
            "a: 1\na: 2\n",
            "- 1\n",
            "id: x\ntitle: T\nartifacts: [{name: n, type: generic, files: a, patch: 1}]\n",
            "",
        ]
    ),
    st.text(max_size=60),
)


def _fence(language: str, words: list[str], body: str, fence: str, indent: str) -> str:
    info = f"{language} {{{' '.join(words)}}}"
    lines = [f"{fence}{info}", *body.splitlines(), fence]
    return "\n".join(indent + line for line in lines) + "\n"


fences = st.builds(
    _fence,
    LANGUAGES,
    st.one_of(
        st.lists(ATTRIBUTE_WORDS, max_size=4),
        st.sampled_from(["a", "b", "c", "d", "e"]).map(lambda name: [f"step={name}"]),
    ),
    BODIES,
    st.sampled_from(["```", "~~~", "````"]),
    st.sampled_from(["", "  ", "> ", "- ", "    "]),
)
documents = st.builds(
    lambda fm, parts: f"---\n{fm}---\n" + "\n".join(parts),
    FRONT_MATTER,
    st.lists(st.one_of(fences, st.sampled_from(["# H\n", "prose\n", ""])), max_size=5),
)


def _check(text: str) -> None:
    try:
        parse(text, Path("fuzz.md"))
    except DocumentError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert "internal error" not in diagnostic.message, diagnostic
            assert diagnostic.line >= 1
            assert diagnostic.col >= 1


@SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _check(text)


@SETTINGS
@given(st.text().map(lambda t: "---\n" + t))
def test_arbitrary_front_matter(text: str) -> None:
    _check(text)


@SETTINGS
@given(documents)
def test_structured_documents(text: str) -> None:
    _check(text)
