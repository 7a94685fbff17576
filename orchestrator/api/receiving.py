"""Receive and validate a run request: the document, its status, its manual steps, its
inputs and secrets. Everything here happens before anything runs; what it refuses is a
``DocumentError`` or ``InputError`` naming the document's line."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from orchestrator import document
from orchestrator.api.run_request import Prepared, RunRequest
from orchestrator.api.workspace import DocumentHome, locate, relative_to_root
from orchestrator.errors import Diagnostic, DocumentError
from orchestrator.masking import Masker
from orchestrator.model import Document, DocumentStatus, StepKind, Trigger


def prepare(
    request: RunRequest, *, plan: bool = False, parsed: Document | None = None
) -> Prepared:
    """Receive and validate: raises ``DocumentError``/``InputError`` before anything runs.

    ``plan``: for ``orch plan``, which runs nothing: secrets that are not set and secret
    inputs that are not given are no error (see ``validate_request``). ``parsed``: the
    document at ``request.path``, when the caller has just read it."""
    environ = dict(os.environ if request.environ is None else request.environ)
    place = locate(request.path, environ)
    # A document in a temporary worktree is read from a path that never comes again: kept,
    # it would only crowd out documents that run again.
    doc = parsed or document.load(request.path, keep=request.worktree is None)
    relative_path = (
        relative_to_root(place, request.path) if place.in_repository else (request.path.name)
    )
    file_values = None
    if request.inputs_file:
        limit = place.settings.max_request_bytes
        file_values = document.load_inputs_file(request.inputs_file, limit)
    return validate_request(request, place, doc, relative_path, environ, file_values, plan=plan)


def validate_request(
    request: RunRequest,
    place: DocumentHome,
    doc: Document,
    relative_path: str,
    environ: Mapping[str, str],
    file_values: Mapping[str, Any] | None = None,
    *,
    plan: bool = False,
) -> Prepared:
    """Validate a request for a document already located and parsed (see ``prepare``).

    ``plan``: a secret that is not set, or a required secret input that is not given, is
    listed in ``missing_secrets`` / ``missing_secret_inputs`` instead of refused, and the
    placeholder ``<secret NAME>`` stands in for its value (neither ever enters a template,
    so the plan renders as the run would)."""
    check_status(doc, request)
    check_manual_steps(doc, request)
    unattended = request.trigger is not Trigger.MANUAL and doc.triggers is not None
    settings = place.settings
    inputs = document.resolve_inputs(
        _secret_inputs_optional(doc) if plan else doc,
        cli_pairs=request.cli_inputs,
        file_values=file_values,
        extra=doc.triggers.inputs if unattended and doc.triggers else None,
        submitted=request.supplied_inputs,
        source="<request>" if request.trigger is Trigger.API else "<command line>",
        limits=document.InputLimits(
            settings.max_input_bytes, settings.max_input_total_bytes, settings.max_request_bytes
        ),
        hidden=[environ[name] for name in doc.secrets if environ.get(name)],
    )
    missing_inputs = tuple(
        decl.name
        for decl in doc.inputs
        if decl.secret and decl.required and decl.name not in inputs
    )
    for name in missing_inputs:
        inputs[name] = f"<secret {name}>"
    missing = [name for name in doc.secrets if not environ.get(name) and not request.for_broker]
    if missing and not plan:
        raise DocumentError(
            Diagnostic(
                str(doc.path),
                doc.line_of("secrets"),
                1,
                f"secret {name} is not set: export it in the environment that runs orch",
            )
            for name in missing
        )
    secret_inputs = frozenset(decl.name for decl in doc.inputs if decl.secret)
    secret_values = [environ[name] for name in doc.secrets if environ.get(name)]
    environ = {**environ, **{name: f"<secret {name}>" for name in missing}}
    for name in secret_inputs:
        if inputs.get(name) is not None and name not in missing_inputs:
            secret_values += document.secret_texts(inputs[name])
    return Prepared(
        request=request,
        place=place,
        document=doc,
        relative_path=relative_path,
        inputs=inputs,
        masker=Masker(secret_values),
        environ=dict(environ),
        workdir=(request.workdir or place.root).resolve(),
        secret_inputs=secret_inputs,
        missing_secrets=tuple(missing),
        missing_secret_inputs=missing_inputs,
    )


def _secret_inputs_optional(doc: Document) -> Document:
    """``doc`` with its secret inputs not required (a plan runs without them)."""
    inputs = tuple(
        dataclasses.replace(decl, required=False) if decl.secret else decl for decl in doc.inputs
    )
    return dataclasses.replace(doc, inputs=inputs)


def check_status(doc: Document, request: RunRequest) -> None:
    """Refuse a run the document's governance status does not allow."""
    status = doc.status
    line = doc.line_of("status")
    message = None
    if status in (DocumentStatus.REJECTED, DocumentStatus.SUPERSEDED):
        message = f"the document is {status.value} and never runs"
    elif status is not DocumentStatus.APPROVED:
        if request.trigger is not Trigger.MANUAL:
            message = f"the document is {status.value}: only approved documents run unattended"
        elif not request.allow_draft:
            message = (
                f"the document is {status.value}, not approved: "
                "run it by hand with --allow-draft, or get it approved"
            )
    if message is not None:
        raise DocumentError([Diagnostic(str(doc.path), line, 1, message)])


def check_manual_steps(doc: Document, request: RunRequest) -> None:
    """``--confirm`` names manual steps; a run that can neither ask a person nor wait for
    one does not start when a manual step is not confirmed in advance (nothing runs)."""
    manual = {step.name for step in doc.steps if step.kind is StepKind.MANUAL}
    problems = [
        Diagnostic(
            str(doc.path),
            1,
            1,
            f"--confirm {name}: the document has no manual step '{name}'"
            + (f" (its manual steps: {', '.join(sorted(manual))})" if manual else ""),
        )
        for name in sorted(request.confirmed - manual)
    ]
    if not request.interactive and not request.waits:
        problems += [
            Diagnostic(
                str(doc.path),
                step.line,
                1,
                f"manual step '{step.name}' needs a person to confirm it, and this run cannot "
                f"ask one (no terminal): confirm it in advance with --confirm {step.name}",
            )
            for step in doc.steps
            if step.kind is StepKind.MANUAL
            and step.name not in request.confirmed
            and step.name not in request.taken_over
        ]
    if problems:
        raise DocumentError(problems)
