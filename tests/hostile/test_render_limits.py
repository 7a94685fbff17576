"""Rendering has limits: a template that would hang or fill memory is stopped with the document
line, in ``orch plan`` and in ``orch apply`` (before the run starts: nothing ran)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import templating
from orchestrator.errors import TemplateRefused
from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, orch

FRONT = """---
id: limits
title: Limits
status: approved
---

# Limits

```bash {step=first}
touch first-ran.txt
```

"""
BODY_LINE = 14  # the first line of step ``heavy``'s body

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
TIME_LIMIT = "rendering took longer than {seconds}s, the limit (setting render-seconds)"
HUGE_POWER = (
    "9 ** 43046721 would have about 41,077,012 digits; orch computes numbers of up to 4300 digits"
)
HUGE_CENTER = (
    "the center width 1,000,000,000 is more than the text limit of 4,194,304 characters "
    "(setting render-max-chars)"
)


def _document(expression: str, language: str = "bash") -> str:
    return FRONT + f"```{language} {{step=heavy}}\necho start\n{expression}\n```\n"


def _diagnostic(message: str, line: int = BODY_LINE + 1) -> str:
    return f"intents/limits.md:{line}:1: step 'heavy': {message}"


def _run(repo: Path, command: str, expression: str, **env: str) -> Ran:
    commit_documents(repo, {"intents/limits.md": _document(expression)})
    return orch(repo, command, "intents/limits.md", env=env, timeout=60)


def _assert_nothing_ran(repo: Path) -> None:
    assert not (repo / "first-ran.txt").exists()
    assert git(repo, "branch", "--list", "orch-trace") == ""


CASES = [
    pytest.param(NESTED_LOOPS, TIME_LIMIT.format(seconds="0.5"), id="nested range loops"),
    pytest.param("{{ 9**(9**8) }}", HUGE_POWER, id="9 ** 9 ** 8"),
    pytest.param("{{ 'x' | center(10**9) }}", HUGE_CENTER, id="center(10 ** 9)"),
]


@pytest.mark.parametrize(("expression", "message"), CASES)
def test_plan_stops_the_render_with_the_line(git_repo: Path, expression: str, message: str) -> None:
    ran = _run(git_repo, "plan", expression, ORCH_RENDER_SECONDS="0.5")
    assert ran.code == 1, ran.stderr
    assert _diagnostic(message) in ran.stdout.splitlines()
    _assert_nothing_ran(git_repo)


@pytest.mark.parametrize(("expression", "message"), CASES)
def test_apply_refuses_the_run_before_it_starts(
    git_repo: Path, expression: str, message: str
) -> None:
    ran = _run(git_repo, "apply", expression, ORCH_RENDER_SECONDS="0.5")
    assert ran.code == 2, ran.stderr
    assert ran.stderr.splitlines() == [_diagnostic(message)]
    _assert_nothing_ran(git_repo)


def test_the_default_time_limit_is_five_seconds(git_repo: Path) -> None:
    ran = _run(git_repo, "plan", NESTED_LOOPS)
    assert ran.code == 1
    assert _diagnostic(TIME_LIMIT.format(seconds="5")) in ran.stdout.splitlines()


def test_output_size_is_limited(git_repo: Path) -> None:
    ran = _run(git_repo, "apply", "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}")
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        _diagnostic(
            "the template would build a text of 4,194,311 characters, more than the limit of "
            "4,194,304 (setting render-max-chars)"
        )
    ]
    _assert_nothing_ran(git_repo)


def test_the_limits_are_settings(git_repo: Path) -> None:
    build = "{{ 'x' * 2000 }}"
    ran = _run(git_repo, "apply", build, ORCH_RENDER_MAX_CHARS="1000")
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        _diagnostic(
            "the template would build a text of 2,000 characters, more than the limit of 1,000 "
            "(setting render-max-chars)"
        )
    ]
    (git_repo / "orch.toml").write_text("render-seconds = 0\n")
    bad = orch(git_repo, "plan", "intents/limits.md")
    assert bad.code == 2
    assert bad.stderr.strip() == (
        f"orch: {git_repo / 'orch.toml'}: setting 'render-seconds' must be a positive number"
    )


def test_an_env_value_and_a_condition_are_limited_too(git_repo: Path) -> None:
    front = FRONT.replace(
        "status: approved\n", "status: approved\nenv:\n  A: \"{{ 'x' * 10**8 }}\"\n"
    )
    commit_documents(git_repo, {"intents/limits.md": front})
    ran = orch(git_repo, "apply", "intents/limits.md")
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        "orch: intents/limits.md:5:1: env.A: the template would build a text of 100,000,000 "
        "characters, more than the limit of 4,194,304 (setting render-max-chars)"
    ]
    _assert_nothing_ran(git_repo)
    condition = FRONT + '```bash {step=heavy if="(9 ** (9 ** 8)) > 1"}\necho never\n```\n'
    commit_documents(git_repo, {"intents/limits.md": condition})
    ran = orch(git_repo, "apply", "intents/limits.md")
    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        f"intents/limits.md:{BODY_LINE - 1}:1: step 'heavy' if: {HUGE_POWER}"
    ]
    _assert_nothing_ran(git_repo)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            "{{ ('{0}' * 100000).format('x' * 4000000) }}",
            "the template would build a text of 400,000,300,000 characters, more than the limit "
            "of 4,194,304 (setting render-max-chars)",
            id="one value repeated by format",
        ),
        pytest.param(
            "{{ range(1000) | map('center', 4000000) | list | length }}",
            "the template would build a text of 8,000,000 characters, more than the limit of "
            "4,194,304 (setting render-max-chars)",
            id="large values collected from a generator",
        ),
        pytest.param(
            "{{ ['x' * 4000000] * 4000000 }}",
            "the template would build a text of 8,000,004 characters, more than the limit of "
            "4,194,304 (setting render-max-chars)",
            id="a list repeating one large value written as text",
        ),
        pytest.param(
            "{{ 10 ** 4000 * 10 ** 4000 }}",
            "(a number of about 4,001 digits) * (a number of about 4,001 digits) would have "
            "about 8,001 digits; orch computes numbers of up to 4300 digits",
            id="a product of large numbers",
        ),
        pytest.param(
            "{{ '%999999999s' % 'x' }}",
            "the format width 999999999 is more than the text limit of 4,194,304 characters "
            "(setting render-max-chars)",
            id="a format width",
        ),
    ],
)
def test_large_values_are_refused_before_they_are_built(expression: str, message: str) -> None:
    where = templating.Where("intents/limits.md", BODY_LINE, "step 'heavy'")
    context = {"inputs": {}, "env": {}, "steps": {}, "run": {}, "workflow": {}}
    with pytest.raises(TemplateRefused) as refused:
        templating.render(
            f"echo start\n{expression}\n",
            context,
            where,
            body=True,
            script=templating.ScriptLanguage.SH,
            limits=templating.Limits(seconds=10),
        )
    assert str(refused.value) == _diagnostic(message)
