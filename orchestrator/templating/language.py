"""Which quoting a script step's body takes."""

from __future__ import annotations

from enum import StrEnum

SHELL_SAFE_CHARACTERS = "ASCII letters, digits and ._-:/@+=,"


class ScriptLanguage(StrEnum):
    """How a script step's body is read: which quoting filter fits it."""

    SH = "sh"  # sh, bash, zsh, shell: the sh filter
    PYTHON = "python"  # python, python3: the py filter
    OTHER = "other"  # interpreter=: orch knows no quoting for it

    @property
    def quoting_filter(self) -> str | None:
        return {"sh": "sh", "python": "py"}.get(self.value)
