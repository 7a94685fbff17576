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
