"""The one error handler of the whole command line: expected errors become one message
(``orch: ...``) and a documented exit code (``docs/cli.md``); unexpected ones a short note
and the path of the saved traceback."""

from __future__ import annotations

import logging
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.cli.output import Output
from orchestrator.errors import DocumentError, OrchError

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_NOTHING_RAN = 2
EXIT_PUBLICATION_PENDING = 3
# 128 + SIGINT, as shells report a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70


def expected_failure(exc: BaseException) -> tuple[str, int] | None:
    """(message, exit code) of an expected error that is not an ``OrchError``, else None.

    DropBoxMini imports nothing from orch, so its errors arrive as its own classes: a value
    refused before anything was sent is bad usage (2); a refusal or failure of the service,
    or bytes that do not match their checksum, is a failed command (1). A file the command
    was given that cannot be read or written is a failed command too.
    """
    # Only a command that loaded DropBoxMini can raise its errors; importing it for every
    # other error would load an HTTP client for nothing.
    if "orchestrator.dropboxmini.protocol" in sys.modules:
        from orchestrator.dropboxmini.protocol import (
            ConfigError,
            DropBoxError,
            FieldError,
            IntegrityError,
            StoreDamagedError,
        )

        if isinstance(exc, FieldError | ConfigError):
            return exc.detail, EXIT_NOTHING_RAN
        if isinstance(exc, IntegrityError | StoreDamagedError):
            # Found by the client or in the local store: no HTTP status to show.
            return exc.detail, EXIT_FAILED
        if isinstance(exc, DropBoxError):
            return f"{exc.detail} (HTTP {exc.status} {exc.code})", EXIT_FAILED
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}", EXIT_FAILED
    return None


def report_error(output: Output, error: OrchError) -> None:
    if isinstance(error, DocumentError):
        for diagnostic in error.diagnostics:
            output.print(str(diagnostic))
        return
    output.print(f"orch: {error}")


def _save_traceback() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    fd, name = tempfile.mkstemp(prefix=f"orch-crash-{stamp}-", suffix=".log")
    with open(fd, "w", encoding="utf-8") as handle:
        traceback.print_exc(file=handle)
    return Path(name)


class _Warnings(logging.Handler):
    """Shows the core's warnings (things that went wrong without failing the command)."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.WARNING)
        self._output = output

    def emit(self, record: logging.LogRecord) -> None:
        self._output.print(f"orch: warning: {record.getMessage()}", highlight=True)


def run_guarded(entry: Callable[[], object]) -> int:
    """Run the command; turn orch's errors into messages and exit codes, and bugs into a
    short note plus a saved traceback. Normal exits pass through as ``SystemExit``."""
    output = Output()
    logging.getLogger("orch").addHandler(_Warnings(output))
    try:
        entry()
    except OrchError as exc:
        report_error(output, exc)
        return EXIT_NOTHING_RAN
    except KeyboardInterrupt:
        output.print("orch: interrupted by Ctrl-C", highlight=True)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last resort: never a raw traceback for a person
        expected = expected_failure(exc)
        if expected is not None:
            message, code = expected
            output.print(f"orch: {message}")
            return code
        saved = _save_traceback()
        output.print(
            f"orch: internal error ({type(exc).__name__}: {exc}). "
            f"This is a bug in orch; the traceback was saved to {saved}",
            highlight=True,
        )
        return EXIT_INTERNAL
    return EXIT_COMPLETED
