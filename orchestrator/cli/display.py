"""Live step status for ``orch apply``: name, section, state and elapsed time of each step."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.prompt import Confirm
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from orchestrator.model import Step, StepState
from orchestrator.record import StepRecord

# The error the run record gives the step Ctrl-C cut short (docs/running.md, "Ctrl-C").
INTERRUPTED = "interrupted"

_MARKS = {
    StepState.PENDING: Text("·", style="dim"),
    StepState.COMPLETED: Text("✓", style="green"),
    StepState.FAILED: Text("✗", style="bold red"),
    StepState.SKIPPED: Text("↷", style="yellow"),
    StepState.WAITING: Text("?", style="bold yellow"),
    StepState.CANCELLED: Text("⊘", style="magenta"),
}


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
        self._conditions = {step.name: step.condition for step in steps}
        # What stopped the run first ("Ctrl-C", "cancel"); cleanup steps run after it.
        self._stopped_by: str | None = None
        self.ran_after_ctrl_c: list[str] = []
        self._started: dict[str, float] = {}
        self._elapsed: dict[str, float] = {}
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
        if self._stopped_by is None:
            if step.state is StepState.FAILED and step.error == INTERRUPTED:
                self._stopped_by = "Ctrl-C"
            elif step.state is StepState.CANCELLED:
                self._stopped_by = "cancel"
        if step.state is StepState.RUNNING:
            self._started[step.name] = time.monotonic()
            if self._stopped_by is not None and step.name not in self.ran_after_ctrl_c:
                self.ran_after_ctrl_c.append(step.name)
                again = (
                    "press Ctrl-C again to stop it"
                    if self._stopped_by == "Ctrl-C"
                    else "cancel the run again (or press Ctrl-C) to stop it"
                )
                self._console.print(
                    Text(
                        f"{self._stopped_by}: step '{step.name}' runs all the same "
                        f"(if: {self._conditions[step.name]}); {again}",
                        style="yellow",
                    )
                )
        elif step.name in self._started:
            self._elapsed[step.name] = time.monotonic() - self._started.pop(step.name)
        self._rows[step.name] = step
        if not self._console.is_terminal and step.state is not StepState.RUNNING:
            line = Text.assemble(
                _MARKS.get(step.state, Text("")), " ", self._describe(step.name, step)
            )
            self._console.print(line)

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
        self._console.print(f"[bold]Manual step[/bold] '{step.name}' ({step.section}):")
        self._console.print(Text(instruction.rstrip("\n")), style="cyan")
        answer = Confirm.ask("Done? Confirm to continue", console=self._console, default=False)
        if self._console.is_terminal:
            self._live.start()
        return answer

    def _describe(self, name: str, step: StepRecord | None) -> Text:
        text = Text(name, style="bold")
        text.append(f"  {self._sections[name]}", style="dim")
        if step is not None and step.state is StepState.SKIPPED and step.skipped_because:
            text.append(f"  skipped: {step.skipped_because}", style="yellow")
        seconds = self._elapsed.get(name)
        if name in self._started:
            seconds = time.monotonic() - self._started[name]
        if seconds is not None:
            text.append(f"  {seconds:.1f}s", style="dim")
        if step is not None and step.attempts > 1:
            text.append(f"  {step.attempts} attempts", style="dim")
        if step is not None and step.state is StepState.FAILED:
            text.append(f"  failed: {step.error or 'no reason recorded'}", style="red")
            if step.continued_on_error:
                text.append(" (continue_on_error: the run goes on)", style="dim")
        return text

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 1))
        for name, step in self._rows.items():
            state = step.state if step is not None else StepState.PENDING
            mark = Spinner("dots", style="cyan") if state is StepState.RUNNING else _MARKS[state]
            table.add_row(mark, self._describe(name, step))
        return table
