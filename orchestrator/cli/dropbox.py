"""``orch dropbox``: serve a store, push, list and get artifacts.

Without ``--url`` (or ``ORCH_DROPBOX_URL``) the commands work on the local store folder.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.dropboxmini import (
    ArtifactRecord,
    ConfigError,
    DropBoxError,
    FieldError,
    IntegrityError,
    StoreDamagedError,
    UploadFields,
    connect,
    format_number,
    parse_number,
)
from orchestrator.dropboxmini.client import DropBoxClient, LocalStoreClient
from orchestrator.dropboxmini.protocol import DEFAULT_MAX_BYTES

app = typer.Typer(
    name="dropbox",
    help="DropBoxMini artifacts: serve a store, push, list and get.",
    no_args_is_help=True,
    add_completion=False,
)

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


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"orch dropbox: {message}", err=True)
    raise typer.Exit(code)


def default_root(cwd: Path | None = None) -> Path:
    """``.orch/dropbox`` under the current git repository's top, else under ``cwd``."""
    here = Path.cwd() if cwd is None else cwd
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=here,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        done = None
    top = (
        Path(done.stdout.strip()) if done and done.returncode == 0 and done.stdout.strip() else here
    )
    return top / ".orch" / "dropbox"


@contextmanager
def _errors() -> Iterator[None]:
    """Expected errors become one line on stderr: exit 2 for usage/validation, 1 otherwise."""
    try:
        yield
    except (FieldError, ConfigError) as exc:
        _fail(exc.detail, 2)
    except (IntegrityError, StoreDamagedError) as exc:
        _fail(exc.detail, 1)  # found by the client or in the store: no HTTP status to show
    except DropBoxError as exc:
        _fail(f"{exc.detail} (HTTP {exc.status} {exc.code})", 1)
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)


def _client(
    url: str | None, key: str | None, root: Path | None
) -> DropBoxClient | LocalStoreClient:
    return connect(url, key, root if root is not None else default_root())


def _print_records(records: list[ArtifactRecord], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    table = Table()
    table.add_column("artifactId", no_wrap=True, min_width=12)
    table.add_column("type", no_wrap=True)
    for name in ("project", "baseline", "patch", "label", "size", "file"):
        table.add_column(name, overflow="fold")
    for r in records:
        table.add_row(
            r.artifact_id,
            r.artifact_type.value,
            r.project,
            format_number(r.baseline) or "",
            format_number(r.patch) or "",
            r.label or "",
            str(r.size),
            r.file_name,
        )
    Console().print(table)


def _record_json(record: ArtifactRecord) -> dict[str, object]:
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
    max_bytes: Annotated[int, typer.Option(help="Largest accepted file")] = DEFAULT_MAX_BYTES,
) -> None:
    """Serve a store over HTTP (keys from DROPBOX_API_KEYS_JSON)."""
    from orchestrator.dropboxmini.server import serve as run_server

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    with _errors():
        run_server(
            root if root is not None else default_root(),
            host=host,
            port=port,
            baseline=parse_number("baseline", baseline),
            max_bytes=max_bytes,
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
    if not file.is_file():
        _fail(f"no such file: {file}", 2)
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
    with _errors(), _client(url, key, root) as client:
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
    with _errors(), _client(url, key, root) as client:
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
    with _errors(), _client(url, key, root) as client:
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
