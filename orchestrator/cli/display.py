"""Live step status for ``orch apply``: name, section, state and elapsed time of each step."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.prompt import Confirm
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from orchestrator.cli.steplines import MARKS, StepClock, describe, finished_line
from orchestrator.model import Step, StepState
from orchestrator.record import StepRecord


class LiveDisplay:
    """An ``Observer`` that draws a table of steps (on a terminal) or prints lines (elsewhere)."""

    def __init__(
        self, console: Console, steps: list[Step], *, verbose: bool, interactive: bool
    ) -> None:
        self._console = console
        self._verbose = verbose
        self._interactive = interactive
        self._rows: dict[str, StepRecord | None] = {step.name: None for step in steps}
        self._sections = {step.name: step.section for step in steps}
        self._clock = StepClock()
        self._live = Live(
            get_renderable=self._table,
            console=console,
            refresh_per_second=8,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    @property
    def verbose(self) -> bool:
        return self._verbose

    def __enter__(self) -> LiveDisplay:
        if self._console.is_terminal:
            self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._console.is_terminal:
            self._live.stop()

    def step_changed(self, step: StepRecord) -> None:
        self._clock.changed(step)
        self._rows[step.name] = step
        if not self._console.is_terminal and step.state is not StepState.RUNNING:
            line = finished_line(step, self._sections[step.name], self._clock)
            self._console.print(Text.assemble(*line))

    def waiting(self, message: str) -> None:
        """Another run of the workflow holds its lock: say so, then this run waits."""
        self._console.print(Text(message, style="yellow"))

    def step_output(self, step: str, line: str) -> None:
        self._console.print(Text(f"  {step} │ ", style="dim") + Text(line))

    def confirm(self, step: Step, instruction: str) -> bool | None:
        if not self._interactive:
            return None
        if self._console.is_terminal:
            self._live.stop()
        answer = ask_to_confirm(self._console, step, instruction)
        if self._console.is_terminal:
            self._live.start()
        return answer

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for name, step in self._rows.items():
            state = step.state if step is not None else StepState.PENDING
            mark = (
                Spinner("dots", style="cyan") if state is StepState.RUNNING else Text(*MARKS[state])
            )
            seconds = self._clock.seconds(name)
            table.add_row(mark, Text.assemble(*describe(name, self._sections[name], step, seconds)))
        return table


def ask_to_confirm(console: Console, step: Step, instruction: str) -> bool:
    """Ask the person at the terminal whether the manual ``step`` is done."""
    console.print(f"[bold]Manual step[/bold] '{step.name}' ({step.section}):")
    console.print(Text(instruction.rstrip("\n")), style="cyan")
    return Confirm.ask("Done? Confirm to continue", console=console, default=False)
