"""``orch apply DOCUMENT`` without Typer: the fast parse means what Click's parse means.

Every command line the fast path takes is parsed by Click too (the Typer app's own
``apply`` command), and both must give the same values; anything the fast path does not
take goes to Typer, so its meaning cannot differ. End to end, the same run reached both
ways prints the same.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import click
import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.cli import fastpath
from orchestrator.cli.applying import ApplyArguments
from orchestrator.cli.commands import app
from tests.core.helpers import commit_documents, document, orch


@functools.cache
def _apply_command() -> click.Command:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    return group.commands["apply"]


def _click_apply(args: list[str]) -> dict[str, Any]:
    """What Click (as Typer sets it up) parses from ``orch apply ARGS``, as Typer passes it."""
    context = _apply_command().make_context("apply", list(args))
    params = context.params
    return {
        "document": None if params["document"] is None else Path(params["document"]),
        "inputs": tuple(params["inputs"] or ()),
        "inputs_file": None if params["inputs_file"] is None else Path(params["inputs_file"]),
        "allow_draft": params["allow_draft"],
        "confirm": tuple(params["confirm"] or ()),
        "verbose": params["verbose"],
        "as_json": params["as_json"],
        "queue": params["queue"],
        "resume": params["resume"],
        "force": params["force"],
    }


def _fast_values(arguments: ApplyArguments) -> dict[str, Any]:
    return {
        "document": arguments.document,
        "inputs": arguments.inputs,
        "inputs_file": arguments.inputs_file,
        "allow_draft": arguments.allow_draft,
        "confirm": arguments.confirm,
        "verbose": arguments.verbose,
        "as_json": arguments.as_json,
        "queue": False,
        "resume": None,
        "force": False,
    }


def test_a_plain_apply_is_parsed_as_click_parses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "doc.md",
        "-i",
        "a=1",
        "--input=b=x=y",
        "--confirm",
        "check",
        "--confirm=second",
        "--inputs",
        "values.yaml",
        "-v",
        "--json",
        "--allow-draft",
        "--input",
        "c=",
    ]
    fast = fastpath.parse(["apply", *args], {})
    assert fast == ApplyArguments(
        document=Path("doc.md"),
        inputs=("a=1", "b=x=y", "c="),
        inputs_file=Path("values.yaml"),
        allow_draft=True,
        confirm=("check", "second"),
        verbose=True,
        as_json=True,
    )
    assert _fast_values(fast) == _click_apply(args)


@pytest.mark.parametrize(
    "args",
    [
        ["apply"],  # no document: Typer's command says what is missing
        ["apply", "--help"],
        ["apply", "-h"],
        ["apply", "doc.md", "--resume", "20261125T221500Z-3f9c2a"],
        ["apply", "doc.md", "--queue"],
        ["apply", "doc.md", "--force"],
        ["apply", "--", "doc.md"],
        ["apply", "doc.md", "-vi", "a=1"],  # joined short options
        ["apply", "doc.md", "-ia=1"],  # a value joined to a short option
        ["apply", "doc.md", "-i=a=1"],
        ["apply", "doc.md", "-i", "-v"],  # Click would take -v as the value
        ["apply", "doc.md", "-i"],  # a value is missing
        ["apply", "doc.md", "--json=yes"],
        ["apply", "doc.md", "other.md"],  # one document only
        ["apply", "-"],
        ["apply", ""],
        ["apply", "doc.md", "--inputs", ""],
        ["apply", "doc.md", "--inpt", "x"],  # Click suggests --input
        ["validate", "doc.md"],
        ["--version"],
        [],
    ],
)
def test_what_the_fast_path_leaves_to_typer(args: list[str]) -> None:
    assert fastpath.parse(args, {}) is None


def test_shell_completion_is_left_to_typer() -> None:
    assert fastpath.parse(["apply", "doc.md"], {}) is not None
    assert fastpath.parse(["apply", "doc.md"], {"_ORCH_COMPLETE": "complete_bash"}) is None


def test_a_path_click_would_refuse_is_left_to_typer(tmp_path: Path) -> None:
    unreadable = tmp_path / "secret.md"
    unreadable.write_text("x")
    unreadable.chmod(0)
    try:
        readable_to_us = os.access(unreadable, os.R_OK)  # root reads everything
        taken = fastpath.parse(["apply", str(unreadable)], {})
        assert (taken is not None) == readable_to_us
        taken = fastpath.parse(["apply", "doc.md", "--inputs", str(unreadable)], {})
        assert (taken is not None) == readable_to_us
    finally:
        unreadable.chmod(0o644)


TOKENS = [
    "doc.md",
    "other.md",
    "a=1",
    "b=",
    "-i",
    "--input",
    "--input=c=3",
    "--inputs",
    "--inputs=v.yaml",
    "v.yaml",
    "--confirm",
    "--confirm=step",
    "step",
    "--allow-draft",
    "-v",
    "--verbose",
    "--json",
    "--queue",
    "--resume",
    "--force",
    "--",
    "-",
    "",
    "-h",
    "-vi",
    "--verbose=1",
    "x y",
    "=",
    "-x",
]


VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
OPTION_FORMS = st.one_of(
    VALUES.map(lambda value: ["-i", value]),
    VALUES.map(lambda value: ["--input", value]),
    VALUES.map(lambda value: [f"--input={value}"]),
    VALUES.map(lambda value: ["--confirm", value]),
    VALUES.map(lambda value: [f"--confirm={value}"]),
    VALUES.map(lambda value: ["--inputs", value]),
    VALUES.map(lambda value: [f"--inputs={value}"]),
    st.sampled_from([["--allow-draft"], ["-v"], ["--verbose"], ["--json"]]),
    # Anything else, now and then.
    st.sampled_from(TOKENS).map(lambda token: [token]),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(OPTION_FORMS, max_size=6),
    st.integers(min_value=0, max_value=6),
    st.one_of(VALUES, st.sampled_from(TOKENS)),
)
def test_whatever_the_fast_path_takes_click_takes_alike(
    forms: list[list[str]], where: int, document: str
) -> None:
    forms.insert(min(where, len(forms)), [document])
    args = [token for form in forms for token in form]
    fast = fastpath.parse(["apply", *args], {})
    if fast is None:
        return
    assert _fast_values(fast) == _click_apply(args)


DOC = document(
    "id: twice\ntitle: Twice\nstatus: approved\ninputs:\n  who: {type: string}",
    "# Twice\n\n```sh {step=greet}\necho \"hello $ORCH_INPUT_WHO\"\nprintf 'tab\\there\\n'\n```\n"
    "\n```sh {step=fail}\necho 'it went :fire: wrong' >&2\nexit 4\n```\n",
)


def _same_run(text: str) -> str:
    return re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "RUN", re.sub(r"\d+\.\d+s", "Ns", text))


def test_the_same_run_prints_the_same_both_ways(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/twice.md": DOC})
    fast = orch(git_repo, "apply", "intents/twice.md", "-i", "who=you", "-v")
    # ``--`` is beyond the fast path: Typer parses this one.
    typer_way = orch(git_repo, "apply", "-i", "who=you", "-v", "--", "intents/twice.md")
    assert fast.code == typer_way.code == 1
    assert _same_run(fast.stderr) == _same_run(typer_way.stderr)
    assert _same_run(fast.stderr).splitlines() == [
        "  greet │ hello you",
        "  greet │ tab   here",  # the tab expanded, as rich does
        "✓ greet  Twice  Ns",
        "  fail │ it went :fire: wrong",
        "✗ fail  Twice  Ns  failed: exited with code 4",
        "failed step 'fail': exited with code 4",
        f"run folder: {git_repo}/.orch/runs/twice/RUN",
    ]


def test_a_usage_error_is_reported_alike_both_ways(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/twice.md": DOC})
    fast = orch(git_repo, "apply", "intents/twice.md", "--confirm", ":fire:")
    typer_way = orch(git_repo, "apply", "--confirm", ":fire:", "--", "intents/twice.md")
    assert fast.code == typer_way.code == 2
    # Texts are printed as written: ``:fire:`` is not turned into an emoji.
    assert (
        fast.stderr
        == typer_way.stderr
        == ("intents/twice.md:1:1: --confirm :fire:: the document has no manual step ':fire:'\n")
    )
