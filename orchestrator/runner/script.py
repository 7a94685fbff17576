"""Script steps: the rendered body in a private file, run by its shell or interpreter."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from orchestrator.errors import describe_os_error
from orchestrator.masking import Masker
from orchestrator.model import Step
from orchestrator.process import Cancelled, Interrupted, run
from orchestrator.runner.outcome import Outcome
from orchestrator.runner.output import read_outputs
from orchestrator.runner.places import places_for


def run_script(
    step: Step,
    body: str,
    *,
    scratch: Path,
    cwd: Path,
    env: Mapping[str, str],
    masker: Masker,
    on_output: Callable[[str], None] | None,
    on_start: Callable[[int], None] | None = None,
    on_text: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
    document: str | None = None,
) -> Outcome:
    """Run one attempt; ``scratch`` is the run's private folder for the script and outputs.

    ``on_text`` hears the masked output as it comes; ``stop`` ends the process early
    (raising ``process.Cancelled``). What the step prints names ``document`` (its path as
    the record shows it) and its lines where the interpreter named the script's temporary
    file (see ``places``): in the live output as in the final log."""
    script = scratch / f"{step.name}.{step.language or 'txt'}"
    # The document's name is written into the output after masking: masked itself.
    shown = masker.mask(document or "the document")
    places = places_for(str(script), shown, step.name, step.body_line, step.body, body)
    try:
        script.write_text(body, encoding="utf-8")
    except OSError as exc:
        script.unlink(missing_ok=True)
        message = describe_os_error(exc, f"writing the script of step '{step.name}'", script)
        return Outcome(ok=False, log=message + "\n", error=message)
    output_file = scratch / f"{step.name}.output"
    output_file.unlink(missing_ok=True)  # the step creates it when it has outputs
    step_env = {**env, "ORCH_OUTPUT": str(output_file)}
    try:
        finished = run(
            [*step.command, str(script)],
            cwd=cwd,
            env=step_env,
            timeout=step.timeout_seconds,
            masker=masker,
            on_output=places.rewritten(on_output) if on_output is not None else None,
            on_start=on_start,
            on_text=places.rewritten(on_text) if on_text is not None else None,
            stop=stop,
        )
    except OSError as exc:
        message = f"could not start {step.command[0]!r}: {exc.strerror or exc}"
        return Outcome(ok=False, log=message + "\n", error=message)
    except Interrupted as exc:
        raise Interrupted(places.line(exc.output)) from None
    except Cancelled as exc:
        raise Cancelled(places.line(exc.output)) from None
    finished = dataclasses.replace(finished, output=places.line(finished.output))
    try:
        outputs = read_outputs(output_file, masker)
    except OSError as exc:  # the step replaced $ORCH_OUTPUT with a folder, say
        message = describe_os_error(exc, f"reading the outputs of step '{step.name}'")
        return Outcome(ok=False, log=finished.output + message + "\n", error=message)
    if finished.timed_out:
        error = (
            f"timed out after {_seconds(step.timeout_seconds)}; its whole process tree was stopped"
        )
        return Outcome(ok=False, log=finished.output, outputs=outputs, error=error)
    ok = finished.exit_code == 0
    return Outcome(
        ok=ok,
        log=finished.output,
        exit_code=finished.exit_code,
        outputs=outputs,
        error=None if ok else _ended(finished.exit_code),
    )


def _ended(exit_code: int | None) -> str:
    """Why a finished process failed: its exit code, or the signal that killed it (which
    Python reports as a negative exit code)."""
    if exit_code is not None and exit_code < 0:
        try:
            name = f" ({signal.Signals(-exit_code).name})"
        except ValueError:
            name = ""
        return f"killed by signal {-exit_code}{name}"
    return f"exited with code {exit_code}"


def _seconds(seconds: float) -> str:
    return f"{seconds:g}s"
