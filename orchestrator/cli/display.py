"""Live step status for ``orch apply``: name, section, state and elapsed time of each step.

On a terminal, a table redrawn in place (rich's ``Live``, imported only then); elsewhere,
one line as each step ends, written without rich where rich would write the same
(``cli.output``).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from orchestrator.cli.output import Output, Piece
from orchestrator.model import Step, StepState
from orchestrator.record import StepRecord

# The error the run record gives the step Ctrl-C cut short (docs/running.md, "Ctrl-C").
INTERRUPTED = "interrupted"

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

_MARKS: dict[StepState, tuple[str, str]] = {
    StepState.PENDING: ("·", "dim"),
    StepState.COMPLETED: ("✓", "green"),
    StepState.FAILED: ("✗", "bold red"),
    StepState.SKIPPED: ("↷", "yellow"),
    StepState.WAITING: ("?", "bold yellow"),
    StepState.CANCELLED: ("⊘", "magenta"),
}


class LiveDisplay:
    """An ``Observer`` that draws a table of steps (on a terminal) or prints lines (elsewhere)."""

    def __init__(
        self, output: Output, steps: list[Step], *, verbose: bool, interactive: bool
    ) -> None:
        self._output = output
        self._terminal = output.is_terminal
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
        self._live: Live | None = None

    @property
    def verbose(self) -> bool:
        return self._verbose

    def __enter__(self) -> LiveDisplay:
        if self._terminal:
            from rich.live import Live

            self._live = Live(
                get_renderable=self._table,
                console=self._output.console,
                refresh_per_second=8,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
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
                self._output.print(
                    (
                        f"{self._stopped_by}: step '{step.name}' runs all the same "
                        f"(if: {self._conditions[step.name]}); {again}",
                        "yellow",
                    )
                )
        elif step.name in self._started:
            self._elapsed[step.name] = time.monotonic() - self._started.pop(step.name)
        self._rows[step.name] = step
        if not self._terminal and step.state is not StepState.RUNNING:
            mark: Piece = _MARKS.get(step.state, "")
            self._output.print(mark, " ", *self._describe(step.name, step))

    def waiting(self, message: str) -> None:
        """Another run of the workflow holds its lock: say so, then this run waits."""
        self._output.print((message, "yellow"))

    def step_output(self, step: str, line: str) -> None:
        self._output.print((f"  {step} │ ", "dim"), line)

    def confirm(self, step: Step, instruction: str) -> bool | None:
        if not self._interactive:
            return None
        if self._live is not None:
            self._live.stop()
        answer = _ask(self._output.console, step, instruction)
        if self._live is not None:
            self._live.start()
        return answer

    def _describe(self, name: str, step: StepRecord | None) -> list[tuple[str, str]]:
        """The step's line after its mark, as (text, style) pieces: on the table, the first
        piece's style (bold) is the style of the whole line."""
        pieces = [(name, "bold"), (f"  {self._sections[name]}", "dim")]
        if step is not None and step.state is StepState.SKIPPED and step.skipped_because:
            pieces.append((f"  skipped: {step.skipped_because}", "yellow"))
        seconds = self._elapsed.get(name)
        if name in self._started:
            seconds = time.monotonic() - self._started[name]
        if seconds is not None:
            pieces.append((f"  {seconds:.1f}s", "dim"))
        if step is not None and step.attempts > 1:
            pieces.append((f"  {step.attempts} attempts", "dim"))
        if step is not None and step.state is StepState.FAILED:
            pieces.append((f"  failed: {step.error or 'no reason recorded'}", "red"))
            if step.continued_on_error:
                pieces.append((" (continue_on_error: the run goes on)", "dim"))
        return pieces

    def _table(self) -> Table:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 1))
        for name, step in self._rows.items():
            state = step.state if step is not None else StepState.PENDING
            mark = (
                Spinner("dots", style="cyan")
                if state is StepState.RUNNING
                else Text(*_MARKS[state])
            )
            (first, style), *rest = self._describe(name, step)
            line = Text(first, style=style)
            for piece in rest:
                line.append(*piece)
            table.add_row(mark, line)
        return table


def _ask(console: Console, step: Step, instruction: str) -> bool:
    """Ask the person whether the manual ``step`` is done (rich's prompt)."""
    from rich.prompt import Confirm
    from rich.text import Text

    console.print(f"[bold]Manual step[/bold] '{step.name}' ({step.section}):")
    console.print(Text(instruction.rstrip("\n")), style="cyan")
    return Confirm.ask("Done? Confirm to continue", console=console, default=False)
