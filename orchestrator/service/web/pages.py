"""The pages of the workflows: the list, the run list, a document and its start form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from orchestrator.api import inspect, queued_runs
from orchestrator.api.inspect import FoundDocument, summary
from orchestrator.errors import DocumentError
from orchestrator.model import RunState, Trigger
from orchestrator.service.web import charts, forms, markdown
from orchestrator.service.web.catalog import RunFilter, RunSummary
from orchestrator.service.web.render import page
from orchestrator.service.web.sessions import CSRF_FIELD, Session
from orchestrator.service.web.site import Site, WebError, actor, site_of, viewer

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Session, Depends(viewer)]
PAGE_SIZE = 50
MARKS = 30


@router.get("/", response_class=HTMLResponse)
def workflows(request: Request, session: Viewer) -> Response:
    site = site_of(request)
    site.recover()
    rows = []
    for item in site.listed():
        doc = item.document
        shown = summary(item)
        runs = site.catalog.of_workflow(doc.id) if doc is not None else ()
        rows.append(
            {
                "path": site.relative(item.path),
                "doc": doc,
                "triggers": shown["triggers"],
                "next_run": shown["next_run"],
                "problems": shown["problems"],
                "last": runs[0] if runs else None,
                "marks": list(reversed(runs[:MARKS])),
                "count": len(runs),
            }
        )
    rows.sort(key=lambda row: (row["doc"] is None, row["doc"].id if row["doc"] else row["path"]))
    return page(request, "workflows.html", session, rows=rows)


@router.get("/runs", response_class=HTMLResponse)
def runs(
    request: Request,
    session: Viewer,
    workflow: str | None = None,
    state: str | None = None,
    trigger: str | None = None,
    actor: str | None = None,
) -> Response:
    site = site_of(request)
    site.recover()
    number = _page_number(request.query_params.get("page"))
    wanted = RunFilter(workflow or None, state or None, trigger or None, actor or None)
    found = site.catalog.page(wanted, number, PAGE_SIZE)
    everything = site.catalog.runs()
    filters = {"workflow": wanted.workflow, "state": wanted.state}
    filters |= {"trigger": wanted.trigger, "actor": wanted.actor}
    return page(
        request,
        "runs.html",
        session,
        found=found,
        filters=filters,
        choices={
            "workflow": sorted({r.workflow for r in everything}),
            "state": _known([s.value for s in RunState], (r.state for r in everything)),
            "trigger": _known([t.value for t in Trigger], (r.trigger for r in everything)),
            "actor": sorted({r.actor for r in everything if r.actor}),
        },
    )


def _page_number(text: str | None) -> int:
    try:
        return max(1, int(text or "1"))
    except ValueError:
        return 1


def _known(fixed: list[str], seen: Any) -> list[str]:
    return fixed + sorted(set(seen) - set(fixed))


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow_page(request: Request, workflow_id: str, session: Viewer) -> Response:
    site = site_of(request)
    listed, doc = site.document(workflow_id)
    return _document_page(request, site, session, listed, forms.start_form(doc))


def _document_page(
    request: Request,
    site: Site,
    session: Session,
    listed: FoundDocument,
    form: forms.StartForm,
    status: int = 200,
) -> Response:
    doc = listed.document
    assert doc is not None
    runs: tuple[RunSummary, ...] = site.catalog.of_workflow(doc.id)
    shown = summary(listed)
    return page(
        request,
        "document.html",
        session,
        status,
        doc=doc,
        path=site.relative(doc.path),
        body=markdown.render(doc),
        triggers=shown["triggers"],
        next_run=shown["next_run"],
        chart=charts.history(runs),
        recent=runs[:10],
        count=len(runs),
        form=form,
    )


@router.post("/workflows/{workflow_id}/runs")
async def start_run(request: Request, workflow_id: str) -> Response:
    site = site_of(request)
    sent = await request.form()
    texts = {name: value for name, value in sent.multi_items() if isinstance(value, str)}
    session = actor(request, texts)
    listed, doc = await run_in_threadpool(site.document, workflow_id)
    blocked = forms.blocked_by_secrets(doc)
    submitted = forms.read_form(doc, texts, ignored=(CSRF_FIELD,))
    if blocked or submitted.errors:
        problems = [blocked] if blocked else []
        problems += submitted.errors.pop("", [])
        form = forms.start_form(doc, submitted.texts, submitted.errors, problems)
        return _document_page(request, site, session, listed, form, 422)
    try:
        queued = await run_in_threadpool(
            site.intake.enqueue, workflow_id, submitted.inputs, actor=session.key.name
        )
    except inspect.UnknownWorkflow as exc:
        raise WebError(404, str(exc)) from None
    except queued_runs.UncommittedDocument as exc:
        form = forms.start_form(doc, submitted.texts, problems=[str(exc)])
        return _document_page(request, site, session, listed, form, 409)
    except DocumentError as exc:
        at_field, rest = forms.field_errors(exc.diagnostics, (d.name for d in doc.inputs))
        form = forms.start_form(doc, submitted.texts, at_field, rest)
        return _document_page(request, site, session, listed, form, 422)
    site.queue.put(queued)
    return RedirectResponse(f"/runs/{queued.run_id}", status_code=303)
