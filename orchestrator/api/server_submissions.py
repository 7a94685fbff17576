"""Submissions to a long-running server (``orch serve``): an index of HEAD's documents, and
submissions answered from it without a ``git`` process per request but one. They end where
``queued_runs.enqueue`` ends (a ``pending`` run in the trace), which reads git each time."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import config, document
from orchestrator.api.apply import GitFacts
from orchestrator.api.inspect import documents_under
from orchestrator.api.queued_runs import Queued, api_request, enqueue, record_pending
from orchestrator.api.receiving import validate_request
from orchestrator.api.recording_runs import (
    trace_repository,
    trace_writer,
)
from orchestrator.api.workspace import DocumentHome, locate, relative_to_root
from orchestrator.errors import OrchError
from orchestrator.model import Document
from orchestrator.trace import TraceWriter, repo
from orchestrator.trace.objects import BLOB_MODE, ObjectStore, commit_tree_id, lookup

_FILE_MODES = frozenset({BLOB_MODE, b"100755"})


@dataclass(frozen=True)
class CommittedDocument:
    """An intent document as one commit holds it, parsed."""

    relative_path: str
    blob: str
    document: Document


@dataclass(frozen=True)
class WorkflowIndex:
    """Workflow id → committed document, for one commit and one set of intent patterns.

    Commits never change, so the index stays exact for as long as HEAD and the patterns are
    those it was built for; a moved HEAD (a commit, checkout, pull) gets a new index.
    """

    head: str
    patterns: tuple[str, ...]
    documents: Mapping[str, CommittedDocument]

    def fits(self, head: str, patterns: tuple[str, ...]) -> bool:
        return self.head == head and self.patterns == patterns


class Submissions:
    """``enqueue`` for a long-running server, without a ``git`` process per request but one.

    Per request it reads HEAD from the ref files, finds the workflow in the
    :class:`WorkflowIndex` of that commit (built again only when HEAD moves), checks that the
    working copy's file has the committed blob (hashed in Python), validates the committed
    document, and commits the ``pending`` record (one ``git update-ref``). Whenever that
    path does not apply (unknown id, a working copy that differs from HEAD, an unborn
    branch) it calls :func:`enqueue`, so refusals are exactly those of ``enqueue``.
    """

    def __init__(self, root: Path, *, for_broker: bool = False) -> None:
        self.root = root
        # Runs validated for a broker: secrets stay with the workers (see api/dispatch.py).
        self.for_broker = for_broker
        self._lock = threading.Lock()
        self._ready = False
        self._usable = False
        self._home: Path | None = None
        self._git_dir = root
        self._objects: ObjectStore | None = None
        self._index: WorkflowIndex | None = None
        self._writers: dict[tuple[Path, str, str, str | None], TraceWriter] = {}

    @property
    def index(self) -> WorkflowIndex | None:
        """The index of the last submission's HEAD (None before the first)."""
        return self._index

    def _open(self) -> None:
        """Find the repository once (three ``git`` processes); not a repository: slow path."""
        if self._ready:
            return
        self._ready = True
        place = locate(self.root)
        if not place.in_repository:
            return
        self.root, self._home = place.root, place.settings.home
        self._git_dir = repo.own_git_dir(place.root)
        self._objects = ObjectStore(repo.git_common_dir(place.root))
        self._usable = True

    def enqueue(
        self,
        workflow_id: str,
        inputs: Mapping[str, Any],
        *,
        actor: str,
        environ: Mapping[str, str] | None = None,
    ) -> Queued:
        """What :func:`enqueue` does, answered from the index of HEAD when it can be."""
        environment = dict(os.environ if environ is None else environ)
        with self._lock:
            self._open()
            if not self._usable or self._objects is None:
                return self._general(workflow_id, inputs, actor, environ)
            place = DocumentHome(
                self.root, True, config.load(self.root, environment, home=self._home)
            )
            head = repo.read_head(self._git_dir, self._objects)
            found = self._lookup(head, place, workflow_id) if head else None
            writer = self._writer(place) if found else None
        if head is None or found is None or writer is None or not self._clean(found):
            return self._general(workflow_id, inputs, actor, environ)
        request = api_request(
            found.document.path,
            place,
            inputs,
            actor=actor,
            environ=environment,
            for_broker=self.for_broker,
        )
        prepared = validate_request(
            request, place, found.document, found.relative_path, environment
        )
        facts = GitFacts(head, head, document_dirty=False, workspace_dirty=False)
        return record_pending(prepared, head, facts, writer)

    def _general(
        self,
        workflow_id: str,
        inputs: Mapping[str, Any],
        actor: str,
        environ: Mapping[str, str] | None,
    ) -> Queued:
        return enqueue(
            self.root, workflow_id, inputs, actor=actor, environ=environ, for_broker=self.for_broker
        )

    def _lookup(self, head: str, place: DocumentHome, workflow_id: str) -> CommittedDocument | None:
        patterns = place.settings.intents
        if self._index is None or not self._index.fits(head, patterns):
            self._index = self._build(head, place)
        return self._index.documents.get(workflow_id)

    def _build(self, head: str, place: DocumentHome) -> WorkflowIndex:
        """Parse every intent document of the checkout as commit ``head`` holds it."""
        assert self._objects is not None
        tree = commit_tree_id(self._objects, head)
        documents: dict[str, CommittedDocument] = {}
        for path in documents_under([place.root]):
            try:
                relative = relative_to_root(place, path)
                entry = lookup(self._objects, tree, tuple(relative.split("/")))
                if entry is None or entry.mode not in _FILE_MODES:
                    continue
                text = self._objects.read_typed(entry.sha, "blob").decode("utf-8")
                doc = document.parse(text, path)
            except (UnicodeDecodeError, OrchError):
                continue
            documents.setdefault(doc.id, CommittedDocument(relative, entry.sha, doc))
        return WorkflowIndex(head, place.settings.intents, documents)

    def _writer(self, place: DocumentHome) -> TraceWriter:
        settings = place.settings
        key = (
            trace_repository(place),
            settings.trace_branch,
            settings.trace_prefix,
            settings.trace_remote,
        )
        writer = self._writers.get(key)
        if writer is None:
            writer = self._writers[key] = trace_writer(place)
        return writer

    def _clean(self, found: CommittedDocument) -> bool:
        """True when the working copy's file is byte for byte the committed one."""
        try:
            data = (self.root / found.relative_path).read_bytes()
        except OSError:
            return False
        return repo.blob_id_of_text(data) == found.blob
