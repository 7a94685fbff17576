"""The page of one run: its evidence, its steps to scale, their logs; and what it links to
(a step's whole log, an artifact kept in the embedded store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from orchestrator.dropboxmini import DropBoxError, Store
from orchestrator.errors import TraceError
from orchestrator.service import events
from orchestrator.service.web import charts
from orchestrator.service.web.catalog import OPEN_STATES, RunView
from orchestrator.service.web.render import page
from orchestrator.service.web.sessions import Session
from orchestrator.service.web.site import Site, WebError, site_of, viewer

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Session, Depends(viewer)]
# A log larger than this shows its end inline, with a link to the whole text.
LOG_INLINE_BYTES = 256 * 1024


def _view(site: Site, run_id: str) -> RunView:
    view = site.catalog.view(run_id)
    if view is None:
        raise WebError(404, f"no run {run_id!r} in the trace")
    return view


def run_context(site: Site, view: RunView, now: datetime) -> dict[str, Any]:
    """What the run page and its live part show."""
    record = view.record
    drawn = charts.timeline(record, now)
    durations = {bar.name: bar.duration for bar in drawn.bars}
    steps = []
    for entry in record.get("steps") or []:
        if not isinstance(entry, dict):
            continue
        log_path = entry.get("log")
        data = view.file(site.catalog, log_path) if isinstance(log_path, str) else None
        size = len(data) if data is not None else 0
        text = None
        if data is not None:
            text = data[-LOG_INLINE_BYTES:].decode("utf-8", errors="replace")
        duration = durations.get(str(entry.get("name")))
        steps.append({**entry, "log_text": text, "log_size": size, "duration": duration})
    return {
        "run": view.summary,
        "record": record,
        "live": view.summary.state in OPEN_STATES,
        "steps": steps,
        "timeline": drawn,
        "log_inline_bytes": LOG_INLINE_BYTES,
    }


def artifacts_of(run_id: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's artifacts, each with where to download it (None while unpublished)."""
    shown = []
    for artifact in record.get("artifacts") or []:
        if not isinstance(artifact, dict):
            continue
        publication = artifact.get("publication") or {}
        url = publication.get("url") if isinstance(publication, dict) else None
        artifact_id = publication.get("artifact_id") if isinstance(publication, dict) else None
        href = None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            href = url
        elif isinstance(url, str) and url.startswith("file:") and artifact_id:
            href = f"/runs/{run_id}/artifacts/{artifact_id}"
        shown.append({**artifact, "publication": publication, "href": href})
    return shown


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, session: Viewer) -> Response:
    site = site_of(request)
    site.recover()
    view = _view(site, run_id)
    context = run_context(site, view, datetime.now(UTC))
    return page(
        request,
        "run.html",
        session,
        artifacts=artifacts_of(view.summary.run_id, view.record),
        **context,
    )


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def run_live(request: Request, run_id: str, session: Viewer) -> Response:
    """The part of the run page that changes while it runs (polled by the page's script)."""
    site = site_of(request)
    view = _view(site, run_id)
    response = page(request, "run_live.html", session, **run_context(site, view, _now()))
    response.headers["X-Orch-Run-State"] = view.summary.state
    return response


@router.get("/runs/{run_id}/events")
async def run_events(request: Request, run_id: str, _: Viewer) -> Response:
    """The run's events (as ``GET /api/runs/{id}/events``) for the page's script, which
    appends log lines as they come and fetches the live part again when a state changes."""
    site = site_of(request)
    try:
        watched = await events.open_watch(site.root, run_id, LOG_INLINE_BYTES)
    except TraceError as exc:
        raise WebError(404, str(exc)) from None
    return events.event_stream(request, watched)


@router.get("/runs/{run_id}/logs/{step}", response_class=PlainTextResponse)
def step_log(request: Request, run_id: str, step: str, _: Viewer) -> Response:
    site = site_of(request)
    view = _view(site, run_id)
    for entry in view.record.get("steps") or []:
        if isinstance(entry, dict) and entry.get("name") == step and entry.get("log"):
            data = view.file(site.catalog, str(entry["log"]))
            if data is not None:
                return PlainTextResponse(data.decode("utf-8", errors="replace"))
    raise WebError(404, f"run {run_id} has no log for step {step!r}")


@router.get("/runs/{run_id}/artifacts/{artifact_id}")
def download(request: Request, run_id: str, artifact_id: str, _: Viewer) -> Response:
    """An artifact of this run kept in the embedded store, after checking it is the one
    the run recorded (same id, same sha256)."""
    site = site_of(request)
    view = _view(site, run_id)
    wanted = next(
        (
            a
            for a in artifacts_of(run_id, view.record)
            if (a["publication"] or {}).get("artifact_id") == artifact_id
            and str(a["href"] or "").startswith("/")
        ),
        None,
    )
    if wanted is None:
        raise WebError(404, f"run {run_id} published no artifact {artifact_id!r} to this store")
    store_root = site.place.settings.local_store
    if not store_root.is_dir():
        raise WebError(404, f"the embedded store {store_root} does not exist on this server")
    try:
        store = Store(store_root)
        stored = store.get(artifact_id)
        path = store.path_of(artifact_id)
    except DropBoxError as exc:
        raise WebError(404, exc.detail) from None
    if stored.sha256 != wanted.get("sha256"):
        raise WebError(
            409,
            f"artifact {artifact_id} in the store has sha256 {stored.sha256}, not the "
            f"{wanted.get('sha256')} run {run_id} recorded: it is not the same file",
        )
    return FileResponse(
        path,
        filename=stored.file_name,
        headers={"X-Artifact-Sha256": stored.sha256},
        media_type="application/octet-stream",
    )


def _now() -> datetime:
    return datetime.now(UTC)
