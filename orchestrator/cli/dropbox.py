"""``orch dropbox``: serve a store, push, list and get artifacts.

Without ``--url`` (or ``ORCH_DROPBOX_URL``) the commands work on the local store folder.
DropBoxMini's errors reach the one error handler of the command line (``cli/errors.py``).
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orchestrator.cli import tables
from orchestrator.errors import UsageError

if TYPE_CHECKING:
    from orchestrator.dropboxmini import ArtifactRecord
    from orchestrator.dropboxmini.client import DropBoxClient, LocalStoreClient

# orchestrator.dropboxmini is imported inside the commands: it brings an HTTP client, and
# every other command would pay for it at start-up.

app = typer.Typer(
    name="dropbox",
    help="DropBoxMini artifacts: serve a store, push, list and get.",
    no_args_is_help=True,
)

out = Console(soft_wrap=True, highlight=False)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar="ORCH_DROPBOX_URL", help="DropBoxMini URL; none = local store"),
]
KeyOption = Annotated[
    str | None,
    typer.Option("--key", envvar="ORCH_DROPBOX_KEY", help="API key for --url", show_default=False),
]
RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Store folder (default: .orch/dropbox at the repository top)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def default_root(cwd: Path | None = None) -> Path:
    """The local store of runs here: ``.orch/dropbox`` of the repository (its main working
    tree) holding ``cwd``, else of ``cwd`` itself; where ``orch apply`` publishes without
    a DropBoxMini URL."""
    from orchestrator.api.workspace import locate

    return locate(Path.cwd() if cwd is None else cwd).settings.local_store


def _client(
    url: str | None, key: str | None, root: Path | None
) -> "DropBoxClient | LocalStoreClient":
    from orchestrator.dropboxmini import connect

    return connect(url, key, root if root is not None else default_root())


# `orch dropbox list` columns; when the terminal is narrow, they are dropped from the last
# rank up (the id and the file name stay longest).
ARTIFACT_COLUMNS = (
    tables.Column("artifactId", rank=0),
    tables.Column("type", rank=2),
    tables.Column("project", rank=3, shrink=True, min_width=12),
    tables.Column("baseline", rank=6),
    tables.Column("patch", rank=5),
    tables.Column("label", rank=7, shrink=True, min_width=12),
    tables.Column("size", rank=4, right=True),
    tables.Column("file", rank=1, shrink=True, min_width=20),
)


def _print_records(records: "list[ArtifactRecord]", as_json: bool) -> None:
    from orchestrator.dropboxmini import format_number

    if as_json:
        typer.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        out.print("no artifact matches")
        return
    rows = (
        [
            tables.Cell(r.artifact_id),
            tables.Cell(r.artifact_type.value),
            tables.Cell(r.project),
            tables.Cell(format_number(r.baseline) or ""),
            tables.Cell(format_number(r.patch) or ""),
            tables.Cell(r.label or ""),
            tables.Cell(str(r.size)),
            tables.Cell(r.file_name),
        ]
        for r in records
    )
    out.print(tables.render(ARTIFACT_COLUMNS, rows, out.width))


def _record_json(record: "ArtifactRecord") -> dict[str, object]:
    data: dict[str, object] = dict(record.to_json())
    if record.storage_path:
        data["storagePath"] = record.storage_path
    return data


@app.command()
def serve(
    root: RootOption = None,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    baseline: Annotated[
        str | None, typer.Option(help="Current baseline (else DROPBOX_BASELINE)")
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option(help="Largest accepted file in bytes (default: 2 GiB)")
    ] = None,
) -> None:
    """Serve a store over HTTP (keys from DROPBOX_API_KEYS_JSON)."""
    import logging

    from orchestrator.dropboxmini import parse_number
    from orchestrator.dropboxmini.protocol import DEFAULT_MAX_BYTES
    from orchestrator.dropboxmini.server import serve as run_server

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    run_server(
        root if root is not None else default_root(),
        host=host,
        port=port,
        baseline=parse_number("baseline", baseline),
        max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes,
    )


@app.command()
def push(
    file: Annotated[Path, typer.Argument(help="File to upload")],
    artifact_type: Annotated[str, typer.Option("--type", help="Artifact type")],
    project: Annotated[str, typer.Option(help="Project name")],
    baseline: Annotated[str | None, typer.Option(help="Baseline number")] = None,
    patch: Annotated[str | None, typer.Option(help="Patch number")] = None,
    label: Annotated[str | None, typer.Option(help="Label")] = None,
    description: Annotated[str | None, typer.Option(help="Description")] = None,
    tags: Annotated[str | None, typer.Option(help="Comma-separated tags")] = None,
    source: Annotated[str | None, typer.Option(help="Source, e.g. orch:<workflow>/<run>")] = None,
    created_by: Annotated[str | None, typer.Option("--created-by", help="Actor")] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    root: RootOption = None,
) -> None:
    """Upload FILE as an artifact and print its id."""
    from orchestrator.dropboxmini import UploadFields

    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    fields = UploadFields(
        artifact_type=artifact_type,
        project=project,
        file_name=file.name,
        baseline=baseline,
        patch=patch,
        label=label,
        description=description,
        tags=tags,
        source=source,
        created_by=created_by,
    )
    with _client(url, key, root) as client:
        record = client.upload(file, fields)
    if as_json:
        typer.echo(json.dumps(_record_json(record), indent=2))
    else:
        typer.echo(record.artifact_id)


@app.command("list")
def list_(
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    artifact_type: Annotated[str | None, typer.Option("--type", help="Only this type")] = None,
    baseline: Annotated[str | None, typer.Option(help="Only this baseline")] = None,
    patch: Annotated[str | None, typer.Option(help="Only this patch")] = None,
    label: Annotated[str | None, typer.Option(help="Only this label")] = None,
    since: Annotated[str | None, typer.Option(help="Only created at or after (ISO-8601)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 100,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    root: RootOption = None,
) -> None:
    """List artifacts, newest first."""
    with _client(url, key, root) as client:
        records = client.list(
            project=project,
            artifact_type=artifact_type,
            baseline=baseline,
            patch=patch,
            label=label,
            since=since,
            limit=limit,
        )
    _print_records(records, as_json)


@app.command()
def get(
    artifact_id: Annotated[str, typer.Argument(help="Artifact id (YYYYMMDD-NNN)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Download the bytes to this path")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    root: RootOption = None,
) -> None:
    """Show one artifact's metadata; with --output, download its bytes."""
    with _client(url, key, root) as client:
        fetch: Callable[[], ArtifactRecord] = (
            (lambda: client.download(artifact_id, output))
            if output is not None
            else (lambda: client.get(artifact_id))
        )
        record = fetch()
    if as_json:
        typer.echo(json.dumps(_record_json(record), indent=2))
        return
    for name, value in _record_json(record).items():
        shown = ",".join(str(v) for v in value) if isinstance(value, list) else value
        typer.echo(f"{name}: {'' if shown is None else shown}")
    if output is not None:
        typer.echo(f"saved to {output}")
