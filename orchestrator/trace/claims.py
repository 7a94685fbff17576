"""Claims on the trace remote: of all hosts pushing one trace, one takes each name.

A claim is a ref ``refs/orch/claims/[<prefix>/]<workflow>/<name>`` created on the remote by
``git push --force-with-lease=<ref>:``. The empty lease means "the ref must not exist yet";
the remote's ``receive-pack`` checks that and creates the ref under its ref lock, so when
several hosts push the same claim exactly one succeeds. The ref points at a commit with an
empty tree whose message says who claimed it, so ``git ls-remote`` and ``git log`` show which
host took which time.
"""

from __future__ import annotations

import logging
import os
import secrets

from orchestrator.errors import TraceError
from orchestrator.process import host_name
from orchestrator.trace.gitcmd import GitFailed, run_git
from orchestrator.trace.layout import check_name
from orchestrator.trace.writer import TraceWriter

log = logging.getLogger(__name__)

CLAIMS = "refs/orch/claims"
NETWORK_TIMEOUT = 60.0


def claims_prefix(writer: TraceWriter, workflow_id: str) -> str:
    """The ref folder holding one workflow's claims (the trace prefix included)."""
    parts = [CLAIMS, writer.prefix, check_name(workflow_id, "workflow id")]
    return "/".join(part for part in parts if part)


def claim(writer: TraceWriter, workflow_id: str, name: str, purpose: str) -> bool:
    """Create the claim ``name`` of ``workflow_id`` on ``writer.remote``.

    True when this process created it, False when it already existed (another host took
    it). Raises :class:`TraceError` when the remote could not be asked; the caller must
    then not act as if it held the claim.
    """
    remote = writer.remote
    if not remote:
        raise TraceError("claims need a trace remote (trace-remote / ORCH_TRACE_REMOTE)")
    ref = f"{claims_prefix(writer, workflow_id)}/{check_name(name, 'claim name')}"
    message = f"orch claim: {workflow_id} {name}\n\n{purpose}\nHost: {host_name()}\n"
    # The nonce keeps two claimants' commits distinct even with the same host name, process
    # id and second: pushing the very commit a ref already holds would "succeed" for both.
    message += f"Process: {os.getpid()}\nNonce: {secrets.token_hex(8)}\n"
    tree = writer.store.write("tree", b"")
    commit = writer.write_commit(tree, [], message.encode())
    try:
        run_git(
            "push",
            "--quiet",
            "--no-verify",
            f"--force-with-lease={ref}:",
            remote,
            f"{commit}:{ref}",
            git_dir=writer.git_dir,
            timeout=NETWORK_TIMEOUT,
        )
        return True
    except GitFailed as failed:
        refused = failed.stderr.strip()
    try:
        existing = run_git(
            "ls-remote", remote, ref, git_dir=writer.git_dir, timeout=NETWORK_TIMEOUT
        )
    except GitFailed as exc:
        raise TraceError(
            f"could not claim {ref} on the trace remote {remote!r}: {refused or exc.stderr.strip()}"
        ) from None
    if existing.strip():
        return False
    raise TraceError(f"the trace remote {remote!r} refused the claim {ref}: {refused}")


def prune(writer: TraceWriter, workflow_id: str, older_than: str) -> None:
    """Delete the workflow's claims on the remote whose names sort before ``older_than``.

    Best effort: a failure is logged and the claims stay until the next prune.
    """
    remote = writer.remote
    if not remote:
        return
    folder = claims_prefix(writer, workflow_id)
    try:
        listed = run_git(
            "ls-remote", remote, f"{folder}/*", git_dir=writer.git_dir, timeout=NETWORK_TIMEOUT
        )
        old = [
            ref
            for ref in (line.split("\t", 1)[-1] for line in listed.decode().splitlines())
            if ref.startswith(f"{folder}/") and ref.removeprefix(f"{folder}/") < older_than
        ]
        if old:
            run_git(
                "push",
                "--quiet",
                "--no-verify",
                remote,
                *(f":{ref}" for ref in old),
                git_dir=writer.git_dir,
                timeout=NETWORK_TIMEOUT,
            )
    except TraceError as exc:
        log.warning("could not prune old claims of %s on %s: %s", workflow_id, remote, exc)
