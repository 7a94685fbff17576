"""Server-sent events of one run: its state changes and what its steps print, as they happen.

``GET /api/runs/{id}/events`` (an API key with the ``read`` role) and the run page's
``/runs/{id}/events`` (a session) stream the events of an ``api.RunWatch``: ``state``,
``step``, ``log`` and, when the run has ended, ``end``; then the stream closes. Each event's
data is one JSON object. A comment every few seconds keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from orchestrator.api.watching import RunEvent, RunWatch, watch

# How often a run in progress is looked at: on this host, and in the trace (another host).
LOCAL_POLL_SECONDS = 0.25
TRACE_POLL_SECONDS = 1.0
KEEP_ALIVE_SECONDS = 15.0


async def open_watch(root: Path, run_id: str, tail_bytes: int | None = None) -> RunWatch:
    """The watch of ``run_id``; raises ``RunNotFound`` (before anything is streamed)."""
    return await run_in_threadpool(lambda: watch(root, run_id, tail_bytes=tail_bytes))


def event_stream(request: Request, run: RunWatch) -> StreamingResponse:
    return StreamingResponse(
        _events(request, run),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def encode(number: int, event: RunEvent) -> bytes:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {number}\nevent: {event.kind}\ndata: {data}\n\n".encode()


async def _events(request: Request, run: RunWatch) -> AsyncIterator[bytes]:
    number = 0
    quiet_since = time.monotonic()
    yield b": events of run " + run.run_id.encode() + b"\n\n"
    while True:
        for event in await run_in_threadpool(run.poll):
            number += 1
            quiet_since = time.monotonic()
            yield encode(number, event)
        if run.ended or await request.is_disconnected():
            return
        if time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield b": still running\n\n"
        await asyncio.sleep(LOCAL_POLL_SECONDS if run.local else TRACE_POLL_SECONDS)
