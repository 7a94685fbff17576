"""The web view of ``orch serve``: server-rendered pages over the same keys as the API.

``install`` adds the pages to the service's FastAPI app: the login (``auth``), the
workflows, runs and documents (``pages``), one run (``runview``), the static files, the
security headers (``headers``), and the error pages. Routes are kept out of the OpenAPI
document, which describes the API for other systems.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from orchestrator.api.server_submissions import Submissions
from orchestrator.api.workspace import locate
from orchestrator.document.memory_cache import DocumentCache
from orchestrator.service.keys import Keys
from orchestrator.service.queue import RunQueue
from orchestrator.service.web import actions, auth, pages, runview
from orchestrator.service.web.headers import SecurityHeaders
from orchestrator.service.web.render import STATIC, page
from orchestrator.service.web.site import Site, WebError, login_location, session_of


def install(
    app: FastAPI,
    root: Path,
    keys: Keys,
    *,
    intake: Submissions,
    queue: RunQueue,
    documents: DocumentCache,
) -> Site:
    """Serve the web view from ``app``; returns its shared state (also ``app.state.web``)."""
    site = Site.open(locate(root), keys, intake, queue, documents)
    app.state.web = site
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (auth.router, pages.router, runview.router, actions.router):
        app.include_router(router)

    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> Response:
        if exc.login and request.method == "GET":
            return RedirectResponse(login_location(request), status_code=303)
        return page(request, "error.html", session_of(request), exc.status, message=exc.message)

    site.warm()
    return site
