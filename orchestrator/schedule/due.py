"""When a scheduled document is due: cron arithmetic, and nothing else.

The rule: a document is due at the latest cron time ``t <= now`` of any of its expressions
(evaluated in ``on.timezone``) that is later than both the commit that last changed the
document and the cron time of its last scheduled run. Only the latest such time runs, so a
scheduler that was down for a week runs a daily document once, not seven times; and a
schedule committed at 15:00 for 02:00 first runs at 02:00 the next day.

Which instants an expression names in a time zone, daylight-saving changes included, is
``times``' business; this module only picks the one run that is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from orchestrator.model import Document
from orchestrator.schedule.times import latest_time, next_time


def iso_utc(moment: datetime) -> str:
    """``2026-03-11T02:00:00Z``: how cron times are recorded."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def due_time(
    expressions: Sequence[str],
    timezone: str,
    now: datetime,
    *,
    changed_at: datetime,
    last_cron_time: datetime | None,
) -> tuple[str, datetime] | None:
    """(expression, cron time) of the one run due now, or None.

    The latest cron time of all ``expressions`` that is ``<= now`` and later than both
    ``changed_at`` (the document's last commit) and ``last_cron_time`` (its last scheduled
    run); None when there is no such time.
    """
    floor = max(changed_at, last_cron_time) if last_cron_time is not None else changed_at
    best: tuple[str, datetime] | None = None
    for expression in expressions:
        latest = latest_time(expression, timezone, now)
        if latest > floor and (best is None or latest > best[1]):
            best = (expression, latest)
    return best


def next_run(document: Document, now: datetime | None = None) -> datetime | None:
    """The next cron time of a scheduled document (UTC), or None without a schedule.

    Raises ``ScheduleProblem`` when an expression or the time zone cannot be evaluated.
    """
    triggers = document.triggers
    if triggers is None or not triggers.schedule:
        return None
    moment = now or datetime.now(UTC)
    return min(next_time(expression, triggers.timezone, moment) for expression in triggers.schedule)


@dataclass(frozen=True)
class Due:
    """One run the scheduler owes: a document, the expression and the cron time it is for."""

    path: str
    workflow_id: str
    expression: str
    cron_time: str
    timezone: str = "UTC"
