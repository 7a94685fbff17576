"""How ``orch apply`` shows a step: its mark and its line, and the display that prints one
line per step where stderr is no terminal (the live table is ``display.LiveDisplay``)."""

from __future__ import annotations

import time
from types import TracebackType

from orchestrator.cli.output import Output, Piece
from orchestrator.model import Step, StepState
from orchestrator.record import StepRecord

MARKS: dict[StepState, tuple[str, str]] = {
    StepState.PENDING: ("·", "dim"),
    StepState.COMPLETED: ("✓", "green"),
    StepState.FAILED: ("✗", "bold red"),
    StepState.SKIPPED: ("↷", "yellow"),
    StepState.WAITING: ("?", "bold yellow"),
    StepState.CANCELLED: ("⊘", "magenta"),
}


class StepClock:
    """When each step started running, and how long each one that stopped took."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._elapsed: dict[str, float] = {}

    def changed(self, step: StepRecord) -> None:
        if step.state is StepState.RUNNING:
            self._started[step.name] = time.monotonic()
        elif step.name in self._started:
            self._elapsed[step.name] = time.monotonic() - self._started.pop(step.name)

    def running(self, name: str) -> bool:
        return name in self._started

    def seconds(self, name: str) -> float | None:
        if name in self._started:
            return time.monotonic() - self._started[name]
        return self._elapsed.get(name)


def describe(
    name: str, section: str, step: StepRecord | None, seconds: float | None
) -> list[Piece]:
    """A step's line after its mark: name, section, why skipped, time, attempts, failure."""
    pieces: list[Piece] = [(name, "bold"), (f"  {section}", "dim")]
    if step is not None and step.state is StepState.SKIPPED and step.skipped_because:
        pieces.append((f"  skipped: {step.skipped_because}", "yellow"))
    if seconds is not None:
        pieces.append((f"  {seconds:.1f}s", "dim"))
    if step is not None and step.attempts > 1:
        pieces.append((f"  {step.attempts} attempts", "dim"))
    if step is not None and step.state is StepState.FAILED:
        pieces.append((f"  failed: {step.error or 'no reason recorded'}", "red"))
        if step.continued_on_error:
            pieces.append((" (continue_on_error: the run goes on)", "dim"))
    return pieces


def finished_line(step: StepRecord, section: str, clock: StepClock) -> list[Piece]:
    """The line printed when a step stops running (where there is no live table)."""
    mark: Piece = MARKS.get(step.state, "")
    return [mark, " ", *describe(step.name, section, step, clock.seconds(step.name))]


class StepLines:
    """An ``Observer`` that prints a line as each step ends (stderr is no terminal)."""

    def __init__(
        self, output: Output, steps: list[Step], *, verbose: bool, interactive: bool
    ) -> None:
        self._output = output
        self._verbose = verbose
        self._interactive = interactive
        self._sections = {step.name: step.section for step in steps}
        self._clock = StepClock()

    @property
    def verbose(self) -> bool:
        return self._verbose

    def __enter__(self) -> StepLines:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pass

    def step_changed(self, step: StepRecord) -> None:
        self._clock.changed(step)
        if step.state is not StepState.RUNNING:
            self._output.print(*finished_line(step, self._sections[step.name], self._clock))

    def waiting(self, message: str) -> None:
        """Another run of the workflow holds its lock: say so, then this run waits."""
        self._output.print((message, "yellow"))

    def step_output(self, step: str, line: str) -> None:
        self._output.print((f"  {step} │ ", "dim"), line)

    def confirm(self, step: Step, instruction: str) -> bool | None:
        if not self._interactive:
            return None
        from orchestrator.cli.display import ask_to_confirm  # rich's prompt

        return ask_to_confirm(self._output.console, step, instruction)
