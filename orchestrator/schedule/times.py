"""The instants a cron expression names in a time zone, across daylight-saving changes.

Cron fields describe wall-clock times; runs happen at real instants. Between two changes of
a zone's UTC offset, wall-clock time is UTC plus a constant, so croniter's calendar
arithmetic on naive wall-clock times is exact there. This module walks a zone in such
spans and applies the rules of docs/schedule-and-serve.md at their edges:

- every instant whose wall-clock time the expression names is due, once;
- a fixed-time expression (``Cron.fixed``) is due only at the first of two instants that
  show the same wall-clock time (the repeated hour of an autumn change);
- a fixed-time expression naming a wall-clock time that a forward change skips is due at
  the instant of the change, right after the gap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from orchestrator.schedule.cron import Cron, ScheduleProblem, cron, zone

SECOND = timedelta(seconds=1)
# Offset changes are found by probing once a day. Since 1970 no zone in the IANA database
# changes its offset twice within 166 hours, so each probe interval holds at most one change.
PROBE = timedelta(days=1)
PROBES = 366
# Spans searched before giving up: each lasts until the next change of offset (about half
# a year where clocks change) or 2 * PROBES days, so this reaches decades ahead, beyond the
# longest wait croniter accepts between two dates of an expression.
MAX_SPANS = 200
_ALL_TIME = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))


@dataclass(frozen=True)
class Span:
    """UTC instants ``start <= t < end`` during which the zone keeps one offset."""

    start: datetime
    end: datetime
    offset: timedelta
    # The offset just before ``start``; equal to ``offset`` where the span was cut by the
    # search rather than begun by a change.
    offset_before: timedelta

    @property
    def skipped(self) -> tuple[datetime, datetime] | None:
        """The wall-clock times ``[from, to)`` a forward change at ``start`` skips."""
        if self.offset <= self.offset_before:
            return None
        return _wall(self.start, self.offset_before), _wall(self.start, self.offset)


def offset(zone_info: tzinfo, moment: datetime) -> timedelta:
    """The UTC offset of ``zone_info`` at ``moment``."""
    result = moment.astimezone(zone_info).utcoffset()
    return result if result is not None else timedelta(0)


def span_at(zone_info: tzinfo, moment: datetime) -> Span:
    """The span of one offset that holds ``moment`` (UTC)."""
    if not isinstance(zone_info, ZoneInfo):
        fixed = offset(zone_info, moment)
        return Span(_ALL_TIME[0], _ALL_TIME[1], fixed, fixed)
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    span = _span_around(zone_info, day)
    while moment >= span.end:
        span = _span_around(zone_info, span.end)
    return span


@functools.lru_cache(maxsize=4096)
def _span_around(zone_info: ZoneInfo, anchor: datetime) -> Span:
    here = offset(zone_info, anchor)
    start, before = anchor - PROBES * PROBE, here
    for step in range(1, PROBES + 1):
        probe = anchor - step * PROBE
        other = offset(zone_info, probe)
        if other != here:
            start, before = _change(zone_info, probe, probe + PROBE), other
            break
    end = anchor + PROBES * PROBE
    for step in range(1, PROBES + 1):
        probe = anchor + step * PROBE
        if offset(zone_info, probe) != here:
            end = _change(zone_info, probe - PROBE, probe)
            break
    return Span(start, end, here, before)


def _change(zone_info: tzinfo, low: datetime, high: datetime) -> datetime:
    """The first whole second after ``low`` (up to ``high``) with another offset than ``low``."""
    first = offset(zone_info, low)
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if offset(zone_info, datetime.fromtimestamp(middle, UTC)) == first:
            lo = middle
        else:
            hi = middle
    return datetime.fromtimestamp(hi, UTC)


def _wall(instant: datetime, shift: timedelta) -> datetime:
    """The naive wall-clock time (to the second) of a UTC ``instant`` at offset ``shift``."""
    return (instant.astimezone(UTC) + shift).replace(tzinfo=None, microsecond=0)


def _instant(wall: datetime, shift: timedelta) -> datetime:
    return (wall - shift).replace(tzinfo=UTC)


class CronTimes:
    """The due instants of one expression in one time zone."""

    def __init__(self, expression: str, timezone: str) -> None:
        self.cron: Cron = cron(expression)
        self.zone = zone(timezone)

    def first_after(self, moment: datetime) -> datetime:
        """The first due instant later than ``moment``, in UTC."""
        try:
            return self._first_after(moment.astimezone(UTC))
        except OverflowError:
            raise ScheduleProblem(self._out_of_range(moment)) from None

    def last_until(self, moment: datetime) -> datetime:
        """The last due instant at or before ``moment``, in UTC."""
        try:
            return self._last_until(moment.astimezone(UTC))
        except OverflowError:
            raise ScheduleProblem(self._out_of_range(moment)) from None

    def _out_of_range(self, moment: datetime) -> str:
        return f"{self.cron.expression!r} cannot be evaluated near {moment.isoformat()}"

    def _first_after(self, moment: datetime) -> datetime:
        cursor = moment
        for _ in range(MAX_SPANS):
            span = span_at(self.zone, cursor)
            if span.start > moment:
                if self._gap_due(span):
                    return span.start
                wall = self.cron.first_after(_wall(span.start, span.offset) - SECOND)
            else:
                wall = self.cron.first_after(_wall(moment, span.offset))
            while (instant := _instant(wall, span.offset)) < span.end:
                if not self._repeated(instant):
                    return instant
                wall = self.cron.first_after(wall)
            cursor = span.end
        raise ScheduleProblem(f"{self.cron.expression!r} names no time in the coming decades")

    def _last_until(self, moment: datetime) -> datetime:
        cursor = moment
        for _ in range(MAX_SPANS):
            span = span_at(self.zone, cursor)
            wall = self.cron.last_before(_wall(cursor, span.offset) + SECOND)
            while (instant := _instant(wall, span.offset)) >= span.start:
                if not self._repeated(instant):
                    return instant
                wall = self.cron.last_before(wall)
            if self._gap_due(span):
                return span.start
            cursor = span.start - timedelta(microseconds=1)
        raise ScheduleProblem(f"{self.cron.expression!r} named no time in the past decades")

    def _repeated(self, instant: datetime) -> bool:
        """A fixed-time expression runs only the first of two instants with one wall time."""
        return self.cron.fixed and instant.astimezone(self.zone).fold == 1

    def _gap_due(self, span: Span) -> bool:
        """A fixed-time expression naming a skipped wall time runs when the gap ends."""
        skipped = span.skipped
        if not self.cron.fixed or skipped is None:
            return False
        return self.cron.first_after(skipped[0] - SECOND) < skipped[1]


def latest_time(expression: str, timezone: str, now: datetime) -> datetime:
    """The latest due instant ``<= now`` of ``expression`` in ``timezone``, in UTC."""
    return CronTimes(expression, timezone).last_until(now)


def next_time(expression: str, timezone: str, now: datetime) -> datetime:
    """The first due instant ``> now`` of ``expression`` in ``timezone``, in UTC."""
    return CronTimes(expression, timezone).first_after(now)
