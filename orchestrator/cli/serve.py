"""``orch serve``: the HTTP API for other systems."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestrator.api.workspace import locate
from orchestrator.cli.steer import log_runs

Where = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (default: the current folder).")
]


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (default: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Runs executed at the same time.")
    ] = 2,
    where: Where = Path(),
) -> None:
    """Serve the HTTP API (keys from ORCH_API_KEYS_JSON) and run the runs it queues."""
    # Imported here: the web stack is slow to import, and no other command needs it.
    from orchestrator.service.app import serve as serve_app

    log_runs(Console(stderr=True, soft_wrap=True))
    serve_app(locate(where).root, host=host, port=port, workers=workers)
