"""Patterns are checked by ``orch validate`` as the runtime will read them: every unreadable
``on.paths`` or artifact ``files`` pattern at its own line, an unreadable ``intents`` setting
before anything is read."""

from __future__ import annotations

from pathlib import Path

from tests.core.helpers import commit_documents, document, orch

FRONT = """\
id: globs
title: Globs
status: approved
on:
  paths:
    - "src/**"
    - "src/[ab"
    - "!"
artifacts:
  - name: out.zip
    type: generic
    files: ["out/**", "v+", "/abs/*"]
"""
BODY = "# Globs\n\n```bash {step=echo}\necho hi\n```\n"


def test_validate_reports_each_unreadable_pattern_at_its_line(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/globs.md": document(FRONT, BODY)})
    ran = orch(git_repo, "validate")
    assert ran.code == 1
    assert ran.stdout.splitlines() == [
        "intents/globs.md:8:7: on.paths: 'src/[ab' never closes the character class '[ab' "
        "opens: close it with ']', or write '\\[' to match '[' itself",
        "intents/globs.md:9:7: on.paths: '!' excludes nothing: write '!<glob>'",
        "intents/globs.md:13:29: artifact files: '/abs/*' starts with '/', but patterns are "
        "relative to the repository root: write 'abs/*'",
    ]
    # Nothing ran: apply refuses the document the same way.
    applied = orch(git_repo, "apply", "intents/globs.md")
    assert applied.code == 2
    assert "intents/globs.md:8:7: on.paths: 'src/[ab' never closes" in applied.stderr
    assert not (git_repo / ".orch" / "runs").exists()


def test_an_unreadable_intents_setting_stops_validate_with_where_to_fix_it(
    git_repo: Path,
) -> None:
    (git_repo / "pyproject.toml").write_text('[tool.orch]\nintents = ["intents/**/*.md", "[x"]\n')
    ran = orch(git_repo, "validate")
    assert ran.code == 2
    assert ran.stderr == (
        f"orch: {git_repo / 'pyproject.toml'} [tool.orch]: setting 'intents' pattern '[x' never "
        "closes the character class '[x' opens: close it with ']', or write '\\[' to match "
        "'[' itself\n"
    )
    (git_repo / "pyproject.toml").unlink()
    from_environment = orch(git_repo, "validate", env={"ORCH_INTENTS": "intents/**:docs/"})
    assert from_environment.code == 2
    assert "the environment: setting 'ORCH_INTENTS' pattern 'docs/' ends with '/'" in (
        from_environment.stderr
    )
