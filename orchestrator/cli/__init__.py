"""The ``orch`` command line: the only place that prints for people or picks exit codes.

``main`` starts every command. A plain ``orch apply DOCUMENT`` is parsed by ``fastpath``
and run without Typer, Click or rich (see ``docs/performance.md``, "Start-up"); every other
command line goes to the Typer app in ``commands``.
"""

import os
import sys


def main() -> None:
    from orchestrator.cli import fastpath
    from orchestrator.cli.errors import run_guarded

    args = sys.argv[1:]
    arguments = fastpath.parse(args, os.environ)
    if arguments is not None:
        sys.exit(run_guarded(lambda: fastpath.run(arguments)))
    from orchestrator.cli.commands import app

    # Typer handles usage errors itself (exit 2) and exits through SystemExit; what reaches
    # run_guarded is orch's own errors and bugs.
    sys.exit(run_guarded(lambda: app(args=args, prog_name="orch")))
