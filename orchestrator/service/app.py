"""``orch serve``: the HTTP API for other systems (FastAPI on uvicorn).

Thin by design: every endpoint calls an ``api`` function. Errors are JSON objects
``{"error": code, "detail": sentence}`` (validation problems add ``"problems"``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator import __version__
from orchestrator.api import (
    answers,
    dispatch,
    inspect,
    queued_runs,
    reading_runs,
    rerunning,
    server_submissions,
)
from orchestrator.api.workspace import locate
from orchestrator.document import InputTooLarge
from orchestrator.document.memory_cache import DocumentCache
from orchestrator.errors import DocumentError, OrchError, TraceError, UsageError
from orchestrator.service import events
from orchestrator.service.bodylimit import BodyLimit
from orchestrator.service.broker_queue import BrokerQueue, make_queue
from orchestrator.service.keys import ApiKey, Keys, load_keys
from orchestrator.service.queue import RunQueue
from orchestrator.service.web import install as install_web

_CODES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found"}
_CODES |= {405: "method-not-allowed", 409: "conflict", 413: "too-large", 422: "invalid"}
_CODES |= {500: "internal", 503: "unavailable", 504: "timeout"}
GRACEFUL_SHUTDOWN_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        self.status, self.detail, self.extra = status, detail, extra
        super().__init__(detail)


def _not_queued(refused: DocumentError) -> ApiError:
    """The answer to a submission, re-run or resume refused before anything was queued:
    413 for an input over its limit, 422 for any other problem, with every problem listed."""
    problems = [str(d) for d in refused.diagnostics]
    if isinstance(refused, InputTooLarge):
        detail = f"{refused.diagnostics[0].message}; nothing was queued"
        return ApiError(413, detail, problems=problems)
    return ApiError(422, "the run is invalid: nothing was queued", problems=problems)


class RunSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(description="The workflow id of an approved intent document.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The run's inputs.")


class Accepted(BaseModel):
    runId: str


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str | None = Field(
        default=None, description="The step the run waits at (default: the one it waits at)."
    )


class Answered(BaseModel):
    runId: str
    answer: str
    step: str | None = None
    by: str
    state: str
    detail: str | None = None
    # After a cancel: the cleanup steps the run still runs (a second cancel stops them).
    cleanup: list[str] = Field(default_factory=list)


class AgainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="The secret inputs the run needs again (never stored), by name.",
    )
    force: bool = Field(
        default=False, description="Resume even when steps before the resume point changed."
    )


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    body = {"error": _CODES.get(status, "error"), "detail": detail, **extra}
    return JSONResponse(body, status_code=status)


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {error.get('msg', 'invalid')}"


def _key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> ApiKey:
    keys: Keys = request.app.state.keys
    key = keys.find(x_api_key)
    if key is None:
        raise ApiError(401, "a valid API key is required in the X-API-Key header")
    return key


def _reader(key: Annotated[ApiKey, Depends(_key)]) -> ApiKey:
    return key


def _runner(key: Annotated[ApiKey, Depends(_key)]) -> ApiKey:
    if not key.allows("run"):
        raise ApiError(403, f"the key {key.name!r} may only read (its role: {key.role})")
    return key


Reader = Annotated[ApiKey, Depends(_reader)]
Runner = Annotated[ApiKey, Depends(_runner)]


def create_app(
    root: Path, keys: Keys, workers: int = 2, *, queue: RunQueue | None = None
) -> FastAPI:
    """The service for the repository at ``root``; starting it starts the run queue.

    The request body limit (``max-request-bytes``) is read once, here; the input limits
    are read with the rest of the settings for every submission.
    """
    runs = queue or make_queue(root, workers)
    max_request_bytes = locate(root).settings.max_request_bytes
    intake = server_submissions.Submissions(root, for_broker=isinstance(runs, BrokerQueue))
    parsed = DocumentCache()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runs.start()
        try:
            yield
        finally:
            runs.stop()

    app = FastAPI(
        title="orch",
        version=__version__,
        description="Queue runs of approved intent documents and read their history.",
        lifespan=lifespan,
    )
    app.state.keys = keys
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.detail, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "the request body is not valid JSON")
        return _error(
            422, "the request does not match the API", problems=[_problem(e) for e in errors]
        )

    @app.exception_handler(dispatch.NotSent)
    async def not_sent(_: Request, exc: dispatch.NotSent) -> JSONResponse:
        return _error(503, f"{exc}; it is recorded failed")

    @app.exception_handler(OrchError)
    async def orch_error(_: Request, exc: OrchError) -> JSONResponse:
        return _error(500, str(exc))

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Public: the service is up."""
        utc = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return {"status": "ok", "service": "orch", "version": __version__, "utc": utc}

    @app.get("/api/workflows")
    def list_workflows(_: Reader) -> list[dict[str, Any]]:
        """The intent documents: id, title, status, path and input declarations."""
        return inspect.workflows(root, parsed)

    @app.post("/api/runs", status_code=202)
    def submit(body: RunSubmission, key: Runner) -> Accepted:
        """Validate now, record the run ``pending`` in the trace, queue it (trigger ``api``)."""
        try:
            queued = intake.enqueue(body.workflow, body.inputs, actor=key.name)
        except inspect.UnknownWorkflow as exc:
            raise ApiError(404, str(exc)) from None
        except queued_runs.UncommittedDocument as exc:
            raise ApiError(409, str(exc)) from None
        except DocumentError as exc:
            raise _not_queued(exc) from None
        runs.put(queued)
        return Accepted(runId=queued.run_id)

    @app.get("/api/runs")
    def list_runs(
        _: Reader,
        workflow: str | None = None,
        state: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    ) -> list[dict[str, Any]]:
        """Run records from the trace, newest first."""
        return reading_runs.runs(root, workflow=workflow, state=state, limit=limit)

    @app.get("/api/runs/{run_id}")
    def one_run(run_id: str, _: Reader) -> dict[str, Any]:
        """One run's record (``run.json``)."""
        try:
            return reading_runs.show(root, run_id).record
        except TraceError as exc:
            raise ApiError(404, str(exc)) from None

    @app.get("/api/runs/{run_id}/logs/{step}", response_class=PlainTextResponse)
    def step_log(run_id: str, step: str, _: Reader) -> str:
        """A step's log, as text."""
        try:
            found = reading_runs.logs(root, run_id, step)
        except TraceError as exc:
            raise ApiError(404, str(exc)) from None
        return found[0][1]

    @app.get("/api/runs/{run_id}/events", response_class=StreamingResponse)
    async def run_events(run_id: str, request: Request, _: Reader) -> StreamingResponse:
        """Server-sent events: ``state``, ``step``, ``log`` (what a step prints, as it
        prints it) and ``end``; the stream closes when the run has ended."""
        try:
            watched = await events.open_watch(root, run_id)
        except TraceError as exc:
            raise ApiError(404, str(exc)) from None
        return events.event_stream(request, watched)

    @app.post("/api/runs/{run_id}/confirm")
    def confirm_step(run_id: str, key: Runner, body: AnswerBody | None = None) -> Answered:
        """Confirm the manual step a waiting run waits at; the run goes on."""
        step = body.step if body is not None else None
        return _answered(lambda: answers.confirm(root, run_id, step, actor=key.name))

    @app.post("/api/runs/{run_id}/cancel")
    def cancel_run(run_id: str, key: Runner) -> Answered:
        """Cancel a queued, running or waiting run (a running step's processes are stopped)."""
        answered = _answered(lambda: answers.cancel(root, run_id, actor=key.name))
        if answered.state == "pending":
            answered.state = runs.cancel(answered.runId) or answered.state
        return answered

    @app.post("/api/runs/{run_id}/rerun", status_code=202)
    def rerun(run_id: str, key: Runner, body: AgainBody | None = None) -> Accepted:
        """Queue the run again: the same commit and inputs (secret ones given again)."""
        given = body or AgainBody()
        return Accepted(runId=_again(run_id, key, given, resume=False))

    @app.post("/api/runs/{run_id}/resume", status_code=202)
    def resume(run_id: str, key: Runner, body: AgainBody | None = None) -> Accepted:
        """Queue a failed or cancelled run again from the step where it stopped."""
        given = body or AgainBody()
        return Accepted(runId=_again(run_id, key, given, resume=True))

    def _again(run_id: str, key: ApiKey, body: AgainBody, *, resume: bool) -> str:
        try:
            queued = rerunning.enqueue_again(
                root, run_id, actor=key.name, resume=resume, force=body.force, inputs=body.inputs
            )
        except answers.RunNotFound as exc:
            raise ApiError(404, str(exc)) from None
        except TraceError as exc:
            raise ApiError(404, str(exc)) from None
        except DocumentError as exc:
            raise _not_queued(exc) from None
        except UsageError as exc:
            raise ApiError(409, f"{exc}; nothing was queued") from None
        runs.put(queued)
        return queued.run_id

    install_web(app, root, keys, intake=intake, queue=runs, documents=parsed)
    return app


def _answered(answer: Callable[[], answers.Answered]) -> Answered:
    """An answer to a run, as the API says what became of it."""
    try:
        done = answer()
    except answers.RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except answers.NotAnswerable as exc:
        raise ApiError(409, str(exc)) from None
    except answers.NotPickedUp as exc:
        raise ApiError(504, str(exc)) from None
    return Answered(
        runId=done.run_id,
        answer=done.action,
        step=done.step,
        by=done.by,
        state=done.state,
        cleanup=list(done.cleanup),
    )


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; the runs in progress finish, queued ones stay pending."""
    environ = os.environ if environ is None else environ
    keys = load_keys(environ)
    queue = make_queue(root, workers)
    queue.open()
    app = create_app(root, keys, workers, queue=queue)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="auto",
        log_level="info",
        # Event streams stay open while their runs run: a stopping server ends them.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    uvicorn.Server(config).run()
