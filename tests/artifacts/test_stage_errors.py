"""Which stage of the artifacts an operating-system error is told as: the message names what
was being written (the outbox, the local store, the package) and where."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from orchestrator.api import ending
from orchestrator.api.receiving import prepare
from orchestrator.api.run_request import Prepared, RunRequest
from tests.core.helpers import commit_documents, document

DOC = document("id: one\ntitle: One\nstatus: approved", "```sh {step=s}\ntrue\n```\n")


@pytest.fixture
def prepared(git_repo: Path) -> Prepared:
    commit_documents(git_repo, {"intents/one.md": DOC})
    return prepare(RunRequest(path=git_repo / "intents" / "one.md"))


def _full(filename: object = None, filename2: object = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename, None, filename2)


def test_a_file_in_a_stage_folder_names_the_stage(prepared: Prepared) -> None:
    state = prepared.place.settings.state_dir
    entry = state / "dropbox" / "artifacts" / "x.zip"
    assert ending._artifact_problem(prepared, _full(entry)) == (
        f"no space left on device while writing the local artifact store ({entry})"
    )


def test_half_a_copy_into_the_outbox_is_removed(prepared: Prepared) -> None:
    outbox = prepared.place.settings.state_dir / "outbox"
    outbox.mkdir(parents=True)
    half = outbox / "pkg.zip"
    half.write_bytes(b"half")
    source = prepared.place.root / "pkg.zip"
    problem = ending._artifact_problem(prepared, _full(source, half))
    assert problem == f"no space left on device while writing the outbox ({half})"
    assert not half.exists()


def test_an_error_without_a_file_is_told_by_the_module_that_raised_it(
    prepared: Prepared,
) -> None:
    # A write that fails with no file named (zipfile's, on a full disk) raised in a function
    # of the packaging module, as its frame shows in the traceback; a real full disk is in
    # tests/hostile/test_full_disk.py.
    scope = {"__name__": "orchestrator.artifacts.package", "OSError": OSError}
    exec("def write():\n    raise OSError(28, 'No space left on device')\n", scope)
    try:
        scope["write"]()
    except OSError as exc:
        problem = ending._artifact_problem(prepared, exc)
    state = prepared.place.settings.state_dir
    assert problem == (
        f"no space left on device while writing the artifact package ({state / 'packages'})"
    )


def test_an_error_of_no_stage_says_what_was_being_done(prepared: Prepared) -> None:
    assert ending._artifact_problem(prepared, _full()) == (
        "no space left on device while packaging or publishing the artifacts"
    )
