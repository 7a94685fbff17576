"""Git hooks: installing orch's hook scripts, checking staged documents, and choosing which
approved documents a commit or a merge runs.

This package knows git and documents; running the chosen documents is the job of
``orchestrator.api.hooks``, which sits above it.
"""

from orchestrator.hooks.background import DETACH_VARIABLE, spawn
from orchestrator.hooks.documents import Parsed, check_staged, documents_at
from orchestrator.hooks.install import (
    BACKUP_SUFFIX,
    HOOK_NAMES,
    MARKER,
    Change,
    hooks_dir,
    install,
    is_orchs,
    script,
    uninstall,
)
from orchestrator.hooks.repository import commit_author, diff_names, rebasing, resolve
from orchestrator.hooks.select import changed_documents, is_intent_path

__all__ = [
    "BACKUP_SUFFIX",
    "DETACH_VARIABLE",
    "HOOK_NAMES",
    "MARKER",
    "Change",
    "Parsed",
    "changed_documents",
    "check_staged",
    "commit_author",
    "diff_names",
    "documents_at",
    "hooks_dir",
    "install",
    "is_intent_path",
    "is_orchs",
    "rebasing",
    "resolve",
    "script",
    "spawn",
    "uninstall",
]
