"""Streaming reception of a multipart upload straight into a store's temporary file.

The request body is fed chunk by chunk to python-multipart's push parser; the ``file`` part's
bytes go to a :class:`PendingUpload` (hashed and size-checked as they arrive), the small text
fields are kept in memory up to a cap. Memory does not grow with the file's size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from orchestrator.dropboxmini.pending import PendingUpload
from orchestrator.dropboxmini.protocol import FieldError, TooLargeError, UploadFields
from orchestrator.dropboxmini.store import Store

FIELD_NAMES = (
    "artifactType",
    "project",
    "baseline",
    "patch",
    "label",
    "description",
    "tags",
    "source",
    "createdBy",
)
MAX_FIELD_BYTES = 64 * 1024
WRITE_BATCH = 4 * 1024 * 1024
FORM_OVERHEAD = 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024


@dataclass
class _PartState:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    name: str | None = None
    buffer: bytearray | None = None
    is_file: bool = False


class FormReceiver:
    """Collects one multipart body: text fields in memory, the file into the store."""

    def __init__(self, store: Store, boundary: bytes) -> None:
        self.store = store
        self.fields: dict[str, str] = {}
        self.file_name: str | None = None
        self.pending: PendingUpload | None = None
        self._part = _PartState()
        self.complete = False
        self.file_data: list[memoryview] = []
        self.file_data_size = 0
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    def _on_part_begin(self) -> None:
        self._part = _PartState()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._part.header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._part.header_value += data[start:end]

    def _on_header_end(self) -> None:
        part = self._part
        part.headers[bytes(part.header_name).lower()] = bytes(part.header_value)
        part.header_name, part.header_value = bytearray(), bytearray()

    def _on_headers_finished(self) -> None:
        part = self._part
        disposition = part.headers.get(b"content-disposition", b"").decode("latin-1")
        _, options = parse_options_header(disposition)
        name = options.get(b"name", b"").decode("utf-8", errors="replace")
        part.name = name
        if name == "file":
            if self.pending is not None:
                raise FieldError("file", "was sent more than once")
            raw = options.get(b"filename")
            self.file_name = None if raw is None else raw.decode("utf-8", errors="replace")
            self.pending = self.store.begin_upload()
            part.is_file = True
        else:
            part.buffer = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.is_file:
            assert self.pending is not None
            view = memoryview(data if isinstance(data, bytes) else bytes(data))[start:end]
            self.pending.accept(view)
            self.file_data.append(view)
            self.file_data_size += len(view)
        elif part.buffer is not None:
            part.buffer += data[start:end]
            if len(part.buffer) > MAX_FIELD_BYTES:
                raise FieldError(part.name or "?", f"is longer than {MAX_FIELD_BYTES} bytes")

    def _on_part_end(self) -> None:
        part = self._part
        if part.is_file or part.buffer is None or part.name not in FIELD_NAMES:
            return
        try:
            text = part.buffer.decode("utf-8")
        except UnicodeDecodeError:
            raise FieldError(part.name, "is not valid UTF-8 text") from None
        if part.name in self.fields:
            raise FieldError(part.name, "was sent more than once")
        self.fields[part.name] = text

    def _on_end(self) -> None:
        self.complete = True

    def upload_fields(self) -> UploadFields:
        if self.pending is None:
            raise FieldError("file", "is required (a multipart part named 'file')")
        get = self.fields.get
        return UploadFields(
            artifact_type=get("artifactType", ""),
            project=get("project", ""),
            file_name=self.file_name,
            baseline=get("baseline"),
            patch=get("patch"),
            label=get("label"),
            description=get("description"),
            tags=get("tags"),
            source=get("source"),
            created_by=get("createdBy"),
        )

    def take_file_data(self) -> list[memoryview]:
        """The file bytes parsed since the last call (views of the received chunks)."""
        data, self.file_data, self.file_data_size = self.file_data, [], 0
        return data

    def discard(self) -> None:
        if self.pending is not None:
            self.pending.discard()


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FieldError("file", "the upload must be sent as multipart/form-data with a boundary")
    return boundary


async def receive_form(
    store: Store, content_type: str | None, body: AsyncIterator[bytes]
) -> FormReceiver:
    """Feed ``body`` through the parser; on any error the partial file is removed.

    The file's bytes are hashed and written in a worker thread, a batch of about
    ``WRITE_BATCH`` bytes at a time, while the next batch is received and parsed; at most
    two batches are held at once. When the file passes the store's limit the rest of the
    body (up to ``DRAIN_LIMIT``) is read and dropped, so the client can read the 413 answer
    instead of a reset connection.
    """
    receiver = FormReceiver(store, boundary_of(content_type))
    loop = asyncio.get_running_loop()
    writing: asyncio.Future[None] | None = None

    async def flush(at_least: int) -> None:
        nonlocal writing
        if receiver.file_data_size < at_least or receiver.file_data_size == 0:
            return
        assert receiver.pending is not None
        batch = receiver.take_file_data()
        if writing is not None:
            await writing
        writing = loop.run_in_executor(None, receiver.pending.absorb, batch)

    try:
        try:
            async for chunk in body:
                try:
                    receiver.parser.write(chunk)
                except TooLargeError:
                    if writing is not None:
                        with contextlib.suppress(Exception):
                            await writing
                        writing = None
                    receiver.discard()
                    drained = 0
                    async for rest in body:
                        drained += len(rest)
                        if drained > DRAIN_LIMIT:
                            break
                    raise
                await flush(WRITE_BATCH)
            receiver.parser.finalize()
            await flush(0)
            if writing is not None:
                await writing
                writing = None
        finally:
            if writing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(writing)
        if not receiver.complete:
            raise FieldError("file", "the multipart body ended before its closing boundary")
    except MultipartParseError as exc:
        receiver.discard()
        raise FieldError("file", f"the multipart body is malformed: {exc}") from None
    except BaseException:
        receiver.discard()
        raise
    return receiver
