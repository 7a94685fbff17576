"""Options that more than one command takes, defined once so that they read alike."""

from typing import Annotated

import typer

AllowDraftOption = Annotated[
    bool, typer.Option("--allow-draft", help="Run a draft or in-review document by hand.")
]
ConfirmOption = Annotated[
    list[str] | None,
    typer.Option("--confirm", metavar="STEP", help="Confirm a manual step in advance."),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show every step's output.")]
RunJsonOption = Annotated[bool, typer.Option("--json", help="Print the run record on stdout.")]
