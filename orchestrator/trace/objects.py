"""Git's object database and refs, read and written without a work tree or an index.

Loose objects are read directly; packed ones (and alternates) through ``git cat-file
--batch``, many in one process: git resolves a pack's delta chains in C with its own cache,
where a pure-Python reader spent seconds per thousand runs. Objects are written as loose
objects in git's own format, so writing a trace commit starts no git process except the
final compare-and-swap ``git update-ref``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from orchestrator.errors import TraceError, describe_os_error
from orchestrator.trace.gitcmd import ORCH_EMAIL, ORCH_NAME, GitFailed, run_git

TREE_MODE = b"40000"
BLOB_MODE = b"100644"
ZERO_ID = "0" * 40


class Entry(NamedTuple):
    """One tree entry: ``mode`` as git writes it (``40000`` for trees), name, hex id."""

    mode: bytes
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


_ENTRY = re.compile(rb"([0-7]+) ([^\0]+)\0(.{20})", re.DOTALL)
_OBJECT_NAME = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})(?::[^\n]+)?")


def _sort_key(entry: Entry) -> str:
    return entry.name + "/" if entry.mode == TREE_MODE else entry.name


def serialise_tree(entries: list[Entry]) -> bytes:
    """Git's tree format, entries in git's order (a folder sorts as if named ``name/``)."""
    return b"".join(
        [
            b"%s %s\0%s" % (e.mode, e.name.encode("utf-8", "surrogateescape"), bytes.fromhex(e.sha))
            for e in sorted(entries, key=_sort_key)
        ]
    )


def _level(size: int) -> int:
    """zlib level of a loose object: large ones (a workflow's tree of thousands of runs) are
    stored, not deflated. Deflating them costs milliseconds per commit, growing with the
    runs, and is wasted work: git's next pack stores consecutive versions as small deltas."""
    return 0 if size > 64 * 1024 else 1


def parse_tree(data: bytes) -> list[Entry]:
    raw: list[tuple[bytes, bytes, bytes]] = _ENTRY.findall(data)
    if sum(len(mode) + len(name) + 22 for mode, name, _ in raw) != len(data):
        raise TraceError("malformed tree object in the trace")
    return [
        Entry(mode, name.decode("utf-8", "surrogateescape"), sha.hex()) for mode, name, sha in raw
    ]


_PACKED_KEPT = 256


class ObjectStore:
    """Objects and refs of one repository, given its common git directory."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir
        self.objects_dir = git_dir / "objects"
        # Packed objects read one at a time, by id: an object never changes, and each read
        # costs a git process (the tip commit and the top trees are read by several callers).
        self._packed: dict[str, tuple[str, bytes]] = {}

    # objects ------------------------------------------------------------------------------

    def _read_loose(self, sha: str) -> tuple[str, bytes] | None:
        try:
            # A plain string path: a listing tries thousands of objects that are packed.
            with open(f"{self.objects_dir}/{sha[:2]}/{sha[2:]}", "rb") as handle:
                raw = zlib.decompress(handle.read())
        except (OSError, zlib.error):
            return None
        header, _, content = raw.partition(b"\0")
        kind, _, size = header.partition(b" ")
        if not size.isdigit() or int(size) != len(content):
            return None
        return kind.decode(), content

    def read(self, sha: str) -> tuple[str, bytes]:
        """(type, content) of object ``sha``: loose objects directly, packed ones through git."""
        loose = self._read_loose(sha)
        if loose is not None:
            return loose
        found = self._packed.get(sha)
        if found is None:
            (found,) = self.read_many([sha])
            if found is None:
                raise TraceError(f"cannot read object {sha} in {self.git_dir}: it does not exist")
            if len(self._packed) >= _PACKED_KEPT:
                self._packed.clear()
            self._packed[sha] = found
        return found

    def read_many(self, names: Sequence[str]) -> list[tuple[str, bytes] | None]:
        """(type, content) of each named object, None for a missing one. A name is an object
        id (read directly when loose) or ``<tree id>:<path>``; the rest are read through one
        ``git cat-file --batch``."""
        found: list[tuple[str, bytes] | None] = [
            None if ":" in name else self._read_loose(name) for name in names
        ]
        wanted = [i for i, hit in enumerate(found) if hit is None]
        if not wanted:
            return found
        # Only ids and paths below an id: git would read anything else (``HEAD~2``, ``@{1}``)
        # as a revision, and a damaged ref must not name objects that way.
        wrong = [names[i] for i in wanted if not _OBJECT_NAME.fullmatch(names[i])]
        if wrong:
            raise TraceError(f"not an object id in {self.git_dir}: {wrong[0]!r}")
        request = "".join(f"{names[i]}\n" for i in wanted).encode("utf-8", "surrogateescape")
        answer = run_git("cat-file", "--batch", git_dir=self.git_dir, stdin=request)
        at = 0
        for i in wanted:
            end = answer.find(b"\n", at)
            header = answer[at:end].split(b" ")
            if end >= 0 and header[-1] in (b"missing", b"ambiguous"):
                at = end + 1
                continue
            if end < 0 or len(header) != 3 or not header[2].isdigit():
                raise TraceError(f"git cat-file gave no object for {names[i]!r} in {self.git_dir}")
            size = int(header[2])
            found[i] = (header[1].decode(), answer[end + 1 : end + 1 + size])
            at = end + 1 + size + 1
        return found

    def read_typed(self, sha: str, kind: str) -> bytes:
        actual, data = self.read(sha)
        if actual != kind:
            raise TraceError(f"object {sha} in {self.git_dir} is a {actual}, expected a {kind}")
        return data

    def read_tree(self, sha: str) -> list[Entry]:
        return parse_tree(self.read_typed(sha, "tree"))

    def read_loose_tree(self, sha: str) -> list[Entry] | None:
        """A tree's entries when it is a loose object, else None (no git process)."""
        loose = self._read_loose(sha)
        return parse_tree(loose[1]) if loose is not None and loose[0] == "tree" else None

    def write(self, kind: str, data: bytes) -> str:
        """Store an object as a loose object (unless present); return its id."""
        raw = kind.encode() + b" %d\0" % len(data) + data
        sha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        folder = self.objects_dir / sha[:2]
        target = folder / sha[2:]
        if target.exists():
            return sha
        tmp = folder / f"tmp_obj_{os.getpid()}_{secrets.token_hex(6)}"
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            except FileNotFoundError:
                folder.mkdir(exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(zlib.compress(raw, _level(len(raw))))
                tmp.replace(target)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        except OSError as exc:
            doing = "writing the trace's object database"
            raise TraceError(describe_os_error(exc, doing, self.objects_dir)) from exc
        return sha

    def write_tree(self, entries: list[Entry]) -> str:
        return self.write("tree", serialise_tree(entries))

    # refs ---------------------------------------------------------------------------------

    def read_ref(self, refname: str) -> str | None:
        """The id ``refname`` (a full ``refs/...`` name) points at, or None."""
        for _ in range(5):
            loose = self.git_dir / refname
            try:
                text = loose.read_text().strip()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return self._packed_refs().get(refname)
            except OSError as exc:
                raise TraceError(f"cannot read ref {refname} in {self.git_dir}: {exc}") from exc
            if not text.startswith("ref: "):
                return text
            refname = text[5:].strip()
        raise TraceError(f"ref {refname} in {self.git_dir} is a loop of symbolic refs")

    def _packed_refs(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        try:
            lines = (self.git_dir / "packed-refs").read_text().splitlines()
        except FileNotFoundError:
            return refs
        for line in lines:
            if not line or line[0] in "#^":
                continue
            sha, _, name = line.partition(" ")
            refs[name.strip()] = sha
        return refs

    def list_refs(self, prefix: str) -> dict[str, str]:
        """Every ref under ``prefix`` (e.g. ``refs/remotes/``), loose ones winning over packed."""
        refs = {n: s for n, s in self._packed_refs().items() if n.startswith(prefix)}
        base = self.git_dir / prefix
        if base.is_dir():
            for path in base.rglob("*"):
                if path.is_file() and not path.name.endswith(".lock"):
                    text = path.read_text().strip()
                    if not text.startswith("ref: "):
                        refs[path.relative_to(self.git_dir).as_posix()] = text
        return refs

    def update_ref(self, refname: str, new: str, old: str | None, message: str) -> bool:
        """Compare-and-swap ``refname`` from ``old`` (None: must not exist) to ``new``.

        Returns False when another process moved the ref (or holds its lock) first.
        """
        try:
            run_git("update-ref", "-m", message, refname, new, old or ZERO_ID, git_dir=self.git_dir)
        except GitFailed as exc:
            if self.read_ref(refname) != old or "File exists" in exc.stderr:
                return False
            if "No space left on device" in exc.stderr:
                raise TraceError(
                    f"no space left on device while updating {refname} ({self.git_dir})"
                ) from exc
            raise TraceError(
                f"cannot update {refname} in {self.git_dir}: {exc.stderr.strip()}"
            ) from exc
        return True


def edit_tree(
    store: ObjectStore, tree: str | None, edits: dict[tuple[str, ...], Entry | None]
) -> str | None:
    """Write a tree equal to ``tree`` with ``edits`` ({path: entry or None to delete}) applied.

    Only the trees on the edited paths are read and rewritten; every other subtree is reused
    by id. Returns None when the result is empty (empty folders do not exist in git).
    """
    if tree and len(edits) == 1:
        ((path, value),) = edits.items()
        if len(path) == 1:
            spliced = _splice_uniform(store.read_typed(tree, "tree"), path[0], value)
            if spliced is not None:
                return store.write("tree", spliced) if spliced else None
    entries = {e.name: e for e in store.read_tree(tree)} if tree else {}
    nested: dict[str, dict[tuple[str, ...], Entry | None]] = {}
    for path, value in edits.items():
        if len(path) == 1:
            if value is None:
                entries.pop(path[0], None)
            else:
                entries[path[0]] = Entry(value.mode, path[0], value.sha)
        else:
            nested.setdefault(path[0], {})[path[1:]] = value
    for name, sub_edits in nested.items():
        child = entries.get(name)
        if child is not None and not child.is_tree:
            raise TraceError(f"cannot write below {name!r}: it is a file, not a folder")
        new = edit_tree(store, child.sha if child else None, sub_edits)
        if new is None:
            entries.pop(name, None)
        else:
            entries[name] = Entry(TREE_MODE, name, new)
    if not entries:
        return None
    return store.write_tree(list(entries.values()))


def _splice_uniform(data: bytes, name: str, entry: Entry | None) -> bytes | None:
    """Set or remove one entry of a tree whose entries all have the same size, in place.

    A workflow's folder holds one folder per run, and run ids have one length, so its tree is
    an array of equal records in name order: a binary search finds the place, and the cost
    stays flat as runs accumulate. Returns None when the tree is not of that shape (the
    caller then takes the general path), ``b""`` when the tree becomes empty.
    """
    encoded = name.encode("utf-8", "surrogateescape")
    first_space, first_nul = data.find(b" "), data.find(b"\0")
    if first_space < 0 or first_nul < first_space:
        return None
    size = first_nul + 21
    count, rest = divmod(len(data), size)
    if rest or first_nul - first_space - 1 != len(encoded):
        return None
    if data[first_nul::size] != b"\0" * count or data[first_space::size] != b" " * count:
        return None
    record = None
    if entry is not None:
        if len(entry.mode) != first_space:
            return None
        record = entry.mode + b" " + encoded + b"\0" + bytes.fromhex(entry.sha)
    low, high = 0, count
    while low < high:
        middle = (low + high) // 2
        start = middle * size + first_space + 1
        if data[start : start + len(encoded)] < encoded:
            low = middle + 1
        else:
            high = middle
    at = low * size
    found = low < count and data[at + first_space + 1 : at + first_nul] == encoded
    tail = data[at + size :] if found else data[at:]
    return data[:at] + (record or b"") + tail


def lookup(store: ObjectStore, tree: str, path: tuple[str, ...]) -> Entry | None:
    """The entry at ``path`` below ``tree``, or None."""
    entry: Entry | None = None
    for i, name in enumerate(path):
        found = [e for e in store.read_tree(tree) if e.name == name]
        if not found:
            return None
        entry = found[0]
        if i < len(path) - 1:
            if not entry.is_tree:
                return None
            tree = entry.sha
    return entry


def commit_tree_id(store: ObjectStore, commit: str) -> str:
    """The root tree of ``commit`` (which must be a commit object)."""
    data = store.read_typed(commit, "commit")
    first = data.split(b"\n", 1)[0]
    if not first.startswith(b"tree "):
        raise TraceError(f"commit {commit} in {store.git_dir} is malformed")
    return first[5:].decode().strip()


def _identity(name: str, email: str) -> bytes:
    clean_name = "".join(c for c in name if c not in "<>\n\r\0").strip() or ORCH_NAME
    clean_email = "".join(c for c in email if c not in "<>\n\r\0 ").strip() or ORCH_EMAIL
    return f"{clean_name} <{clean_email}>".encode()


def write_commit(
    store: ObjectStore,
    tree: str,
    parents: Sequence[str],
    message: bytes,
    author: tuple[str, str] | None = None,
) -> str:
    """Write a commit object (committer: orch; author: ``author`` or orch); its id."""
    stamp = f"{int(time.time())} +0000".encode()
    who = _identity(*author) if author else _identity(ORCH_NAME, ORCH_EMAIL)
    lines = [b"tree " + tree.encode()]
    lines += [b"parent " + p.encode() for p in parents]
    lines.append(b"author " + who + b" " + stamp)
    lines.append(b"committer " + _identity(ORCH_NAME, ORCH_EMAIL) + b" " + stamp)
    return store.write("commit", b"\n".join(lines) + b"\n\n" + message)
