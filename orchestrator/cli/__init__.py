"""The ``orch`` command line: the only place that prints for people or picks exit codes.

``main`` starts every command. A plain ``orch apply DOCUMENT`` is parsed by ``fastpath``
and run without Typer, Click or rich (see ``docs/performance.md``, "Start-up"); every other
command line goes to the Typer app in ``commands``.
"""

import gc
import os
import sys


def main() -> None:
    # Loading modules creates a few hundred thousand objects and frees almost none: the
    # collections it would trigger find nothing to free and cost a short command a tenth
    # of its time. The collector starts once the command's modules are loaded, and never
    # again walks what loading made (``gc.freeze``); at the end there is nothing left to
    # collect that the process's exit does not free anyway.
    gc.disable()
    from orchestrator.cli import fastpath
    from orchestrator.cli.errors import run_guarded

    try:
        args = sys.argv[1:]
        arguments = fastpath.parse(args, os.environ)
        if arguments is not None:
            fastpath.load()
            loaded()
            sys.exit(run_guarded(lambda: fastpath.run(arguments)))
        from orchestrator.cli.commands import app

        loaded()
        # Typer handles usage errors itself (exit 2) and exits through SystemExit; what
        # reaches run_guarded is orch's own errors and bugs.
        sys.exit(run_guarded(lambda: app(args=args, prog_name="orch")))
    finally:
        gc.freeze()


def loaded() -> None:
    """The command's modules are loaded: from here on, collect garbage as usual."""
    gc.freeze()
    gc.enable()
