"""Two prototype trace writers, measured against orch's ``TraceWriter`` by ``bench_trace.py``.

Each commits a run folder the way ``TraceWriter.commit_run`` does, on the same branch layout
(``runs/<workflow>/<run-id>/`` and ``open-runs.json``), and moves the branch by a
compare-and-swap, retrying on the new tip when another process moved it first:

- ``pygit2`` (libgit2): objects through libgit2's object database (loose objects, packs read
  in C), trees by ``TreeBuilder``, the branch by ``Reference.set_target`` (libgit2's
  ``git_reference_create_matching``: fails when the ref no longer has the value it was read
  with) or ``references.create`` without ``force`` for the first commit.
- ``dulwich``: objects through dulwich's ``DiskObjectStore``, trees as ``Tree`` objects, the
  branch by ``refs.set_if_equals`` (``add_if_new`` for the first commit).

Neither touches a work tree, an index or HEAD. They are prototypes for the measurement: no
checks of names, of the branch being an orch trace, no pushing or packing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.trace.layout import OPEN_RUNS, RUNS, TERMINAL_STATES, encode_open_runs, open_entry

REF = "refs/heads/orch-trace"
NAME, EMAIL = "orch", "orch@localhost"


def _message(workflow: str, run_id: str, state: str) -> str:
    return (
        f"orch: {workflow} {run_id} {state}\n\nOrch-Workflow: {workflow}\nOrch-Run: {run_id}\n"
        f"Orch-State: {state}\n"
    )


def _open_change(files: Mapping[str, bytes], state: str) -> dict[str, Any] | None:
    if state in TERMINAL_STATES:
        return None
    return open_entry(json.loads(files["run.json"]), state)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.001, 0.004) * min(attempt + 1, 10))


class PygitWriter:
    def __init__(self, git_dir: Path) -> None:
        import pygit2

        self.pygit2 = pygit2
        self.repo = pygit2.Repository(str(git_dir))

    def _folder(self, files: Mapping[str, bytes]) -> Any:
        pygit2, repo = self.pygit2, self.repo
        nested: dict[str, dict[str, bytes]] = {}
        builder = repo.TreeBuilder()
        for relpath, data in files.items():
            head, _, rest = relpath.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = data
            else:
                builder.insert(head, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
        for name, sub in nested.items():
            builder.insert(name, self._folder(sub), pygit2.GIT_FILEMODE_TREE)
        return builder.write()

    def commit_run(
        self, workflow: str, run_id: str, files: Mapping[str, bytes], *, state: str
    ) -> str:
        pygit2, repo = self.pygit2, self.repo
        folder = self._folder(files)
        change = _open_change(files, state)
        message = _message(workflow, run_id, state)
        for attempt in range(50):
            ref = repo.references.get(REF)
            parents = []
            root_builder, runs_builder, wf_builder = repo.TreeBuilder(), None, None
            open_runs: dict[str, Any] = {}
            if ref is not None:
                tip = repo[ref.target]
                parents = [tip.id]
                root = tip.tree
                root_builder = repo.TreeBuilder(root)
                runs = root[RUNS]
                runs_builder = repo.TreeBuilder(runs)
                if workflow in runs:
                    wf_builder = repo.TreeBuilder(runs[workflow])
                if OPEN_RUNS in root:
                    open_runs = json.loads(root[OPEN_RUNS].data).get("runs", {})
            runs_builder = runs_builder or repo.TreeBuilder()
            wf_builder = wf_builder or repo.TreeBuilder()
            wf_builder.insert(run_id, folder, pygit2.GIT_FILEMODE_TREE)
            runs_builder.insert(workflow, wf_builder.write(), pygit2.GIT_FILEMODE_TREE)
            key = f"{workflow}/{run_id}"
            if change is None:
                open_runs.pop(key, None)
            else:
                open_runs[key] = change
            blob = repo.create_blob(encode_open_runs(open_runs))
            root_builder.insert(RUNS, runs_builder.write(), pygit2.GIT_FILEMODE_TREE)
            root_builder.insert(OPEN_RUNS, blob, pygit2.GIT_FILEMODE_BLOB)
            who = pygit2.Signature(NAME, EMAIL, int(time.time()), 0)
            commit = repo.create_commit(None, who, who, message, root_builder.write(), parents)
            try:
                if ref is None:
                    repo.references.create(REF, commit, force=False)
                else:
                    ref.set_target(commit, f"orch: {REF}")
            except (pygit2.GitError, OSError, ValueError, pygit2.AlreadyExistsError):
                _backoff(attempt)  # moved by another writer, or its lock is held
                continue
            return str(commit)
        raise RuntimeError("the branch kept moving")


class DulwichWriter:
    def __init__(self, git_dir: Path) -> None:
        from dulwich import objects
        from dulwich.file import FileLocked
        from dulwich.repo import Repo

        self.objects = objects
        self.FileLocked = FileLocked
        self.repo = Repo(str(git_dir))
        self.store = self.repo.object_store

    def _folder(self, files: Mapping[str, bytes], new: list[Any]) -> bytes:
        objects = self.objects
        nested: dict[str, dict[str, bytes]] = {}
        tree = objects.Tree()
        for relpath, data in files.items():
            head, _, rest = relpath.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = data
            else:
                blob = objects.Blob.from_string(data)
                new.append(blob)
                tree.add(head.encode(), 0o100644, blob.id)
        for name, sub in nested.items():
            tree.add(name.encode(), 0o040000, self._folder(sub, new))
        new.append(tree)
        return tree.id  # type: ignore[no-any-return]

    def _tree(self, sha: bytes | None) -> Any:
        if sha is None:
            return self.objects.Tree()
        return self.objects.Tree.from_string(self.store[sha].as_raw_string())

    def commit_run(
        self, workflow: str, run_id: str, files: Mapping[str, bytes], *, state: str
    ) -> str:
        objects, store, refs = self.objects, self.store, self.repo.refs
        new: list[Any] = []
        folder = self._folder(files, new)
        store.add_objects([(obj, None) for obj in new])
        change = _open_change(files, state)
        message = _message(workflow, run_id, state).encode()
        ref = REF.encode()
        wf_name, runs_name = workflow.encode(), RUNS.encode()
        for attempt in range(50):
            try:
                old: bytes | None = refs[ref]
            except KeyError:
                old = None
            root, runs_tree, wf_tree = self._tree(None), self._tree(None), self._tree(None)
            open_runs: dict[str, Any] = {}
            if old is not None:
                root = self._tree(store[old].tree)
                runs_tree = self._tree(root[runs_name][1])
                if wf_name in runs_tree:
                    wf_tree = self._tree(runs_tree[wf_name][1])
                if OPEN_RUNS.encode() in root:
                    blob = store[root[OPEN_RUNS.encode()][1]]
                    open_runs = json.loads(blob.data).get("runs", {})
            wf_tree.add(run_id.encode(), 0o040000, folder)
            runs_tree.add(wf_name, 0o040000, wf_tree.id)
            key = f"{workflow}/{run_id}"
            if change is None:
                open_runs.pop(key, None)
            else:
                open_runs[key] = change
            blob = objects.Blob.from_string(encode_open_runs(open_runs))
            root.add(runs_name, 0o040000, runs_tree.id)
            root.add(OPEN_RUNS.encode(), 0o100644, blob.id)
            commit = objects.Commit()
            commit.tree = root.id
            commit.parents = [old] if old is not None else []
            commit.author = commit.committer = f"{NAME} <{EMAIL}>".encode()
            commit.author_time = commit.commit_time = int(time.time())
            commit.author_timezone = commit.commit_timezone = 0
            commit.message = message
            store.add_objects([(obj, None) for obj in (wf_tree, runs_tree, blob, root, commit)])
            try:
                if old is None:
                    moved = refs.add_if_new(ref, commit.id, message=b"orch: " + ref)
                else:
                    moved = refs.set_if_equals(ref, old, commit.id, message=b"orch: " + ref)
            except self.FileLocked:  # another writer holds the lock: not a False, an error
                moved = False
            if moved:
                return commit.id.decode()  # type: ignore[no-any-return]
            _backoff(attempt)
        raise RuntimeError("the branch kept moving")


WRITERS = {"pygit2": PygitWriter, "dulwich": DulwichWriter}
