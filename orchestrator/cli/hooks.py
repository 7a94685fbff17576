"""``orch hooks install|uninstall`` and the hidden ``orch hooks run`` the hook scripts call."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orchestrator.cli.errors import EXIT_COMPLETED, EXIT_FAILED

if TYPE_CHECKING:
    from orchestrator.api import hooks as hooks_api

# orchestrator.api.hooks is imported inside the commands: it brings the document parser, and
# every other command would pay for it at start-up.

app = typer.Typer(
    help="Git hooks: check documents before a commit, run approved ones after it.",
    no_args_is_help=True,
)

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]

_SAID = {
    "installed": "installed",
    "updated": "updated",
    "unchanged": "already installed",
    "chained": "installed; the hook that was there runs first, kept as {backup}",
    "removed": "removed",
    "restored": "removed; the hook kept aside is back in place",
    "foreign": "not orch's hook: left alone",
    "absent": "not installed",
}


def _say(changes: "list[hooks_api.Change]") -> None:
    from orchestrator.api import hooks as hooks_api

    for change in changes:
        backup = change.path.name + hooks_api.BACKUP_SUFFIX
        out.print(f"{change.path}: {_SAID[change.action].format(backup=backup)}", markup=False)


@app.command()
def install(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Keep a hook that is not orch's as <name>.orch-backup and run it first.",
        ),
    ] = False,
    where: Where = Path(),
) -> None:
    """Install the pre-commit, post-commit and post-merge hooks (respects core.hooksPath)."""
    from orchestrator.api import hooks as hooks_api

    _say(hooks_api.install_hooks(where, force=force))


@app.command()
def uninstall(where: Where = Path()) -> None:
    """Remove orch's hooks; hooks that are not orch's stay."""
    from orchestrator.api import hooks as hooks_api

    _say(hooks_api.uninstall_hooks(where))


@app.command(hidden=True)
def run(
    name: Annotated[str, typer.Argument(help="pre-commit, post-commit or post-merge.")],
    args: Annotated[list[str] | None, typer.Argument(help="What git passed the hook.")] = None,
    commit: Annotated[str | None, typer.Option(help="The commit (default HEAD).")] = None,
    base: Annotated[str | None, typer.Option(help="Merge base (default ORIG_HEAD).")] = None,
) -> None:
    """What git runs: the hook scripts call this."""
    from orchestrator.api import hooks as hooks_api

    outcome = hooks_api.run_hook(name, Path(), args or [], commit=commit, base=base, progress=_ran)
    for problem in outcome.problems:
        err.print(str(problem), markup=False)
    if outcome.problems and name == hooks_api.PRE_COMMIT:
        err.print(
            f"orch: commit blocked: {len(outcome.problems)} problem(s) in staged intent "
            "documents; fix them and stage again (git commit --no-verify skips this check)",
            markup=False,
        )
    if outcome.log is not None:
        err.print(
            f"orch: running {', '.join(outcome.detached)} in the background; "
            f"output in {outcome.log}",
            markup=False,
        )
    raise typer.Exit(EXIT_FAILED if outcome.failed else EXIT_COMPLETED)


def _ran(run: "hooks_api.HookRun") -> None:
    line = f"orch: {run.workflow} ({run.path}) run {run.run_id or '-'}: {run.state}"
    if run.message:
        line += f": {run.message}"
    err.print(line, markup=False)
