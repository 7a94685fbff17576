"""Which exception becomes which message: every way the apply flow met an exception it did not
expect (``internal error ... This is a bug in orch``, exit 70) now ends in orch's own message.

Each row names the exception orch meets, triggers it for real (``orch apply`` as a process on
a real repository) and asserts the exact message and exit code: 2 when the problem is found
before anything runs (the message names the document line), 1 when a step fails with it.

Running out of space (``OSError`` ENOSPC) anywhere is mapped by ``test_full_disk.py`` (the
step's log, TMPDIR, the trace's object database, the outbox, the local store, before the
start); two rows here repeat the ones that need only TMPDIR or ``.orch`` on a small disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.runner.files import Moved, write_beneath
from tests.core.helpers import commit_documents, document, orch
from tests.hostile.disk import fill, small_disk

HUGE = "7" * 5000


@dataclass(frozen=True)
class Row:
    """One exception orch meets, how to meet it, and what orch says instead."""

    exception: str
    front: str
    body: str
    args: tuple[str, ...] = ()
    code: int = 2
    # One line of stderr, exactly; {root} is the repository, {outside} a folder outside it.
    message: str = ""
    # Or a regular expression one line must match entirely (for random parts of paths).
    pattern: str = ""
    # Prepares the repository (after the documents are committed); may return extra env.
    setup: Callable[[Path, Path], dict[str, str]] = field(default=lambda repo, outside: {})
    needs_small_disk: bool = False


def _front(extra: str = "") -> str:
    return "id: demo\ntitle: Demo\nstatus: approved\n" + extra


def _step(attrs: str, script: str, language: str = "bash") -> str:
    return f"```{language} {{{attrs}}}\n{script}\n```\n"


def _write(relative: str, text: str) -> Callable[[Path, Path], dict[str, str]]:
    def setup(repo: Path, outside: Path) -> dict[str, str]:
        target = repo / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return {}

    return setup


def _mkdir(relative: str) -> Callable[[Path, Path], dict[str, str]]:
    def setup(repo: Path, outside: Path) -> dict[str, str]:
        (repo / relative).mkdir(parents=True)
        return {}

    return setup


def _interpreter(repo: Path, outside: Path) -> dict[str, str]:
    program = repo / "myinterp"
    program.write_text('#!/bin/sh\nexec python3 "$@"\n')
    program.chmod(0o755)
    return {}


def _small_tmpdir(repo: Path, outside: Path) -> dict[str, str]:
    return {"TMPDIR": str(outside)}


def _full_state_dir(repo: Path, outside: Path) -> dict[str, str]:
    fill(repo / ".orch")
    return {}


INTEGER_INPUT = "inputs:\n  n:\n    type: integer\n    default: 1\n"
ONE_STEP = "# Demo\n\n" + _step("step=a", "echo hi")

ROWS: dict[str, Row] = {
    "a timeout past what select() takes": Row(
        exception="OverflowError: timestamp out of range for platform time_t",
        front=_front(),
        body="# Demo\n\n" + _step("step=a timeout=99999999999999999999999h", "echo hi"),
        message="intents/demo.md:9:1: step 'a': timeout '99999999999999999999999h' is longer "
        "than the maximum of 168h (7 days)",
    ),
    "a default timeout past what select() takes": Row(
        exception="OverflowError: timestamp out of range for platform time_t",
        front=_front("defaults:\n  timeout: 1e300\n"),
        body=ONE_STEP,
        message="intents/demo.md:11:1: step 'a': its timeout (defaults.timeout) is longer than "
        "the maximum of 168h (7 days)",
    ),
    "a retry delay past what sleep() takes": Row(
        exception="OverflowError: timestamp too large to convert to C _PyTime_t",
        front=_front(),
        body="# Demo\n\n" + _step("step=a retries=1 retry_delay=99999999999999h", "false"),
        message="intents/demo.md:9:1: step 'a': retry_delay '99999999999999h' is longer than "
        "the maximum of 168h (7 days)",
    ),
    "retries of 5,000 digits": Row(
        exception="ValueError: Exceeds the limit (4300 digits) for integer string conversion",
        front=_front(),
        body="# Demo\n\n" + _step(f"step=a retries={HUGE}", "echo hi"),
        message="intents/demo.md:9:1: step 'a': retries 77777777777777777777… is more than "
        "the maximum of 100",
    ),
    "a health timeout past what the clock takes": Row(
        exception="OverflowError (time arithmetic of the poll's deadline)",
        front=_front(),
        body="# Demo\n\n"
        + _step(
            "step=h", "url: http://127.0.0.1:9/\nexpect: {}\ntimeout: 99999999999999h", "health"
        ),
        message="intents/demo.md:12:1: step 'h': timeout '99999999999999h' is longer than the "
        "maximum of 168h (7 days)",
    ),
    "a health url that is no URL": Row(
        exception="httpx.InvalidURL: Invalid IPv6 URL",
        front=_front(),
        body="# Demo\n\n" + _step("step=h", "url: http://[::1\nexpect: {}", "health"),
        message="intents/demo.md:10:1: step 'h': url 'http://[::1' is not a usable address: "
        "Invalid IPv6 URL",
    ),
    "a health url that renders to no URL": Row(
        exception="httpx.InvalidURL: Invalid port",
        front=_front("inputs:\n  host:\n    type: string\n    default: x\n"),
        body="# Demo\n\n"
        + _step("step=h", 'url: "http://{{ inputs.host }}/"\nexpect: {}\ntimeout: 1s', "health"),
        args=("-i", "host=[::1"),
        code=1,
        message="failed step 'h': url 'http://[::1/' is not a usable address: Invalid port: ':1'",
    ),
    "an integer input of 5,000 digits": Row(
        exception="ValueError: Exceeds the limit (4300 digits) for integer string conversion",
        front=_front(INTEGER_INPUT),
        body=ONE_STEP,
        args=("-i", f"n={HUGE}"),
        message="intents/demo.md:6:1: input 'n': a whole number of more than 4300 digits cannot "
        "be read: declare the input as a string to pass such a value",
    ),
    "an input that looks like an impossible date": Row(
        exception="none since -i values are read with YAML 1.2's core schema, which has no "
        "dates (before: ValueError: month must be in 1..12)",
        front=_front(INTEGER_INPUT),
        body=ONE_STEP,
        args=("-i", "n=2026-13-45"),
        message="intents/demo.md:6:1: input 'n': '2026-13-45' is not of type 'integer'",
    ),
    "an inputs file with an integer of 5,000 digits": Row(
        exception="ValueError: Exceeds the limit (4300 digits) for integer string conversion",
        front=_front(INTEGER_INPUT),
        body=ONE_STEP,
        args=("--inputs", "in.json"),
        setup=_write("in.json", f'{{"n": {HUGE}}}'),
        message="in.json:1:1: in the inputs file: a whole number of more than 4300 digits "
        "cannot be read: declare the input as a string to pass such a value",
    ),
    "file= names a folder": Row(
        exception="IsADirectoryError: [Errno 21] Is a directory",
        front=_front(),
        body="# Demo\n\n" + _step("step=w file=sub", "hello", "text"),
        setup=_mkdir("sub"),
        message="intents/demo.md:9:1: step 'w': file=sub is a folder: a file step writes one "
        "file; name it, like sub/NAME",
    ),
    "cwd= names a file": Row(
        exception="NotADirectoryError: [Errno 20] Not a directory",
        front=_front(),
        body="# Demo\n\n" + _step("step=a cwd=README.md", "pwd"),
        message="intents/demo.md:9:1: step 'a': cwd=README.md is a file, not a folder",
    ),
    "an earlier step makes the file step's target a folder": Row(
        exception="IsADirectoryError: [Errno 21] Is a directory",
        front=_front(),
        body="# Demo\n\n"
        + _step("step=mk", "mkdir sub")
        + "\n"
        + _step("step=w file=sub", "hi", "text"),
        code=1,
        message="failed step 'w': sub is a folder: a file step writes one file; name it, "
        "like sub/NAME",
    ),
    "an earlier step makes cwd a symbolic link leading outside": Row(
        exception="orchestrator.paths.PathEscape (a ValueError) from the check at run time",
        front=_front(),
        body="# Demo\n\n"
        + _step("step=link", "rm -r sub && ln -s {outside} sub")
        + "\n"
        + _step("step=use cwd=sub", "touch escaped.txt"),
        setup=_mkdir("sub"),
        code=1,
        message="failed step 'use': cwd sub resolves outside the working tree {root}; the step "
        "did not run",
    ),
    "an earlier step swaps the file step's folder for a symbolic link leading outside": Row(
        exception="orchestrator.paths.PathEscape (a ValueError) from the check at run time",
        front=_front(),
        body="# Demo\n\n"
        + _step("step=swap", "rm -r out && ln -s {outside} out")
        + "\n"
        + _step("step=w file=out/escaped.txt", "written", "text"),
        setup=_mkdir("out"),
        code=1,
        message="failed step 'w': out/escaped.txt resolves outside the working tree {root}",
    ),
    "an earlier step removes cwd": Row(
        exception="FileNotFoundError: [Errno 2] No such file or directory (from Popen's chdir)",
        front=_front(),
        body="# Demo\n\n"
        + _step("step=rm", "rmdir gone")
        + "\n"
        + _step("step=use cwd=gone", "pwd"),
        setup=_mkdir("gone"),
        code=1,
        message="failed step 'use': cwd gone does not exist ({root}/gone); the step did not run",
    ),
    "a step replaces $ORCH_OUTPUT with a folder": Row(
        exception="IsADirectoryError: [Errno 21] Is a directory (reading the outputs)",
        front=_front(),
        body="# Demo\n\n" + _step("step=a", 'mkdir "$ORCH_OUTPUT"'),
        code=1,
        pattern=r"failed step 'a': is a directory while reading the outputs of step 'a' "
        r"\(/.+/orch-run-[^/]+/a\.output\)",
    ),
    "an earlier step removes the interpreter": Row(
        exception="FileNotFoundError: [Errno 2] No such file or directory (from Popen)",
        front=_front(),
        body="# Demo\n\n"
        + _step("step=rm", "rm myinterp")
        + "\n"
        + _step("step=py interpreter={root}/myinterp", "print(1)", "python"),
        setup=_interpreter,
        code=1,
        message="failed step 'py': could not start '{root}/myinterp': No such file or directory",
    ),
    "TMPDIR has no space for the step's script": Row(
        exception="OSError: [Errno 28] No space left on device",
        front=_front(),
        body="# Demo\n\n"
        + _step("step=fill", 'head -c 1M /dev/zero > "$TMPDIR/filler" 2>/dev/null || true')
        + "\n"
        + _step("step=next", "echo hi"),
        setup=_small_tmpdir,
        code=1,
        pattern=r"failed step 'next': no space left on device while writing the script of step "
        r"'next' \(.+/orch-run-[^/]+/next\.bash\)",
        needs_small_disk=True,
    ),
    "orch's own folder has no space before the run starts": Row(
        exception="OSError: [Errno 28] No space left on device",
        front=_front(),
        body=ONE_STEP,
        setup=_full_state_dir,
        pattern=r"orch: no space left on device while creating the run folder \(.+/\.orch/runs/"
        r"demo/\d{8}T\d{6}Z-[0-9a-f]{6}\); the run did not start \(nothing ran\)",
        needs_small_disk=True,
    ),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_each_exception_becomes_orchs_own_message(
    name: str, git_repo: Path, tmp_path: Path
) -> None:
    row = ROWS[name]
    outside = tmp_path / "outside"
    outside.mkdir()
    body = row.body.replace("{outside}", str(outside)).replace("{root}", str(git_repo))
    commit_documents(git_repo, {"intents/demo.md": document(row.front, body)})
    if row.needs_small_disk:
        where = outside if row.setup is _small_tmpdir else git_repo / ".orch"
        with small_disk(where, "256k"):
            ran = orch(
                git_repo, "apply", "intents/demo.md", *row.args, env=row.setup(git_repo, outside)
            )
    else:
        ran = orch(
            git_repo, "apply", "intents/demo.md", *row.args, env=row.setup(git_repo, outside)
        )
    assert ran.code == row.code, f"{row.exception}:\n{ran.stderr}"
    assert "internal error" not in ran.stderr
    lines = ran.stderr.splitlines()
    if row.message:
        expected = row.message.replace("{root}", str(git_repo.resolve()))
        assert expected in lines, f"{row.exception}:\n{ran.stderr}"
    else:
        assert any(re.fullmatch(row.pattern, line) for line in lines), ran.stderr
    assert not any(outside.iterdir()) or row.needs_small_disk, "something was written outside"


def test_validate_reports_what_apply_refuses_before_anything_runs(git_repo: Path) -> None:
    """The limits are checked by ``orch validate`` too (and the pre-commit hook with it)."""
    for name in ("a timeout past what select() takes", "retries of 5,000 digits"):
        row = ROWS[name]
        commit_documents(git_repo, {"intents/demo.md": document(row.front, row.body)})
        ran = orch(git_repo, "validate", "intents/demo.md")
        assert ran.code == 1
        assert ran.stdout.splitlines() == [row.message]


def test_file_writes_never_follow_a_symbolic_link_below_the_root(tmp_path: Path) -> None:
    """The write itself, not only the check before it: a folder that is a symbolic link by
    the time orch writes (swapped after the check) stops the write, and nothing lands outside."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "out").mkdir(parents=True)
    outside.mkdir()
    assert write_beneath(root, ("out", "a.txt"), b"one", None) is True
    assert (root / "out/a.txt").read_bytes() == b"one"
    assert write_beneath(root, ("out", "a.txt"), b"one", None) is False  # unchanged
    (root / "out").rename(root / "out.old")
    (root / "out").symlink_to(outside)
    with pytest.raises(Moved, match="out is no longer a folder inside the working tree"):
        write_beneath(root, ("out", "a.txt"), b"two", None)
    (root / "out").unlink()
    (root / "out").mkdir()
    (root / "out/a.txt").symlink_to(outside / "a.txt")
    with pytest.raises(Moved, match=r"a\.txt became a symbolic link"):
        write_beneath(root, ("out", "a.txt"), b"three", None)
    os.mkfifo(root / "out/pipe")
    with pytest.raises(Moved, match="pipe is not a regular file"):
        write_beneath(root, ("out", "pipe"), b"four", None)
    assert list(outside.iterdir()) == []
    # Folders that do not exist yet are made, without following anything either.
    assert write_beneath(root, ("new", "deeper", "b.txt"), b"five", 0o600) is True
    assert (root / "new/deeper/b.txt").stat().st_mode & 0o777 == 0o600


def test_a_folder_swapped_while_file_steps_write_never_lets_a_write_escape(
    git_repo: Path, tmp_path: Path
) -> None:
    """A step leaves a loop running that swaps ``out/`` for a symbolic link leading outside and
    back; forty file steps write into ``out/`` meanwhile. Each either writes inside the working
    tree or fails with orch's message; nothing ever appears outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    swapper = (
        "mkdir -p out\n"
        "( while [ ! -e stop ]; do\n"
        "    mv out out.real 2>/dev/null; ln -s " + str(outside) + " out 2>/dev/null\n"
        "    rm -f out; mv out.real out 2>/dev/null\n"
        "  done ) > /dev/null 2>&1 &\n"
        "echo $! > swapper.pid"
    )
    steps = [_step("step=swap", swapper)]
    steps += [
        _step(f"step=w{n} file=out/f{n}.txt continue_on_error=true", f"file {n}", "text")
        for n in range(40)
    ]
    steps.append(_step("step=stop", "touch stop; wait $(cat swapper.pid) 2>/dev/null || true"))
    commit_documents(
        git_repo, {"intents/demo.md": document(_front(), "# Demo\n\n" + "\n".join(steps))}
    )
    ran = orch(git_repo, "apply", "intents/demo.md", "--json")
    (git_repo / "stop").touch()
    record = ran.json()
    assert list(outside.iterdir()) == [], "a write escaped the working tree"
    allowed = (
        re.compile(r"out/f\d+\.txt changed while orch wrote it: .+; nothing was written"),
        re.compile(
            rf"out/f\d+\.txt resolves outside the working tree {re.escape(str(git_repo.resolve()))}"
        ),
    )
    written = 0
    for step in record["steps"][1:-1]:
        if step["state"] == "completed":
            written += 1
        else:
            assert step["state"] == "failed", step
            assert any(p.fullmatch(step["error"]) for p in allowed), step["error"]
    assert written + sum(s["state"] == "failed" for s in record["steps"][1:-1]) == 40
    print(f"{written} of 40 file steps wrote while the folder was swapped")
