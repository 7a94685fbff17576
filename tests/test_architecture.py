"""The import arrows of the architecture: a module may import only what it sits above, no
module imports itself again through others, processes start in one module and git runs from
one. Every check is a function of a package folder, tried on a small planted package too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator"

LEAVES = {
    "model",
    "errors",
    "templating",
    "process",
    "masking",
    "outputstream",
    "paths",
    "globs",
    "record",
    "report",
    "config",
    "durations",
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


# --- the import graph -----------------------------------------------------------------------


def module_name(root: Path, path: Path) -> str:
    """``orchestrator.api.apply`` for ``<root>/api/apply.py``; a package is its folder."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    return {module_name(root, path): path for path in sorted(root.rglob("*.py"))}


def module_imports(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, wherever it stands (in a function, under
    ``TYPE_CHECKING``): relative imports resolved, and ``from package import name`` read as
    the submodule when ``name`` is one, else as the package."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if path.name != "__init__.py":
                    base.pop()
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.append((node.lineno, submodule if submodule in known else module))
    return list(dict.fromkeys(found))


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {module of the package it imports: the first line that does}."""
    modules = package_modules(root)
    known = set(modules)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for line, imported in module_imports(name, path, known):
            if imported in known and imported != name:
                edges.setdefault(imported, line)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (the
    strongly connected components of more than one module, Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return sorted(groups)


def describe_cycle(graph: dict[str, dict[str, int]], group: list[str]) -> str:
    members = set(group)
    arrows = [
        f"  {module} imports {imported} (line {line})"
        for module in group
        for imported, line in sorted(graph[module].items())
        if imported in members
    ]
    return "\n".join([" <-> ".join(group), *arrows])


def _component(root: Path, path: Path) -> str:
    relative = path.relative_to(root)
    sub = SUBCOMPONENTS.get(relative.parts[:2])
    return sub or relative.parts[0].removesuffix(".py")


def broken_arrows(root: Path) -> list[str]:
    """Imports that break the arrows of ``ALLOWED`` or a library's home, as ``file:line``."""
    modules = package_modules(root)
    known = set(modules)
    top = root.name
    broken = []
    for name, path in modules.items():
        component = _component(root, path)
        if component in {"__init__", "__main__"}:
            continue
        allowed = ALLOWED.get(component, set()) | LEAVES | {component}
        if component == "dropboxmini":
            allowed = {"dropboxmini"}
        where = path.relative_to(root)
        for line, imported in module_imports(name, path, known):
            parts = imported.split(".")
            if parts[0] == top and len(parts) > 1 and parts[1] not in allowed:
                broken.append(f"{where}:{line} imports {imported}")
            if parts == [top] and component == "dropboxmini":
                broken.append(f"{where}:{line} imports {top}")
            homes = LIBRARY_HOMES.get(parts[0])
            if homes is not None and component not in homes:
                broken.append(f"{where}:{line} imports {imported} (home: {sorted(homes)})")
    return broken


def test_imports_follow_the_architecture() -> None:
    broken = broken_arrows(PACKAGE)
    assert not broken, "\n".join(broken)


def test_no_module_imports_itself_through_others() -> None:
    graph = import_graph(PACKAGE)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(describe_cycle(graph, c) for c in cycles)


def test_leaves_import_no_component() -> None:
    components = set(ALLOWED)
    modules = package_modules(PACKAGE)
    for leaf in LEAVES:
        module = PACKAGE / f"{leaf}.py"
        files = [module] if module.exists() else sorted((PACKAGE / leaf).rglob("*.py"))
        assert files, f"leaf {leaf} not found"
        for path in files:
            for _, name in module_imports(module_name(PACKAGE, path), path, set(modules)):
                parts = name.split(".")
                if parts[0] == "orchestrator" and len(parts) > 1:
                    assert parts[1] not in components, f"{leaf} imports {name}"


def _plant(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents:
            init = root / folder / "__init__.py"
            if folder != Path(".") and not init.exists():
                init.write_text("")
        path.write_text(text)
    return root


def test_the_import_checks_find_planted_cycles_and_arrows(tmp_path: Path) -> None:
    root = _plant(
        tmp_path / "orchestrator",
        {
            "__init__.py": "__version__ = '0'\n",
            "api/__init__.py": "",
            # a cycle hidden in a function, through `from package import module`
            "api/apply.py": "from orchestrator.api import run_artifacts\n",
            "api/run_artifacts.py": "def late():\n    from orchestrator.api import apply\n",
            # a cycle through relative imports, one under TYPE_CHECKING
            "runner/__init__.py": "",
            "runner/engine.py": "from . import observer\n",
            "runner/observer.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from .engine import Execution\n"
            ),
            "runner/plan.py": "from orchestrator.runner import engine\n",
            # an upward arrow written as `from orchestrator import X`, inside a function
            "trace/__init__.py": "",
            "trace/writer.py": "import json\n\n\ndef f():\n    from orchestrator import api\n",
            "trace/repo.py": "from orchestrator import __version__\nimport git\n",
            "dropboxmini/store.py": "from .. import __version__\n",
            "document/parse.py": "import jinja2.sandbox\n",
        },
    )
    graph = import_graph(root)
    assert graph["orchestrator.api.run_artifacts"] == {"orchestrator.api.apply": 2}
    assert graph["orchestrator.runner.observer"] == {"orchestrator.runner.engine": 3}
    assert import_cycles(graph) == [
        ["orchestrator.api.apply", "orchestrator.api.run_artifacts"],
        ["orchestrator.runner.engine", "orchestrator.runner.observer"],
    ]
    assert describe_cycle(graph, import_cycles(graph)[0]).splitlines() == [
        "orchestrator.api.apply <-> orchestrator.api.run_artifacts",
        "  orchestrator.api.apply imports orchestrator.api.run_artifacts (line 1)",
        "  orchestrator.api.run_artifacts imports orchestrator.api.apply (line 2)",
    ]
    assert sorted(broken_arrows(root)) == [
        "document/parse.py:1 imports jinja2.sandbox (home: ['templating', 'web'])",
        "dropboxmini/store.py:1 imports orchestrator",
        "trace/writer.py:5 imports orchestrator.api",
    ]


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


def _starts_processes(module: str) -> bool:
    return module in PROCESS_LIBRARIES or module.split(".")[0] in PROCESS_LIBRARIES


def process_starts(tree: ast.AST) -> list[tuple[int, str]]:
    """Where ``tree`` starts a process, or imports what does: (line, what)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {alias.name}")
                for alias in node.names
                if _starts_processes(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if _starts_processes(node.module):
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
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and _starts_processes(node.args[0].value)
            and _called_name(node.func) in {"__import__", "import_module"}
        ):
            found.append((node.lineno, f"{_called_name(node.func)}({node.args[0].value!r})"))
    return sorted(found)


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


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


def process_violations(root: Path) -> list[str]:
    """``file:line: what`` for every process started outside ``PROCESS_MODULE``."""
    broken = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root) == PROCESS_MODULE:
            continue
        for line, what in process_starts(ast.parse(path.read_text())):
            broken.append(f"{path.relative_to(root)}:{line}: {what}")
    return broken


def git_violations(root: Path) -> list[str]:
    """``file:line`` for every git command line built outside ``GIT_MODULE``."""
    broken = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root) == GIT_MODULE:
            continue
        lines = git_commands(ast.parse(path.read_text()))
        broken += [f"{path.relative_to(root)}:{line}" for line in lines]
    return broken


def test_processes_start_only_in_the_process_module() -> None:
    broken = process_violations(PACKAGE)
    assert not broken, "processes start only in orchestrator/process.py:\n" + "\n".join(broken)


def test_git_runs_only_from_the_trace() -> None:
    broken = git_violations(PACKAGE)
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
importlib.import_module("subprocess")
__import__("json")
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
        (14, "import_module('subprocess')"),
    ]
    assert git_commands(tree) == [11, 12]


@pytest.mark.parametrize("allowed_file", ["process.py", "trace/gitcmd.py"])
def test_the_process_and_git_checks_fail_on_a_planted_package(
    tmp_path: Path, allowed_file: str
) -> None:
    root = _plant(
        tmp_path / "orchestrator",
        {
            "process.py": "import subprocess\n",
            "trace/gitcmd.py": "from orchestrator.process import run\nrun(['git', 'log'])\n",
            "cli/dropbox.py": (
                "import os\n\n\ndef push():\n    import subprocess\n"
                "    subprocess.run(['git', 'push'], env=os.environ)\n"
            ),
            "hooks/background.py": "import os\n\nos.posix_spawnp('git', ('git', 'gc'), {})\n",
        },
    )
    assert process_violations(root) == [
        "cli/dropbox.py:5: import subprocess",
        "hooks/background.py:3: os.posix_spawnp",
    ]
    assert git_violations(root) == ["cli/dropbox.py:6", "hooks/background.py:3"]
    # the allowed modules are allowed by their place, not by what they contain
    moved = root / "worker" / Path(allowed_file).name
    moved.parent.mkdir()
    (root / allowed_file).rename(moved)
    if allowed_file == "process.py":
        assert "worker/process.py:1: import subprocess" in process_violations(root)
    else:
        assert "worker/gitcmd.py:2" in git_violations(root)
