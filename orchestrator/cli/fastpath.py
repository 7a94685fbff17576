"""``orch apply DOCUMENT [options]`` without building the Typer app.

Typer, Click and the command tree cost a one-step run more than the run itself, and
``orch apply`` of a document is what people (and hooks, and CI) run most. ``parse`` takes
the command line only when it is made of the plain forms below, whose meaning under Click
is beyond doubt; for anything else (``--help``, ``--resume``, ``--queue``, ``--``, joined
short options, a value that starts with ``-``, an empty path, an unreadable file, shell
completion) it returns None and the Typer app parses the line as always, with its own
messages. ``tests/cli/test_fastpath.py`` checks the values against Click's own parse of the
same lines. ``run`` ends the command as Typer's ``main`` does (Ctrl-C, end of input, a
closed pipe).

Accepted after ``apply``, in any order: one DOCUMENT; ``-i``/``--input`` VALUE and
``--confirm`` STEP (repeatable); ``--inputs`` FILE; ``--allow-draft``, ``-v``/``--verbose``,
``--json``; long options also as ``--name=VALUE``.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from orchestrator.cli.applying import ApplyArguments, apply_here
from orchestrator.cli.output import Output

_REPEATED = {"-i": "inputs", "--input": "inputs", "--confirm": "confirm"}
_PATHS = {"--inputs": "inputs_file"}
_FLAGS = {
    "--allow-draft": "allow_draft",
    "-v": "verbose",
    "--verbose": "verbose",
    "--json": "as_json",
}
# Click's variable for shell completion (``_{PROG_NAME}_COMPLETE``).
COMPLETION_VARIABLE = "_ORCH_COMPLETE"


def parse(args: Sequence[str], environ: Mapping[str, str]) -> ApplyArguments | None:
    """``orch apply``'s arguments when ``args`` are a plain apply of a document, else None."""
    if not args or args[0] != "apply" or environ.get(COMPLETION_VARIABLE):
        return None
    document: str | None = None
    repeated: dict[str, list[str]] = {"inputs": [], "confirm": []}
    paths: dict[str, str] = {}
    flags: dict[str, bool] = {}
    rest = list(args[1:])
    while rest:
        token = rest.pop(0)
        name, has_value, attached = token.partition("=")
        if token in _FLAGS:
            flags[_FLAGS[token]] = True
        elif name in _REPEATED or name in _PATHS:
            if has_value and name.startswith("--"):
                value = attached
            elif not has_value and rest and not rest[0].startswith("-"):
                value = rest.pop(0)
            else:
                return None
            if name in _REPEATED:
                repeated[_REPEATED[name]].append(value)
            else:
                paths[_PATHS[name]] = value
        elif token.startswith("-") or document is not None:
            return None
        else:
            document = token
    if document is None or not all(map(_click_takes_path, [document, *paths.values()])):
        return None
    inputs_file = paths.get("inputs_file")
    return ApplyArguments(
        document=Path(document),
        inputs=tuple(repeated["inputs"]),
        inputs_file=None if inputs_file is None else Path(inputs_file),
        allow_draft=flags.get("allow_draft", False),
        confirm=tuple(repeated["confirm"]),
        verbose=flags.get("verbose", False),
        as_json=flags.get("as_json", False),
    )


def _click_takes_path(value: str) -> bool:
    """Whether Click's ``Path`` type (as Typer sets it up) takes ``value`` without a word:
    it refuses an existing path that cannot be read; an empty one is left to Click."""
    if not value:
        return False
    try:
        Path(value).stat()
    except OSError:
        return True
    return os.access(value, os.R_OK)


def load() -> None:
    """Load the modules a run needs (``orchestrator.api`` loads them on first use)."""
    from orchestrator import api

    for name in ("prepare", "run_prepared", "run_folder"):
        getattr(api, name)


def run(arguments: ApplyArguments) -> NoReturn:
    """Run the command and exit with its code, ending as Typer's ``main`` would."""
    try:
        code = apply_here(arguments, Output())
    except KeyboardInterrupt:
        code = 130
    except EOFError:
        code = _aborted()
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        code = _pipe_closed()
    sys.exit(code)


def _aborted() -> int:
    """End of input at a prompt: Click's empty line, then Typer's "Aborted"."""
    import click
    from typer import core

    click.echo(file=sys.stderr)
    if core.HAS_RICH and core.DEFAULT_MARKUP_MODE is not None:
        from typer import rich_utils

        rich_utils.rich_abort_error()
    else:
        click.echo("Aborted!", file=sys.stderr)
    return 1


def _pipe_closed() -> int:
    """The reader of stdout or stderr went away: exit 1 without complaining at exit."""
    from click.utils import PacifyFlushWrapper

    sys.stdout = PacifyFlushWrapper(sys.stdout)
    sys.stderr = PacifyFlushWrapper(sys.stderr)
    return 1
