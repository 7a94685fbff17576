"""The run trace: run folders committed to a git branch, and read back from it.

The only package of orch that talks to git. It stores and reads run folders
(``runs/<workflow-id>/<run-id>/``) and knows nothing of how runs execute.
"""

from orchestrator.trace.gitcmd import git_environment
from orchestrator.trace.reader import TraceReader
from orchestrator.trace.repo import (
    blob_id_of_text,
    changed_files,
    file_commit,
    head_and_blob,
    head_commit,
    is_dirty,
    own_trace_repository,
    repo_root,
    trace_repository_for,
    worktree_add,
    worktree_remove,
)
from orchestrator.trace.writer import RunFiles, TracePushError, TraceWriter, encode_record

__all__ = [
    "RunFiles",
    "TracePushError",
    "TraceReader",
    "TraceWriter",
    "blob_id_of_text",
    "changed_files",
    "encode_record",
    "file_commit",
    "git_environment",
    "head_and_blob",
    "head_commit",
    "is_dirty",
    "own_trace_repository",
    "repo_root",
    "trace_repository_for",
    "worktree_add",
    "worktree_remove",
]
