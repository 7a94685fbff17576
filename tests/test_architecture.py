"""The import arrows of the architecture: a module may import only what it sits above."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator"

LEAVES = {
    "model",
    "errors",
    "templating",
    "process",
    "outputstream",
    "paths",
    "globs",
    "record",
    "report",
    "config",
}
# component -> orch components it may import (besides the leaves)
ALLOWED: dict[str, set[str]] = {
    # The HTTP service is a front end like the command line: both sit on top of api.
    "cli": {"api", "dropboxmini", "service", "cli", "worker", "broker"},
    "service": {"api", "trace", "document", "service", "web"},
    # The web view (service/web) sits beside the HTTP API, above api; it streams artifacts
    # of the embedded store, as `orch dropbox get` does.
    "web": {"api", "trace", "document", "service", "dropboxmini", "web"},
    "api": {"document", "runner", "artifacts", "trace", "hooks", "schedule", "api", "broker"},
    # orch worker: a front end beside cli and service, running what the broker hands it.
    "worker": {"api", "broker", "trace", "worker"},
    # The broker's side of distributed runs: Celery, the Redis ledger, routing.
    "broker": {"broker"},
    "schedule": {"schedule"},
    "hooks": {"trace", "document", "hooks"},
    "document": {"document", "schedule"},
    "runner": {"runner"},
    "artifacts": {"dropboxmini", "artifacts"},
    "trace": {"trace"},
    "dropboxmini": {"dropboxmini"},
}
# Libraries with exactly one home.
LIBRARY_HOMES = {
    # templating renders steps in a sandbox; web renders its own pages (autoescaped).
    "jinja2": {"templating", "web"},
    # document parses intent documents; web renders them as HTML.
    "markdown_it": {"document", "web"},
    "frontmatter": {"document"},
    "git": {"trace"},
    "typer": {"cli"},
    "croniter": {"schedule"},
    # Distributed runs: only the broker and the worker import Celery and Redis.
    "celery": {"broker", "worker"},
    "kombu": {"broker", "worker"},
    "redis": {"broker"},
}


# Packages inside a component that are components of their own.
SUBCOMPONENTS = {("service", "web"): "web"}


def _component(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    sub = SUBCOMPONENTS.get(relative.parts[:2])
    return sub or relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imports_follow_the_architecture() -> None:
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        component = _component(path)
        if component in {"__init__", "__main__"}:
            continue
        allowed = ALLOWED.get(component, set()) | LEAVES | {component}
        if component == "dropboxmini":
            allowed = {"dropboxmini"}
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "orchestrator" and len(parts) > 1 and parts[1] not in allowed:
                broken.append(f"{path.relative_to(PACKAGE)} imports {name}")
            if parts[0] == "orchestrator" and len(parts) == 1 and component == "dropboxmini":
                broken.append(f"{path.relative_to(PACKAGE)} imports orchestrator")
            homes = LIBRARY_HOMES.get(parts[0])
            if homes is not None and component not in homes:
                broken.append(f"{path.relative_to(PACKAGE)} imports {name} (home: {homes})")
    assert not broken, "\n".join(broken)


def test_leaves_import_no_component() -> None:
    components = set(ALLOWED)
    for leaf in LEAVES:
        module = PACKAGE / f"{leaf}.py"
        files = [module] if module.exists() else sorted((PACKAGE / leaf).rglob("*.py"))
        assert files, f"leaf {leaf} not found"
        for path in files:
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "orchestrator" and len(parts) > 1:
                    assert parts[1] not in components, f"{leaf} imports {name}"



# --- processes and git ----------------------------------------------------------------------

# The one module that starts processes, and the one that runs git (docs/architecture.md).
PROCESS_MODULE = Path("process.py")
GIT_MODULE = Path("trace/gitcmd.py")
# Standard-library modules that start processes, and the functions that do elsewhere.
PROCESS_LIBRARIES = {"subprocess", "multiprocessing", "pty", "concurrent.futures.process"}
_EXEC_SUFFIXES = ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")
PROCESS_FUNCTIONS = {
    "os": {
        "system",
        "popen",
        "fork",
        "forkpty",
        "posix_spawn",
        "posix_spawnp",
        *(f"{kind}{suffix}" for kind in ("spawn", "exec") for suffix in _EXEC_SUFFIXES),
    },
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
}


def process_starts(tree: ast.AST) -> list[tuple[int, str]]:
    """Where ``tree`` starts a process, or imports what does: (line, what)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {alias.name}")
                for alias in node.names
                if alias.name in PROCESS_LIBRARIES or alias.name.split(".")[0] in PROCESS_LIBRARIES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in PROCESS_LIBRARIES or node.module.split(".")[0] in PROCESS_LIBRARIES:
                found.append((node.lineno, f"from {node.module} import ..."))
            functions = PROCESS_FUNCTIONS.get(node.module, set())
            found += [
                (node.lineno, f"from {node.module} import {alias.name}")
                for alias in node.names
                if alias.name in functions
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in PROCESS_FUNCTIONS.get(node.value.id, set())
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return sorted(found)


def git_commands(tree: ast.AST) -> list[int]:
    """Lines where ``tree`` builds a command line that runs git: a list or tuple whose first
    element is the text ``git`` (how every argv orch starts is written)."""
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.List | ast.Tuple)
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and node.elts[0].value == "git"
    )


def test_processes_start_only_in_the_process_module() -> None:
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE) == PROCESS_MODULE:
            continue
        for line, what in process_starts(ast.parse(path.read_text())):
            broken.append(f"{path.relative_to(PACKAGE)}:{line}: {what}")
    assert not broken, "processes start only in orchestrator/process.py:\n" + "\n".join(broken)


def test_git_runs_only_from_the_trace() -> None:
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE) == GIT_MODULE:
            continue
        lines = git_commands(ast.parse(path.read_text()))
        broken += [f"{path.relative_to(PACKAGE)}:{line}" for line in lines]
    assert not broken, "git runs only through trace/gitcmd.run_git:\n" + "\n".join(broken)


def test_the_process_and_git_checks_find_what_they_look_for() -> None:
    source = """
import subprocess
import multiprocessing.pool
from subprocess import run
from os import system, getpid
import asyncio
os.execvp("x", ["x"])
os.posix_spawn("x", ["x"], {})
asyncio.create_subprocess_exec("x")
os.getpid()
run_captured(["git", "status"], env={})
spawn_detached(("git", *args), cwd=here, env={}, log=log)
command = ["echo", "git"]
"""
    tree = ast.parse(source)
    assert process_starts(tree) == [
        (2, "import subprocess"),
        (3, "import multiprocessing.pool"),
        (4, "from subprocess import ..."),
        (5, "from os import system"),
        (7, "os.execvp"),
        (8, "os.posix_spawn"),
        (9, "asyncio.create_subprocess_exec"),
    ]
    assert git_commands(tree) == [11, 12]
