"""What every page needs: the server's repository, its runs, sessions and queue; who is
asking (the session of the request) and the answers for requests that may not go on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request

from orchestrator.api import reading_runs
from orchestrator.api.inspect import FoundDocument, list_documents
from orchestrator.api.recording_runs import trace_reader
from orchestrator.api.server_submissions import Submissions
from orchestrator.api.workspace import DocumentHome
from orchestrator.document.memory_cache import DocumentCache
from orchestrator.errors import OrchError
from orchestrator.model import Document
from orchestrator.service.keys import Keys
from orchestrator.service.queue import RunQueue
from orchestrator.service.web.catalog import RunCatalog
from orchestrator.service.web.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Session,
    SessionTable,
    same_token,
)

log = logging.getLogger("orch.serve")
CSRF_REFUSED = (
    "the form has no valid CSRF token (it is older than your session, or did not come from "
    "this site): reload the page and submit it again"
)


class WebError(Exception):
    """A request the web view answers with an error page (or a redirect to the login)."""

    def __init__(self, status: int, message: str, *, login: bool = False) -> None:
        self.status, self.message, self.login = status, message, login
        super().__init__(message)


@dataclass
class Site:
    place: DocumentHome
    keys: Keys
    intake: Submissions
    queue: RunQueue
    documents: DocumentCache
    sessions: SessionTable = field(default_factory=SessionTable)
    _catalog: RunCatalog | None = None
    _opening: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(
        cls,
        place: DocumentHome,
        keys: Keys,
        intake: Submissions,
        queue: RunQueue,
        documents: DocumentCache,
    ) -> Site:
        return cls(place, keys, intake, queue, documents)

    @property
    def catalog(self) -> RunCatalog:
        """The runs of the trace, opened on first use (not while the server starts)."""
        with self._opening:
            if self._catalog is None:
                local_runs = self.place.settings.state_dir / "runs"
                self._catalog = RunCatalog(trace_reader(self.place), local_runs)
            return self._catalog

    @property
    def root(self) -> Path:
        return self.place.root

    def warm(self) -> None:
        """Read the trace once in the background, so the first page is as fast as the next."""

        def read() -> None:
            try:
                self.catalog.runs()
            except OrchError as exc:
                log.warning("the web view could not read the trace: %s", exc)

        threading.Thread(target=read, name="orch-web-warm", daemon=True).start()

    def recover(self) -> None:
        """Record runs whose process died, as ``GET /api/runs`` does before listing."""
        try:
            reading_runs.recover(self.place)
        except OrchError as exc:
            log.warning("could not check for runs whose process died: %s", exc)

    def listed(self) -> list[FoundDocument]:
        return list_documents([self.root], self.documents)

    def document(self, workflow_id: str) -> tuple[FoundDocument, Document]:
        for item in self.listed():
            if item.document is not None and item.document.id == workflow_id:
                return item, item.document
        raise WebError(404, f"no intent document has the workflow id {workflow_id!r}")

    def relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def site_of(request: Request) -> Site:
    site: Site = request.app.state.web
    return site


def session_of(request: Request) -> Session | None:
    return site_of(request).sessions.find(request.cookies.get(SESSION_COOKIE))


def viewer(request: Request) -> Session:
    """The session of a page request; without one the browser is sent to the login page."""
    session = session_of(request)
    if session is None:
        raise WebError(401, "log in with an API key to see this page", login=True)
    return session


def poster(request: Request, form: Mapping[str, Any]) -> Session:
    """The session of a form: it must carry the session's CSRF token."""
    session = session_of(request)
    if session is None:
        raise WebError(401, "your session has ended: log in again, then submit the form again")
    if not same_token(_text(form.get(CSRF_FIELD)), session.csrf):
        raise WebError(403, CSRF_REFUSED)
    return session


def actor(request: Request, form: Mapping[str, Any]) -> Session:
    """The session of a form that acts: a valid CSRF token and a key with the ``run`` role."""
    session = poster(request, form)
    if not session.may_run():
        raise WebError(
            403, f"the key {session.key.name!r} may only read (its role: {session.key.role})"
        )
    return session


def login_location(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
