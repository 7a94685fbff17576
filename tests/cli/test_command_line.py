"""The command line people expect: -h everywhere, one help tree, shell completion, one
suggestion for a mistyped command, and no deprecation warnings from the libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.helpers import orch


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        ((), "Usage: orch [OPTIONS] COMMAND [ARGS]..."),
        (("dropbox",), "Usage: orch dropbox [OPTIONS] COMMAND [ARGS]..."),
        (("dropbox", "push"), "Usage: orch dropbox push [OPTIONS] FILE"),
        (("hooks",), "Usage: orch hooks [OPTIONS] COMMAND [ARGS]..."),
        (("hooks", "install"), "Usage: orch hooks install [OPTIONS]"),
        (("runs",), "Usage: orch runs [OPTIONS]"),
        (("show",), "Usage: orch show [OPTIONS] [RUN]"),
    ],
)
def test_dash_h_is_help_in_every_command(tmp_path: Path, args: tuple[str, ...], usage: str) -> None:
    short = orch(tmp_path, *args, "-h")
    assert short.code == 0, short.stderr
    assert short.stdout.strip().splitlines()[0].strip() == usage
    assert short.stdout == orch(tmp_path, *args, "--help").stdout


def test_one_help_tree_lists_every_command_in_order(tmp_path: Path) -> None:
    listed = orch(tmp_path, "-h", env={"COLUMNS": "120"}).stdout
    box = listed.split("Commands", 1)[1].splitlines()
    # A command's row starts right after the border; its description's wrapped lines do not.
    commands = [line[2:].split()[0] for line in box if line.startswith("│ ") and line[2] != " "]
    assert commands == [
        "validate",
        "plan",
        "apply",
        "list",
        "runs",
        "show",
        "logs",
        "publish",
        "schedule",
        "serve",
        "confirm",
        "cancel",
        "rerun",
        "worker",
        "workers",
        "dropbox",
        "hooks",
    ]
    assert "--install-completion" in listed and "--show-completion" in listed


def _complete(cwd: Path, words: str) -> list[str]:
    """What bash completion offers for ``words`` (the last word being completed)."""
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator"],
        cwd=cwd,
        env={
            **os.environ,
            "_ORCH_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_shell_completion_reaches_the_groups(tmp_path: Path) -> None:
    # The script runs as ``python -m orchestrator``; completion keys on the program name.
    assert _complete(tmp_path, "orch va") == ["validate"]
    assert _complete(tmp_path, "orch dropbox ") == ["serve", "push", "list", "get"]
    assert _complete(tmp_path, "orch hooks ") == ["install", "uninstall"]
    assert _complete(tmp_path, "orch runs --st") == ["--state"]


def test_completion_script_and_install(tmp_path: Path) -> None:
    # Typer's switch for tests: the shell is named rather than found among the parent
    # processes, which differ between a terminal and a test worker.
    named = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = orch(tmp_path, "--show-completion", "bash", env=named)
    assert shown.code == 0, shown.stderr
    assert "complete -o default -F _orch_completion orch" in shown.stdout
    installed = orch(tmp_path, "--install-completion", "bash", env=named)
    assert installed.code == 0, installed.stderr
    home = Path(os.environ["HOME"])
    script = home / ".bash_completions" / "orch.sh"
    assert script.read_text() == shown.stdout.rstrip("\n")
    assert f"source '{script}'" in (home / ".bashrc").read_text()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("valdiate",), "No such command 'valdiate'. Did you mean 'validate'?"),
        (("dropbox", "lst"), "No such command 'lst'. Did you mean 'list'?"),
        (
            ("hooks", "instal"),
            "No such command 'instal'. (Did you mean one of: 'install', 'uninstall'?)",
        ),
    ],
)
def test_a_mistyped_command_gets_one_suggestion(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    ran = orch(tmp_path, *args)
    assert ran.code == 2
    assert ran.stderr.count("Did you mean") == 1
    assert said in ran.stderr


def test_importing_the_command_line_warns_of_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "orchestrator", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("orch ")
