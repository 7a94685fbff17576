"""What a one-step ``orch apply`` imports: every package it loads is in a list, with why.

Start-up is most of what a short ``orch apply`` costs (docs/performance.md, "Start-up").
The real command runs in a process of its own, under ``python -X importtime``; a package
it loads that is not below fails this test with the chain of imports that brought it, and
so does a count of modules beyond the caps. To grow the budget, add the package here with
its reason, and its cost to docs/performance.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.core.helpers import commit_documents, document

# Runs orch as ``python -m orchestrator`` does, and lists the process's modules at its end.
LIST_MODULES = """\
import atexit, os, runpy, sys
atexit.register(lambda: open(os.environ["MODULES_TO"], "w").write("\\n".join(sys.modules)))
if len(sys.argv) > 1:
    sys.argv = ["orch", *sys.argv[1:]]
    runpy.run_module("orchestrator", run_name="__main__", alter_sys=True)
"""

_DATACLASSES = "dataclasses (orch's records and settings) and what it imports"
_PROCESSES = "starting processes (git, the step's shell) and waiting for them"
_TEMPFILE = "tempfile (the step's private files) and what it imports"
_LOGGING = "logging (the core's warnings) and what it imports"
_PATHS = "pathlib and what it imports"
_MARKDOWN = "markdown-it-py reads the document's body (CommonMark), with what it imports"
_YAML = "ruamel.yaml's libyaml parser reads the front matter (a Cython extension)"
_LANGUAGE = "the language itself: typing, collections, regular expressions, enums"

# Top-level packages a one-step ``orch apply`` may load (besides orch and what the
# interpreter loads before any command), and why.
BUDGET: dict[str, str] = {
    **dict.fromkeys(["markdown_it", "mdurl", "html", "unicodedata"], _MARKDOWN),
    **dict.fromkeys(["ruamel", "_ruamel_yaml", "cython_runtime", "glob"], _YAML),
    **dict.fromkeys(
        [
            "dataclasses",
            "inspect",
            "ast",
            "_ast",
            "dis",
            "opcode",
            "_opcode",
            "linecache",
            "tokenize",
            "token",
            "copy",
            "weakref",
            "_weakrefset",
        ],
        _DATACLASSES,
    ),
    **dict.fromkeys(
        [
            "subprocess",
            "_posixsubprocess",
            "signal",
            "select",
            "selectors",
            "fcntl",
            "locale",
            "_locale",
            "threading",
            "errno",
        ],
        _PROCESSES,
    ),
    **dict.fromkeys(
        [
            "tempfile",
            "shutil",
            "random",
            "_random",
            "bisect",
            "_bisect",
            "_sha512",
            "math",
            "bz2",
            "_bz2",
            "lzma",
            "_lzma",
            "zlib",
            "_compression",
        ],
        _TEMPFILE,
    ),
    **dict.fromkeys(["logging", "string", "_string", "traceback", "textwrap"], _LOGGING),
    **dict.fromkeys(["pathlib", "fnmatch", "ntpath", "urllib", "ipaddress"], _PATHS),
    **dict.fromkeys(
        [
            "typing",
            "_typing",
            "collections",
            "re",
            "_sre",
            "enum",
            "copyreg",
            "__future__",
            "contextvars",
            "_contextvars",
            "gc",
        ],
        _LANGUAGE,
    ),
    **dict.fromkeys(["json", "_json"], "run.json, the journal and --json"),
    **dict.fromkeys(["hashlib", "_hashlib", "_blake2"], "git object ids and digests"),
    **dict.fromkeys(["datetime", "_datetime"], "the timestamps of the run record"),
    **dict.fromkeys(["pickle", "_pickle", "_compat_pickle"], "the disk cache of parsed documents"),
    "shlex": "a step's attributes are split as a shell splits words",
    **dict.fromkeys(
        ["secrets", "base64", "binascii", "hmac", "struct", "_struct"],
        "secrets.token_hex for run ids; base64 for the step's environment",
    ),
}
# Modules of Cython's runtime are named after its version (``_cython_3_0_11``).
VERSIONED = re.compile(r"_cython_\d+(_\d+)*")
# orch's own modules on the path of a one-step apply, and every other module (the
# interpreter's own included). Raise a cap deliberately, with docs/performance.md.
MAX_ORCH_MODULES = 85
MAX_OTHER_MODULES = 265

DOC = document("id: one\ntitle: One\nstatus: approved", "# One\n\n```sh {step=s}\ntrue\n```\n")


def _run(cwd: Path, listed: Path, *args: str) -> str:
    """stderr of a real process (coverage's start-up hook left off: it imports coverage)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", LIST_MODULES, *args],
        cwd=cwd,
        env={**env, "MODULES_TO": str(listed)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def _chains(importtime: str) -> dict[str, list[str]]:
    """Each module and the modules whose import brought it, innermost first."""
    entries = [
        (len(match[1]) // 2, match[2])
        for match in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$", importtime, re.M)
    ]
    chains: dict[str, list[str]] = {}
    stack: list[tuple[int, str]] = []
    # A module is listed after the imports it made: read backwards, its importers come first.
    for depth, name in reversed(entries):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        chains.setdefault(name, [name for _, name in reversed(stack)])
        stack.append((depth, name))
    return chains


def test_a_one_step_apply_loads_only_what_the_budget_allows(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/one.md": DOC})
    interpreter = git_repo.parent / "interpreter.txt"
    _run(git_repo, interpreter)
    before = set(interpreter.read_text().split("\n"))
    listed = git_repo.parent / "apply.txt"
    chains = _chains(_run(git_repo, listed, "apply", "intents/one.md"))
    loaded = [name for name in listed.read_text().split("\n") if name not in before]

    outside: dict[str, str] = {}
    for name in loaded:
        top = name.split(".")[0]
        if top == "orchestrator" or top in BUDGET or VERSIONED.fullmatch(top):
            continue
        importers = chains.get(name, [])
        how = " <- ".join([name, *importers]) if importers else f"{name} (imported at run time)"
        outside.setdefault(top, how)
    assert not outside, "orch apply loads packages beyond its budget:\n" + "\n".join(
        f"  {top}: {how}" for top, how in sorted(outside.items())
    )

    own = [name for name in loaded if name.split(".")[0] == "orchestrator"]
    assert len(own) <= MAX_ORCH_MODULES, f"{len(own)} of orch's modules: {sorted(own)}"
    others = len(loaded) - len(own) + len(before)
    assert others <= MAX_OTHER_MODULES, f"{others} modules besides orch's own"


# Modules a document orch has parsed before does not need: it comes from the disk cache
# (orchestrator/document/disk_cache.py), so the parsers and the document checks stay unloaded.
PARSING = ("markdown_it", "mdurl", "ruamel", "_ruamel_yaml", "jinja2")
CHECKS = ("orchestrator.document.build", "orchestrator.document.steps")


def test_a_second_apply_of_the_same_document_loads_no_parser(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/one.md": DOC})
    first, second = git_repo.parent / "first.txt", git_repo.parent / "second.txt"
    _run(git_repo, first, "apply", "intents/one.md")
    _run(git_repo, second, "apply", "intents/one.md")

    def parsing(listed: Path) -> list[str]:
        names = listed.read_text().split("\n")
        return [n for n in names if n.split(".")[0] in PARSING or n in CHECKS]

    assert {n.split(".")[0] for n in parsing(first)} >= {"markdown_it", "ruamel", "orchestrator"}
    assert parsing(second) == []
