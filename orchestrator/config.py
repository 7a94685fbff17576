"""Settings, lowest to highest precedence: built-in defaults, ``[tool.orch]`` in the
repository's ``pyproject.toml`` or an ``orch.toml``, ``ORCH_*`` environment variables, and
finally command-line flags (applied by the caller with ``dataclasses.replace``).

Keys (credentials) never come from a file that could be committed: only from the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError


@dataclass(frozen=True)
class Settings:
    """orch's settings for one repository, from its settings file and the environment."""

    root: Path
    # The main working tree: runs in a temporary worktree keep their state (run folders, the
    # local artifact store, locks) here, where it outlives the worktree.
    home: Path | None = None
    intents: tuple[str, ...] = ("intents/**/*.md",)
    trace_branch: str = "orch-trace"
    trace_repository: Path | None = None
    trace_remote: str | None = None
    trace_prefix: str = ""
    dropbox_url: str | None = None
    dropbox_key: str | None = None
    dropbox_baseline: int | None = None
    hooks_post_merge: bool = False
    hooks_detach: bool = False
    log_cap_bytes: int = 1 << 20
    # Limits on what a caller may hand orch (see docs/security.md).
    max_request_bytes: int = 1 << 20
    max_input_bytes: int = 64 << 10
    max_input_total_bytes: int = 256 << 10
    # Bounds on rendering one template (docs/security.md, "Rendering limits").
    render_seconds: float = 5.0
    render_max_chars: int = 4 * 1024 * 1024
    # A Celery broker (Redis): runs are sent to `orch worker`s instead of run here.
    broker_url: str | None = None

    @property
    def state_dir(self) -> Path:
        """orch's own folder in the repository (ignored by git)."""
        return (self.home or self.root) / ".orch"

    @property
    def local_store(self) -> Path:
        return self.state_dir / "dropbox"


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("must be a string or a list of strings")


def _globs(value: Any) -> tuple[str, ...]:
    from orchestrator.globs import path_filter  # imported here: only a setting needs it

    patterns = _strings(value)
    path_filter(patterns)  # raises GlobError (a ValueError) naming the pattern and the fix
    return patterns


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    }:
        return value.lower() in {"1", "true", "yes", "on"}
    raise ValueError("must be true or false")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _broker_in_file(value: Any) -> str:
    url = _string(value)
    if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
        raise ValueError(
            "holds credentials: give a broker URL with a password only in ORCH_BROKER_URL, "
            "never in a file that may be committed"
        )
    return url


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return int(value)


def _positive_bytes(value: Any) -> int:
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text.isdigit():
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a positive whole number of bytes, not {value!r}")
    return value


def _positive_number(value: Any, kind: Callable[[Any], float]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a positive number")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError("must be a positive number") from None
    if not number > 0 or number == float("inf"):
        raise ValueError("must be a positive number")
    return number


# file key / environment variable -> (field, converter)
_FILE_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "intents": ("intents", _globs),
    "trace-branch": ("trace_branch", _string),
    "trace-repository": ("trace_repository", lambda v: Path(_string(v))),
    "trace-remote": ("trace_remote", _string),
    "trace-prefix": ("trace_prefix", _string),
    "dropbox-url": ("dropbox_url", _string),
    "dropbox-baseline": ("dropbox_baseline", _integer),
    "hooks-post-merge": ("hooks_post_merge", _boolean),
    "hooks-detach": ("hooks_detach", _boolean),
    "log-cap-bytes": ("log_cap_bytes", _integer),
    "max-request-bytes": ("max_request_bytes", _positive_bytes),
    "max-input-bytes": ("max_input_bytes", _positive_bytes),
    "max-input-total-bytes": ("max_input_total_bytes", _positive_bytes),
    "render-seconds": ("render_seconds", lambda v: _positive_number(v, float)),
    "render-max-chars": ("render_max_chars", lambda v: _positive_number(v, int)),
    "broker": ("broker_url", _broker_in_file),
}
_ENVIRONMENT: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "ORCH_INTENTS": ("intents", lambda v: _globs([p for p in str(v).split(":") if p])),
    "ORCH_TRACE_BRANCH": ("trace_branch", _string),
    "ORCH_TRACE_REPOSITORY": ("trace_repository", lambda v: Path(_string(v))),
    "ORCH_TRACE_REMOTE": ("trace_remote", _string),
    "ORCH_TRACE_PREFIX": ("trace_prefix", _string),
    "ORCH_DROPBOX_URL": ("dropbox_url", _string),
    "ORCH_DROPBOX_KEY": ("dropbox_key", _string),
    "ORCH_DROPBOX_BASELINE": ("dropbox_baseline", _integer),
    "ORCH_HOOKS_POST_MERGE": ("hooks_post_merge", _boolean),
    "ORCH_HOOKS_DETACH": ("hooks_detach", _boolean),
    "ORCH_LOG_CAP_BYTES": ("log_cap_bytes", _integer),
    "ORCH_MAX_REQUEST_BYTES": ("max_request_bytes", _positive_bytes),
    "ORCH_MAX_INPUT_BYTES": ("max_input_bytes", _positive_bytes),
    "ORCH_MAX_INPUT_TOTAL_BYTES": ("max_input_total_bytes", _positive_bytes),
    "ORCH_RENDER_SECONDS": ("render_seconds", lambda v: _positive_number(v, float)),
    "ORCH_RENDER_MAX_CHARS": ("render_max_chars", lambda v: _positive_number(v, int)),
    "ORCH_BROKER_URL": ("broker_url", _string),
}


def load(root: Path, environ: Mapping[str, str], home: Path | None = None) -> Settings:
    settings = Settings(root=root, home=home)
    file_values, source = _read_file(root)
    settings = _apply(settings, file_values, _FILE_KEYS, source)
    present = {name: value for name, value in environ.items() if name in _ENVIRONMENT and value}
    settings = _apply(settings, present, _ENVIRONMENT, "the environment")
    if settings.trace_repository is not None and not settings.trace_repository.is_absolute():
        settings = replace(settings, trace_repository=root / settings.trace_repository)
    return settings


def _read_file(root: Path) -> tuple[dict[str, Any], str]:
    orch_toml = root / "orch.toml"
    pyproject = root / "pyproject.toml"
    if not orch_toml.is_file() and not pyproject.is_file():
        return {}, ""
    import tomllib  # imported here: only a repository with one of them needs the parser

    try:
        if orch_toml.is_file():
            return tomllib.loads(orch_toml.read_text(encoding="utf-8")), str(orch_toml)
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            section = data.get("tool", {}).get("orch", {})
            return (section if isinstance(section, dict) else {}), f"{pyproject} [tool.orch]"
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"cannot read orch's configuration: {exc}") from None
    return {}, ""


def _apply(
    settings: Settings,
    values: Mapping[str, Any],
    keys: Mapping[str, tuple[str, Callable[[Any], Any]]],
    source: str,
) -> Settings:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in keys:
            if "key" in key.lower():
                raise UsageError(
                    f"{source}: '{key}' looks like a credential; keys come only from the "
                    "environment (ORCH_DROPBOX_KEY), never from a file that may be committed"
                )
            known = ", ".join(sorted(keys))
            raise UsageError(f"{source}: unknown setting '{key}'; known settings: {known}")
        field, convert = keys[key]
        try:
            changes[field] = convert(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{source}: setting '{key}' {exc}") from None
    return replace(settings, **changes)
