"""The buttons of a run's page: confirm or cancel a waiting step, cancel a run, run it again,
resume it. Each is a form (session, CSRF token and the ``run`` role checked by
``site.actor``) that does what ``orch confirm``/``cancel``/``rerun``/``apply --resume`` do,
with the key's name as who answered, then goes back to a run's page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from orchestrator.api import answers, rerunning
from orchestrator.errors import DocumentError, OrchError, TraceError, UsageError
from orchestrator.service.web.site import WebError, actor, site_of

router = APIRouter(include_in_schema=False)


async def _form(request: Request) -> dict[str, str]:
    sent = await request.form()
    return {name: value for name, value in sent.multi_items() if isinstance(value, str)}


def _back(run_id: str) -> RedirectResponse:
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


async def _answer(call: Callable[[], answers.Answered]) -> answers.Answered:
    try:
        return await run_in_threadpool(call)
    except answers.RunNotFound as exc:
        raise WebError(404, str(exc)) from None
    except answers.NotAnswerable as exc:
        raise WebError(409, str(exc)) from None
    except answers.NotPickedUp as exc:
        raise WebError(504, str(exc)) from None


@router.post("/runs/{run_id}/confirm")
async def confirm(request: Request, run_id: str) -> Response:
    form = await _form(request)
    session = actor(request, form)
    root = site_of(request).root
    step = form.get("step") or None
    done = await _answer(lambda: answers.confirm(root, run_id, step, actor=session.key.name))
    return _back(done.run_id)


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str) -> Response:
    form = await _form(request)
    session = actor(request, form)
    site = site_of(request)
    done = await _answer(lambda: answers.cancel(site.root, run_id, actor=session.key.name))
    if done.state == "pending":
        await run_in_threadpool(site.queue.cancel, done.run_id)
    return _back(done.run_id)


@router.post("/runs/{run_id}/rerun")
async def rerun(request: Request, run_id: str) -> Response:
    return await _again(request, run_id, resume=False)


@router.post("/runs/{run_id}/resume")
async def resume(request: Request, run_id: str) -> Response:
    return await _again(request, run_id, resume=True)


async def _again(request: Request, run_id: str, *, resume: bool) -> Response:
    """Queue the run again (trigger ``api``): the same commit and inputs; secret inputs are
    never entered in a browser, so they come from the server's environment
    (``ORCH_INPUT_<NAME>``) or the run is refused with what to do."""
    form = await _form(request)
    session = actor(request, form)
    site = site_of(request)
    arguments: dict[str, Any] = {"actor": session.key.name, "resume": resume}
    try:
        queued = await run_in_threadpool(
            lambda: rerunning.enqueue_again(site.root, run_id, **arguments)
        )
    except DocumentError as exc:
        problems = "; ".join(str(d) for d in exc.diagnostics)
        raise WebError(422, f"the run is invalid: nothing was queued: {problems}") from None
    except TraceError as exc:
        raise WebError(404, str(exc)) from None
    except UsageError as exc:
        raise WebError(409, f"{exc}; nothing was queued") from None
    except OrchError as exc:
        raise WebError(500, str(exc)) from None
    site.queue.put(queued)
    return _back(queued.run_id)
