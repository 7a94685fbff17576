"""The commands of ``orch``: the Typer app (``cli.main`` starts it)."""

# The command modules do without ``from __future__ import annotations``: Typer reads every
# command's annotations at each start, and evaluating them from strings cost most of that.
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator import __version__, api
from orchestrator.cli import (
    applying,
    dropbox,
    history,
    hooks,
    schedule,
    serve,
    steer,
    tables,
    worker,
)
from orchestrator.cli.errors import EXIT_FAILED
from orchestrator.cli.options import AllowDraftOption, ConfirmOption, RunJsonOption, VerboseOption
from orchestrator.cli.output import Output
from orchestrator.errors import UsageError

# -h next to --help in every command (Typer passes the root's settings to its groups).
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="orch",
    help="Run operational work written as Markdown intent documents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
    # Click itself suggests a close command name; Typer's own suggestion would repeat it.
    suggest_commands=False,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

InputOption = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", metavar="NAME=VALUE", help="An input (repeatable)."),
]
InputsFileOption = Annotated[
    Path | None, typer.Option("--inputs", metavar="FILE", help="Inputs from a YAML or JSON file.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"orch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """orch: the Oryvin Orchestrator."""


@app.command()
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Documents or folders.")] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON array of every diagnostic "
            "(path, line, col, severity, code, message).",
        ),
    ] = False,
) -> None:
    """Check documents (default: every intent document of the repository)."""
    problems = api.validate(paths or [])
    errors = sum(1 for problem in problems if problem.severity == "error")
    if as_json:
        sys.stdout.write(json.dumps([p.to_json() for p in problems], indent=2) + "\n")
    else:
        for problem in problems:
            out.print(str(problem), markup=False, highlight=False)
        warnings = len(problems) - errors
        if errors:
            err.print(
                f"{errors} problem(s) found" + (f", {warnings} warning(s)" if warnings else "")
            )
        elif warnings:
            err.print(f"all documents are valid; {warnings} warning(s)")
        else:
            err.print("all documents are valid")
    if errors:
        raise typer.Exit(EXIT_FAILED)


def _request(
    document: Path,
    inputs: list[str] | None,
    inputs_file: Path | None,
    allow_draft: bool,
    confirm: list[str] | None = None,
) -> "api.RunRequest":
    return api.RunRequest(
        path=document,
        cli_inputs=tuple(inputs or ()),
        inputs_file=inputs_file,
        allow_draft=allow_draft,
        confirmed=frozenset(confirm or ()),
    )


@app.command()
def plan(
    document: Annotated[Path, typer.Argument(help="The intent document.")],
    inputs: InputOption = None,
    inputs_file: InputsFileOption = None,
    allow_draft: AllowDraftOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show every step as it would run; execute nothing."""
    result = api.plan(_request(document, inputs, inputs_file, allow_draft))
    if as_json:
        out.print_json(data=[_planned_json(p) for p in result.steps])
        for line in _would_need(result):
            err.print(line, highlight=False, markup=False)
        return
    from rich.syntax import Syntax  # imported here: only plan highlights code

    out.print(f"[bold]{escape(result.document.title)}[/bold] ({result.document.id})")
    for planned in result.steps:
        step = planned.step
        verdict = {True: "runs", False: "skipped (if is false)", None: "if decided at run time"}
        out.rule(
            f"{escape(step.name)} · {escape(step.section)} · {step.kind.value} · "
            f"{verdict[planned.will_run]}",
            align="left",
        )
        if planned.error:
            out.print(f"[red]{escape(planned.error)}[/red]")
        elif planned.diff is not None:
            out.print(Syntax(planned.diff or "(no change)\n", "diff", theme="ansi_dark"))
        elif planned.body is not None:
            out.print(Syntax(planned.body, step.language or "text", theme="ansi_dark"))
    for line in _would_need(result):
        out.print(f"[yellow]{escape(line)}[/yellow]", highlight=False)
    if any(p.error for p in result.steps):
        raise typer.Exit(EXIT_FAILED)


def _would_need(result: "api.Plan") -> list[str]:
    """What a run would need that the plan was made without."""
    lines = []
    if result.missing_secrets:
        names = ", ".join(result.missing_secrets)
        them = "it" if len(result.missing_secrets) == 1 else "them"
        lines.append(f"would need {names} to run: export {them} in the environment that runs orch")
    for name in result.missing_secret_inputs:
        lines.append(
            f"would need the secret input '{name}' to run: give it with -i {name}=VALUE "
            "or --inputs FILE"
        )
    return lines


def _planned_json(planned: "api.PlannedStep") -> dict[str, Any]:
    return {
        "step": planned.step.name,
        "section": planned.step.section,
        "kind": planned.step.kind.value,
        "line": planned.step.line,
        "will_run": planned.will_run,
        "body": planned.body,
        "diff": planned.diff,
        "error": planned.error,
    }


@app.command()
def apply(
    document: Annotated[
        Path | None, typer.Argument(help="The intent document (with --resume: optional).")
    ] = None,
    inputs: InputOption = None,
    inputs_file: InputsFileOption = None,
    allow_draft: AllowDraftOption = False,
    confirm: ConfirmOption = None,
    verbose: VerboseOption = False,
    as_json: RunJsonOption = False,
    queue: Annotated[
        bool, typer.Option("--queue", help="Send the run to the broker's workers instead.")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", metavar="RUN", help="Start at the step where RUN stopped."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --resume: even when earlier steps changed.")
    ] = False,
) -> None:
    """Validate, execute, package, publish and record a document's run."""
    if resume is not None:
        steer.resume(
            resume,
            document,
            inputs=inputs,
            inputs_file=inputs_file,
            allow_draft=allow_draft,
            confirm=confirm,
            force=force,
            verbose=verbose,
            as_json=as_json,
        )
        return
    if document is None:
        raise UsageError("orch apply needs the intent document to run (or --resume RUN)")
    arguments = applying.ApplyArguments(
        document=document,
        inputs=tuple(inputs or ()),
        inputs_file=inputs_file,
        allow_draft=allow_draft,
        confirm=tuple(confirm or ()),
        verbose=verbose,
        as_json=as_json,
    )
    if queue:
        worker.queue_apply(applying.request_for(arguments))
        return
    raise typer.Exit(applying.apply_here(arguments, Output()))


@app.command(name="list")
def list_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Documents or folders.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The intent documents: id, title, status, triggers, next scheduled time."""
    listed = api.list_documents(paths or [])
    rows = [api.summary(item) for item in listed]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    if not rows:
        out.print("no intent documents found")
        return
    out.print(tables.render(DOCUMENT_COLUMNS, [_document_row(row) for row in rows], out.width))


# `orch list` columns; when the terminal is narrow, they are dropped from the last rank up.
DOCUMENT_COLUMNS = (
    tables.Column("id", rank=0, shrink=True, min_width=20),
    tables.Column("title", rank=3, shrink=True, min_width=20),
    tables.Column("status", rank=1),
    tables.Column("triggers", rank=5, shrink=True, min_width=16),
    tables.Column("next run", rank=4),
    tables.Column("path", rank=2, shrink=True, min_width=28),
)


def _document_row(row: dict[str, Any]) -> list[tables.Cell]:
    # An invalid document's problems stand in for its title; its path has a column already.
    problems = "; ".join(p.removeprefix(f"{row['path']}:") for p in row["problems"])
    return [
        tables.Cell(row["id"] or "invalid", "" if row["id"] else "red"),
        tables.Cell(row["title"] or problems),
        tables.Cell(row["status"] or ""),
        tables.Cell(", ".join(row["triggers"])),
        tables.Cell(row["next_run"] or ""),
        tables.Cell(row["path"]),
    ]


app.command()(history.runs)
app.command()(history.show)
app.command()(history.logs)
app.command()(history.publish)
app.command()(schedule.schedule)
app.command()(serve.serve)
app.command()(steer.confirm)
app.command()(steer.cancel)
app.command()(steer.rerun)
app.command()(worker.worker)
app.command()(worker.workers)
app.add_typer(dropbox.app, name="dropbox")
app.add_typer(hooks.app, name="hooks")
