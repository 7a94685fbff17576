"""Cron expressions and time zones: what is valid, and why not.

``croniter`` is the parser: an expression is valid when croniter reads it and it names at
least one date; the messages name the field at fault and the range it takes. A time zone is
valid when ``zoneinfo`` finds it (``UTC`` always is, even on a host without a zone
database). Documents are validated with these rules and the scheduler evaluates with them,
so what passes ``orch validate`` is what ``orch schedule`` can run.

croniter is imported only when an expression is read (it takes a tenth of a second).
"""

from __future__ import annotations

import bisect
import copy
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

if TYPE_CHECKING:
    from croniter import croniter

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (
    ("minute", "minutes are 0-59"),
    ("hour", "hours are 0-23"),
    ("day of month", "days of the month are 1-31 or L"),
    ("month", "months are 1-12 or JAN-DEC"),
    ("day of week", "days of the week are 0-7 (0 and 7 are Sunday) or SUN-SAT"),
)
_CHARACTERS = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")
_STEP_ZERO = re.compile(r"/0*(?:,|$)")
# croniter's H (hashed) and R (random) pick a time per job: a schedule must name its times.
_CHOSEN_BY_CRONITER = re.compile(r"(?:^|[,/#-])[HR](?:$|[,/#-])", re.IGNORECASE)
# Zone files that are no IANA zone name: leap-second clocks (right/, off by the leap
# seconds), duplicates (posix/), and the host's own setting.
_NOT_IANA_NAMES = ("right/", "posix/")
_HOST_DEPENDENT = ("localtime", "posixrules")
_START = datetime(2000, 1, 1)
ONE_DAY = timedelta(days=1)


class ScheduleProblem(ValueError):
    """A cron expression or time zone that cannot be evaluated."""


@dataclass(frozen=True)
class Cron:
    """A valid cron expression, read by croniter.

    ``fixed`` is Vixie cron's distinction: an expression whose minute and hour fields both
    name particular values (neither begins with ``*``) runs at fixed times of day, and is
    treated specially when a daylight-saving change skips or repeats its time.

    Wall-clock times are naive datetimes. croniter decides which dates match (day of month,
    month, day of week with their ``L``, ``W`` and ``#`` forms); the times of day are the
    minute and hour values croniter expanded, so a step is a bisection, not a search.
    """

    expression: str
    fields: tuple[str, ...]
    fixed: bool
    times_of_day: tuple[int, ...]  # minutes after midnight, ascending

    @property
    def _days(self) -> str:
        return " ".join(("0", "0", *self.fields[2:]))

    def first_after(self, wall: datetime) -> datetime:
        """The first wall-clock time later than ``wall`` that the expression names."""
        day = wall.date()
        if _first_day_from(self._days, day) == day:
            later = bisect.bisect_right(self.times_of_day, wall.hour * 60 + wall.minute)
            if later < len(self.times_of_day):
                return _at(day, self.times_of_day[later])
        return _at(_first_day_from(self._days, day + ONE_DAY), self.times_of_day[0])

    def last_before(self, wall: datetime) -> datetime:
        """The last wall-clock time earlier than ``wall`` that the expression names."""
        day = wall.date()
        if _last_day_until(self._days, day) == day:
            minute = wall.hour * 60 + wall.minute
            on_the_minute = wall.second == 0 and wall.microsecond == 0
            earlier = bisect.bisect_left(self.times_of_day, minute + (0 if on_the_minute else 1))
            if earlier > 0:
                return _at(day, self.times_of_day[earlier - 1])
        return _at(_last_day_until(self._days, day - ONE_DAY), self.times_of_day[-1])


def _at(day: date, minutes: int) -> datetime:
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)


@functools.lru_cache(maxsize=8192)
def _first_day_from(days: str, day: date) -> date:
    """The first date on or after ``day`` that the day fields of ``days`` match."""
    from croniter import CroniterError

    iterator = copy.copy(_parsed(days))
    iterator.set_current(_at(day, 0) - timedelta(seconds=1), force=True)
    try:
        found: datetime = iterator.get_next(datetime)
    except CroniterError as exc:
        raise ScheduleProblem(f"no date after {day} matches {days!r}: {exc}") from exc
    return found.date()


@functools.lru_cache(maxsize=8192)
def _last_day_until(days: str, day: date) -> date:
    """The last date on or before ``day`` that the day fields of ``days`` match."""
    from croniter import CroniterError

    iterator = copy.copy(_parsed(days))
    iterator.set_current(_at(day + ONE_DAY, 0), force=True)
    try:
        found: datetime = iterator.get_prev(datetime)
    except CroniterError as exc:
        raise ScheduleProblem(f"no date before {day} matches {days!r}: {exc}") from exc
    return found.date()


@functools.lru_cache(maxsize=256)
def _parsed(expression: str) -> croniter:
    """croniter's reading of ``expression`` (copied before each use: iterators keep state)."""
    from croniter import croniter

    return croniter(expression, _START)


@functools.lru_cache(maxsize=256)
def cron(expression: str) -> Cron:
    """``expression`` read, or ``ScheduleProblem`` saying what is wrong with it."""
    problem = cron_problem(expression)
    if problem is not None:
        raise ScheduleProblem(f"{expression!r} {problem}")
    text = expression.strip()
    fields = tuple(MACROS.get(text, text).split())
    expanded = _parsed(" ".join(fields)).expanded
    minutes = range(60) if expanded[0] == ["*"] else expanded[0]
    hours = range(24) if expanded[1] == ["*"] else expanded[1]
    return Cron(
        expression=expression,
        fields=fields,
        fixed=not fields[0].startswith("*") and not fields[1].startswith("*"),
        times_of_day=tuple(sorted({int(h) * 60 + int(m) for h in hours for m in minutes})),
    )


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression that fires (None when it is one).

    The sentence follows the expression in messages: ``'0 25 * * *' <problem>``.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text in MACROS:
            return None
        return f"is not a cron macro: use one of {', '.join(MACROS)} or five fields"
    fields = text.split()
    if len(fields) != 5:
        return f"has {len(fields)} fields: a cron expression has 5 (minute hour day month weekday)"
    if not all(_CHARACTERS.match(field) for field in fields):
        return "has characters a cron field cannot contain"
    chosen = [f for f in fields if _CHOSEN_BY_CRONITER.search(f)]
    if chosen:
        return (
            f"lets the scheduler pick a time ({chosen[0]!r}: H and R are hashed and random "
            "values): write the minute and hour it should run"
        )
    from croniter import CroniterBadDateError, CroniterError

    try:
        iterator = copy.copy(_parsed(" ".join(fields)))
    except CroniterError as exc:
        return _field_problems(fields) or f"cannot be read: {exc}"
    try:
        iterator.get_next(datetime)
    except CroniterBadDateError:
        return _never_fires(fields)
    return None


def _field_problems(fields: list[str]) -> str | None:
    """The fields croniter refuses, each read on its own with the others ``*``."""
    from croniter import CroniterError

    problems = []
    for index, field in enumerate(fields):
        alone = ["*"] * 5
        alone[index] = field
        try:
            _parsed(" ".join(alone))
        except CroniterError:
            name, values = _FIELDS[index]
            if _STEP_ZERO.search(field):
                problems.append(f"{name} {field!r} steps by 0: a step after '/' is 1 or more")
            else:
                problems.append(f"{name} {field!r} is not valid: {values}")
    if not problems:
        return None
    return "cannot be read: " + "; ".join(problems)


def _never_fires(fields: list[str]) -> str:
    day, month = fields[2], fields[3]
    if day not in ("*", "?") and fields[4] in ("*", "?"):
        return f"never fires: day of month {day!r} does not occur in month {month!r}"
    return "never fires: no date matches its day and month fields"


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name; empty means UTC)."""
    if name in ("", "UTC"):
        return UTC
    problem = zone_problem(name)
    if problem is not None:
        raise ScheduleProblem(problem)
    return ZoneInfo(name)


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not a time zone on this host (None when it is one)."""
    if name in ("", "UTC"):
        return None
    if name in _HOST_DEPENDENT:
        return (
            f"time zone {name!r} means whatever this host is set to: name the zone, "
            "e.g. 'Europe/Berlin'"
        )
    if not name.startswith(_NOT_IANA_NAMES):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return None
    hint = _closest_zone(name)
    advice = f"did you mean {hint!r}?" if hint else "use an IANA name such as 'Europe/Berlin'"
    return f"unknown time zone {name!r}: {advice}"


def _closest_zone(name: str) -> str | None:
    # Only on the error path: listing the zone database takes a tenth of a second.
    import difflib

    names = available_timezones() - set(_HOST_DEPENDENT) | {"UTC"}
    by_case = {known.lower(): known for known in names}
    parts = name.strip().strip("/").split("/")
    # A zone file's path or a prefixed name (right/…, /usr/share/zoneinfo/…) ends in the name.
    for start in range(len(parts)):
        tail = "/".join(parts[start:]).lower()
        if tail in by_case:
            return by_case[tail]
    found = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    return found[0] if found else None
