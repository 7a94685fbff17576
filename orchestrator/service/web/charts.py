"""The geometry of the pictures: a run's steps drawn to scale, a workflow's run history.

Pure functions from records to coordinates; the templates draw them as inline SVG (SVG
attributes, not inline styles, so the Content-Security-Policy needs no ``unsafe-inline``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.record import moment
from orchestrator.service.web.catalog import RunSummary

WIDTH = 1000.0
MIN_BAR = 3.0
_NICE_STEPS = (
    0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    10800, 21600, 43200, 86400,
)  # fmt: skip


def duration_text(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 07 min``; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class StepBar:
    """One step's row: a bar when it ran (``x``/``width`` in 0..WIDTH), else only a note."""

    name: str
    kind: str
    state: str
    attempts: int
    duration: float | None
    x: float | None
    width: float
    note: str

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    @property
    def label(self) -> str:
        attempts = f" · {self.attempts} attempts" if self.retried else ""
        return f"{duration_text(self.duration)}{attempts}"

    @property
    def label_place(self) -> tuple[float, str]:
        """Where the label goes (x, side): after the bar, else before it, else inside."""
        start = self.x or 0.0
        end = start + self.width
        if end < WIDTH * 0.8:
            return end + 7, "after"
        if start > WIDTH * 0.2:
            return start - 7, "before"
        return end - 7, "inside"


@dataclass(frozen=True)
class Timeline:
    bars: tuple[StepBar, ...]
    ticks: tuple[Tick, ...]
    span: float


def timeline(record: Mapping[str, Any], now: datetime) -> Timeline:
    """The steps of a run on one time axis, from the run's start to its end (or now)."""
    steps = [s for s in record.get("steps") or [] if isinstance(s, dict)]
    starts = [moment(s.get("started_at")) for s in steps]
    ends = [moment(s.get("ended_at")) for s in steps]
    begin = moment(record.get("started_at")) or min((t for t in starts if t), default=None)
    finish = moment(record.get("ended_at"))
    if finish is None:
        known = [t for t in ends if t]
        running = record.get("state") in ("pending", "running", "waiting")
        finish = now if running else max(known, default=begin)
    span = 0.0 if begin is None or finish is None else (finish - begin).total_seconds()
    span = max(span, 0.001) if begin is not None and finish is not None else 0.0
    bars = []
    for step, start, end in zip(steps, starts, ends, strict=True):
        state = str(step.get("state") or "pending")
        attempts = int(step.get("attempts") or 0)
        if start is None or begin is None or step.get("taken_over_from"):
            bars.append(
                StepBar(
                    name=str(step.get("name")),
                    kind=str(step.get("kind") or ""),
                    state=state,
                    attempts=attempts,
                    duration=None,
                    x=None,
                    width=0.0,
                    note=_not_run(step),
                )
            )
            continue
        stop = end or (now if state in ("running", "waiting") else start)
        x = _scale((start - begin).total_seconds(), span)
        width = max(_scale((stop - start).total_seconds(), span), MIN_BAR)
        bars.append(
            StepBar(
                name=str(step.get("name")),
                kind=str(step.get("kind") or ""),
                state=state,
                attempts=attempts,
                duration=max((stop - start).total_seconds(), 0.0),
                x=min(x, WIDTH - MIN_BAR),
                width=min(width, WIDTH - min(x, WIDTH - MIN_BAR)),
                note="",
            )
        )
    return Timeline(tuple(bars), ticks(span), span)


def _not_run(step: Mapping[str, Any]) -> str:
    if step.get("taken_over_from"):
        return f"taken over from run {step.get('taken_over_from')} ({step.get('state')})"
    if step.get("state") == "skipped":
        return f"skipped: {step.get('skipped_because') or 'not run'}"
    return "not started"


def _scale(seconds: float, span: float) -> float:
    return 0.0 if span <= 0 else WIDTH * max(seconds, 0.0) / span


def ticks(span: float, most: int = 6) -> tuple[Tick, ...]:
    """Axis marks at a round interval, at most ``most`` + 1 of them."""
    if span <= 0:
        return ()
    step = next((s for s in _NICE_STEPS if span / s <= most), _NICE_STEPS[-1])
    marks = []
    at = 0.0
    while at <= span + 1e-9:
        marks.append(Tick(_scale(at, span), _axis_label(at, step)))
        at += step
    return tuple(marks)


def _axis_label(seconds: float, step: float) -> str:
    if step < 1:
        return f"{seconds:.2f}s".replace(".00s", "s") if seconds else "0"
    if step < 60:
        return f"{seconds:.0f}s"
    if step < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


@dataclass(frozen=True)
class HistoryBar:
    run: RunSummary
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class History:
    bars: tuple[HistoryBar, ...]
    longest: float
    height: float
    width: float


def history(runs: Sequence[RunSummary], *, height: float = 120.0, most: int = 60) -> History:
    """Duration per run (oldest on the left), coloured by state in the template."""
    shown = list(reversed(runs[:most]))
    longest = max((r.duration or 0.0 for r in shown), default=0.0)
    slot = WIDTH / max(len(shown), 20)
    bars = []
    for index, run in enumerate(shown):
        value = run.duration or 0.0
        tall = max(height * value / longest, 3.0) if longest > 0 else 3.0
        bars.append(
            HistoryBar(
                run, x=index * slot + slot * 0.15, y=height - tall, width=slot * 0.7, height=tall
            )
        )
    return History(tuple(bars), longest, height, WIDTH)
