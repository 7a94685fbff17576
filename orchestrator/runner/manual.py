"""Manual steps: confirmed in advance, at the prompt, or (an unattended run) by a person the
run waits for, who may cancel the run instead."""

from __future__ import annotations

from orchestrator.model import Step
from orchestrator.record import timestamp
from orchestrator.runner.execution import Execution, Observer
from orchestrator.runner.interruption import CancelRequested
from orchestrator.runner.outcome import Outcome
from orchestrator.runner.steering import CANCEL, Steering


def confirm(execution: Execution, step: Step, instruction: str, observer: Observer) -> Outcome:
    if step.name in execution.confirmed:
        return Outcome(ok=True, log=f"confirmed in advance by {execution.actor}\n")
    answer = observer.confirm(step, instruction)
    if answer is True:
        return Outcome(ok=True, log=f"confirmed by {execution.actor}\n")
    if answer is False:
        return Outcome(ok=False, log="declined\n", error="the operator declined this step")
    if execution.steering is not None and execution.waits_for_people:
        return _wait_for_person(execution.steering, step, instruction)
    message = (
        f"manual step '{step.name}' needs a person to confirm it: run interactively, "
        f"or confirm it in advance with --confirm {step.name}"
    )
    return Outcome(ok=False, log=message + "\n", error=message)


def _wait_for_person(steering: Steering, step: Step, instruction: str) -> Outcome:
    """An unattended run at a manual step: the run waits (recorded ``waiting``) until a
    person confirms or cancels it, or the step's timeout fails it."""
    waited = steering.wait_for_answer(step, instruction)
    answer = waited.answer
    if answer is None:
        message = (
            f"nobody confirmed manual step '{step.name}' within its timeout "
            f"({step.timeout_seconds:g}s)"
        )
        return Outcome(ok=False, log=message + "\n", error=message, transitions=waited.transitions)
    if answer.action == CANCEL:
        raise CancelRequested(answer, waited.transitions)
    note = f"confirmed by {answer.by} at {timestamp(answer.at)}\n"
    return Outcome(ok=True, log=note, answer=answer, transitions=waited.transitions)
