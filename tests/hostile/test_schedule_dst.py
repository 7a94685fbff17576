"""Schedules across daylight-saving changes: every minute around each change of 2026, in
zones with whole-hour, half-hour and 30-minute changes (and one without any), against a
brute-force minute walk written here, which cronsim checks in turn; then ``orch schedule
--once`` through the Berlin nights themselves.

The rules (docs/schedule-and-serve.md): every real instant whose wall-clock time matches is
due, once; a fixed-time expression (neither minute nor hour starts with ``*``) runs only the
first of two instants that show its wall-clock time, and runs at the end of a skipped
interval that held one of its times.
"""

from __future__ import annotations

import bisect
import itertools
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from orchestrator import api
from orchestrator.schedule import iso_utc, latest_time, next_run, next_time
from orchestrator.schedule.cron import cron
from tests.conftest import build_file_tree
from tests.core.helpers import document, orch

MINUTE = timedelta(minutes=1)
TICK = timedelta(microseconds=1)
ZONES = [
    "Europe/Berlin",  # +1/+2, changes at 01:00 UTC
    "America/New_York",  # -5/-4, changes at 02:00 local
    "Australia/Adelaide",  # +9:30/+10:30: changes at half past the UTC hour
    "Australia/Lord_Howe",  # +10:30/+11: a change of only 30 minutes
    "Asia/Kolkata",  # +5:30 all year
]
EXPRESSIONS = [
    "0 * * * *",  # hourly: a wildcard hour
    "*/15 * * * *",  # a wildcard minute
    "* * * * *",
    "30 2 * * *",  # fixed: inside Berlin's and New York's skipped and repeated hours
    "0 2 * * *",  # fixed: the first minute of a skipped or repeated hour
    "30 1 * * *",  # fixed: inside New York's repeated hour, Lord Howe's repeated half hour
    "0 3 * * *",  # fixed: the first wall time after Berlin's gap
    "0,30 1-3 * * *",  # fixed: a list and a range name particular times (Vixie cron)
    "*/20 2 * * *",  # a wildcard minute in a fixed hour: every real instant
    "15 */2 * * *",  # a stepped wildcard hour
    "45 2 * * 0",  # fixed, Sundays only (every change of 2026 here is on a Sunday)
    "30 2 25 10 *",  # fixed, one date: Berlin's repeated hour of 2026
]
# The window around each change in which every minute is asked, and the range the
# brute-force walk covers (wide enough to hold the answer for every daily expression).
ASKED = timedelta(hours=4)
WALKED = timedelta(days=2)


# --- the brute-force checker -----------------------------------------------------------


def _values(field: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(x) for x in base.split("-"))
        else:
            first = int(base)
            last = high if step else first
        found.update(range(first, last + 1, int(step or 1)))
    return found


class Fields:
    """A five-field expression matched the way Vixie cron does, with no cron library."""

    def __init__(self, expression: str) -> None:
        minute, hour, day, month, weekday = expression.split()
        self.minutes = _values(minute, 0, 59)
        self.hours = _values(hour, 0, 23)
        self.days = _values(day, 1, 31)
        self.months = _values(month, 1, 12)
        self.weekdays = {d % 7 for d in _values(weekday, 0, 7)}
        self.day_and_weekday = day.startswith("*") or weekday.startswith("*")
        self.fixed = not minute.startswith("*") and not hour.startswith("*")

    def match(self, wall: datetime) -> bool:
        day = wall.day in self.days
        weekday = wall.isoweekday() % 7 in self.weekdays
        days = (day and weekday) if self.day_and_weekday else (day or weekday)
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and days
        )


def walk(expression: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every due instant in ``[start, end)``: each UTC minute read as wall-clock time."""
    fields = Fields(expression)
    tz = ZoneInfo(zone)
    due: list[datetime] = []
    seen: set[datetime] = set()
    previous = (start - MINUTE).astimezone(tz).replace(tzinfo=None)
    moment = start
    while moment < end:
        wall = moment.astimezone(tz).replace(tzinfo=None)
        hit = fields.match(wall) and not (fields.fixed and wall in seen)
        skipped = previous + MINUTE
        while fields.fixed and not hit and skipped < wall:
            hit = fields.match(skipped)  # a wall time the clock jumped over
            skipped += MINUTE
        if hit:
            due.append(moment)
        seen.add(wall)
        previous = wall
        moment += MINUTE
    return due


def changes(zone: str, year: int = 2026) -> list[datetime]:
    """The instants in ``year`` at which ``zone``'s offset changes (found minute-exact)."""
    tz = ZoneInfo(zone)
    found = []
    hour = datetime(year, 1, 1, tzinfo=UTC)
    while hour.year == year:
        after = hour + timedelta(hours=1)
        if hour.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            minute = hour
            while minute.astimezone(tz).utcoffset() == hour.astimezone(tz).utcoffset():
                minute += MINUTE
            found.append(minute)
        hour = after
    return found


def windows(zone: str) -> list[datetime]:
    """The centre of each window: the changes, or two fixed nights for a zone without any."""
    return changes(zone) or [
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
    ]


def test_the_zones_change_when_the_checker_says() -> None:
    assert changes("Europe/Berlin") == [
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
    ]
    assert changes("America/New_York") == [
        datetime(2026, 3, 8, 7, tzinfo=UTC),
        datetime(2026, 11, 1, 6, tzinfo=UTC),
    ]
    assert changes("Australia/Adelaide") == [
        datetime(2026, 4, 4, 16, 30, tzinfo=UTC),
        datetime(2026, 10, 3, 16, 30, tzinfo=UTC),
    ]
    assert changes("Australia/Lord_Howe") == [
        datetime(2026, 4, 4, 15, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    ]
    assert changes("Asia/Kolkata") == []


# cronsim steps a wildcard expression's hours by 60 minutes of UTC, which passes over a wall
# hour that begins at half past a UTC hour: after Lord Howe's 30-minute change in April it
# misses 02:00 and 02:20 (and 02:15) of that night. The checker's answer for that night is
# spelled out in test_a_thirty_minute_change below.
CRONSIM_MISSES = {
    ("*/20 2 * * *", "Australia/Lord_Howe"),
    ("15 */2 * * *", "Australia/Lord_Howe"),
}


CRONSIM_CASES = [
    pytest.param(
        expression,
        zone,
        marks=[pytest.mark.xfail(strict=True, reason="cronsim skips a wall hour here")]
        if (expression, zone) in CRONSIM_MISSES
        else [],
    )
    for expression in EXPRESSIONS
    for zone in ZONES
]


@pytest.mark.parametrize(("expression", "zone"), CRONSIM_CASES)
def test_cronsim_agrees_with_the_checker(expression: str, zone: str) -> None:
    """The minute walk and cronsim (which mimics Debian's cron) name the same instants."""
    tz = ZoneInfo(zone)
    for centre in windows(zone):
        start, end = centre - WALKED, centre + WALKED
        expected = walk(expression, zone, start, end)
        simulated = []
        for found in CronSim(expression, (start - MINUTE).astimezone(tz)):
            instant = found.astimezone(UTC)
            if instant >= end:
                break
            simulated.append(instant)
        assert simulated == expected


def _asked(centre: datetime) -> Iterator[datetime]:
    moment = centre - ASKED
    while moment <= centre + ASKED:
        yield moment
        moment += MINUTE


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_every_minute_across_the_changes(zone: str, expression: str) -> None:
    """For each minute t around each change: latest_time(t) is the greatest due instant
    <= t and next_time(t) the least > t; and the two agree with each other."""
    for centre in windows(zone):
        start, end = centre - WALKED, centre + WALKED
        due = walk(expression, zone, start, end)
        # Every due instant once more, a microsecond either side and exactly on it.
        near = [d for d in due if abs(d - centre) <= ASKED]
        edges = [d + shift for d in near for shift in (-TICK, timedelta(0), TICK)]
        for moment in [*_asked(centre), *edges]:
            split = bisect.bisect_right(due, moment)  # due[:split] <= moment < due[split:]
            latest = latest_time(expression, zone, moment)
            following = next_time(expression, zone, moment)
            if split > 0:
                assert latest == due[split - 1], (iso_utc(moment), "latest")
            else:
                assert latest < start, (iso_utc(moment), "latest before the walked range")
            if split < len(due):
                assert following == due[split], (iso_utc(moment), "next")
            else:
                assert following >= end, (iso_utc(moment), "next after the walked range")
            assert latest_time(expression, zone, following) == following
            assert next_time(expression, zone, latest - TICK) == latest


# --- the cases of the issue, spelled out ------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _all(expression: str, zone: str, start: str, end: str) -> list[str]:
    found, moment = [], at(start) - TICK
    while (moment := next_time(expression, zone, moment)) < at(end):
        found.append(iso_utc(moment))
    return found


def test_the_repeated_hour_of_an_hourly_schedule_runs() -> None:
    # 2026-10-25, Berlin: 00:00 to 05:00 local holds six hours, 02:00 twice.
    assert _all("0 * * * *", "Europe/Berlin", "2026-10-24T22:00:00", "2026-10-25T04:00:00") == [
        "2026-10-24T22:00:00Z",
        "2026-10-24T23:00:00Z",
        "2026-10-25T00:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-10-25T02:00:00Z",
        "2026-10-25T03:00:00Z",
    ]
    assert latest_time("0 * * * *", "Europe/Berlin", at("2026-10-25T01:30:00")) == at(
        "2026-10-25T01:00:00"
    )
    assert next_time("0 * * * *", "Europe/Berlin", at("2026-10-25T00:30:00")) == at(
        "2026-10-25T01:00:00"
    )
    quarter = _all("*/15 * * * *", "Europe/Berlin", "2026-10-25T00:00:00", "2026-10-25T02:00:00")
    assert len(quarter) == 8


def test_a_fixed_time_in_the_repeated_hour_runs_once_at_the_first() -> None:
    assert _all("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00", "2026-10-26T12:00:00") == [
        "2026-10-25T00:30:00Z",  # 02:30 CEST; 02:30 CET an hour later does not run
        "2026-10-26T01:30:00Z",
    ]
    assert _all("30 1 * * *", "America/New_York", "2026-11-01T00:00:00", "2026-11-02T00:00:00") == [
        "2026-11-01T05:30:00Z"  # 01:30 EDT, not 01:30 EST
    ]
    # A wildcard minute in the fixed hour runs at every real instant: both 02:xx hours.
    assert _all("*/20 2 * * *", "Europe/Berlin", "2026-10-24T23:00:00", "2026-10-25T03:00:00") == [
        "2026-10-25T00:00:00Z",
        "2026-10-25T00:20:00Z",
        "2026-10-25T00:40:00Z",
        "2026-10-25T01:00:00Z",
        "2026-10-25T01:20:00Z",
        "2026-10-25T01:40:00Z",
    ]


def test_a_fixed_time_in_the_skipped_hour_runs_right_after_the_gap() -> None:
    # 2026-03-29, Berlin: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    assert _all("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00", "2026-03-30T12:00:00") == [
        "2026-03-29T01:00:00Z",  # 03:00 CEST
        "2026-03-30T00:30:00Z",
    ]
    # Two times in the gap and one right after it: one run at the gap's end.
    assert _all(
        "0,30 2,3 * * *", "Europe/Berlin", "2026-03-29T00:00:00", "2026-03-29T03:00:00"
    ) == [
        "2026-03-29T01:00:00Z",
        "2026-03-29T01:30:00Z",
    ]
    # New York, 2026-03-08: 02:30 does not exist; the run is at 03:00 EDT.
    assert _all("30 2 * * *", "America/New_York", "2026-03-08T00:00:00", "2026-03-09T00:00:00") == [
        "2026-03-08T07:00:00Z"
    ]
    # Wildcard times in the gap do not exist and do not run.
    assert _all("*/20 2 * * *", "Europe/Berlin", "2026-03-29T00:00:00", "2026-03-29T03:00:00") == []
    assert latest_time("30 2 * * *", "Europe/Berlin", at("2026-03-29T01:00:00")) == at(
        "2026-03-29T01:00:00"
    )
    assert latest_time("30 2 * * *", "Europe/Berlin", at("2026-03-29T00:59:59")) == at(
        "2026-03-28T01:30:00"
    )


def test_a_thirty_minute_change() -> None:
    # Lord Howe, 2026-04-04 15:00 UTC: 02:00 (+11) becomes 01:30 (+10:30).
    zone = "Australia/Lord_Howe"
    assert _all("*/20 1 * * *", zone, "2026-04-04T14:00:00", "2026-04-04T15:30:00") == [
        "2026-04-04T14:00:00Z",
        "2026-04-04T14:20:00Z",
        "2026-04-04T14:40:00Z",
        "2026-04-04T15:10:00Z",  # 01:40 again
    ]
    assert _all("30 1 * * *", zone, "2026-04-04T12:00:00", "2026-04-05T12:00:00") == [
        "2026-04-04T14:30:00Z"  # 01:30 (+11), not 01:30 (+10:30) half an hour later
    ]
    assert _all("*/20 2 * * *", zone, "2026-04-04T14:00:00", "2026-04-04T17:00:00") == [
        "2026-04-04T15:30:00Z",
        "2026-04-04T15:50:00Z",
        "2026-04-04T16:10:00Z",
    ]
    # 2026-10-03 15:30 UTC: 02:00 (+10:30) becomes 02:30 (+11).
    assert _all("0 2 * * *", zone, "2026-10-03T12:00:00", "2026-10-04T12:00:00") == [
        "2026-10-03T15:30:00Z"
    ]
    assert _all("10 2 * * *", zone, "2026-10-03T12:00:00", "2026-10-04T12:00:00") == [
        "2026-10-03T15:30:00Z"
    ]
    assert _all("40 2 * * *", zone, "2026-10-03T12:00:00", "2026-10-04T12:00:00") == [
        "2026-10-03T15:40:00Z"
    ]


def test_vixie_crons_fixed_time_rule_reads_the_fields_as_written() -> None:
    assert cron("30 2 * * *").fixed
    assert cron("0,30 1-3 * * *").fixed
    assert cron("0 0-23 * * *").fixed  # a range is particular values, as in Vixie cron
    assert cron("@daily").fixed
    assert not cron("@hourly").fixed
    assert not cron("0 * * * *").fixed
    assert not cron("*/15 2 * * *").fixed
    assert not cron("0 */2 * * *").fixed


def test_orch_lists_the_next_run_that_comes() -> None:
    from orchestrator.model import Document

    doc = _parsed_document('"0 * * * *"')
    assert isinstance(doc, Document)
    moment = next_run(doc, at("2026-10-25T00:30:00"))
    assert moment is not None and iso_utc(moment) == "2026-10-25T01:00:00Z"


# --- orch schedule --once through the nights --------------------------------------------


FRONT = """
id: {id}
title: {id}
status: approved
on:
  schedule: {schedule}
  timezone: Europe/Berlin
"""
BODY = "# Work\n\n```bash {step=work}\ntrue\n```\n"


def _document(workflow: str, schedule: str) -> str:
    return document(FRONT.format(id=workflow, schedule=schedule), BODY)


def _parsed_document(schedule: str) -> object:
    from orchestrator import document as documents

    text = document(FRONT.format(id="hourly", schedule=schedule), BODY)
    return documents.parse(text, Path("intents/hourly.md"))


def _commit_at(repo: Path, when: str, files: dict[str, str]) -> None:
    build_file_tree(repo, files)
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for args in (["add", "-A"], ["commit", "-q", "-m", "schedules"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)


def _cron_times(repo: Path, workflow: str) -> list[str]:
    runs = api.runs(repo, workflow=workflow, limit=100)
    assert all(r["state"] == "completed" for r in runs), runs
    return sorted(r["trigger"]["cron_time"] for r in runs)


def _once_at(repo: Path, moment: str) -> str:
    ran = orch(repo, "schedule", "--once", "--at", moment)
    assert ran.code == 0, ran.stderr
    return ran.stderr


def test_orch_schedule_through_the_autumn_night_in_berlin(git_repo: Path) -> None:
    _commit_at(
        git_repo,
        "2026-10-24T21:30:00Z",  # 23:30 CEST
        {
            "intents/hourly.md": document(FRONT.format(id="hourly", schedule='"0 * * * *"'), BODY),
            "intents/nightly.md": document(
                FRONT.format(id="nightly", schedule='"30 2 * * *"'), BODY
            ),
        },
    )
    passes = [
        "2026-10-24T22:00:30Z",  # 00:00 CEST
        "2026-10-24T23:00:30Z",  # 01:00 CEST
        "2026-10-25T00:00:30Z",  # 02:00 CEST
        "2026-10-25T00:30:30Z",  # 02:30 CEST: the nightly run
        "2026-10-25T01:00:30Z",  # 02:00 CET: the repeated hour
        "2026-10-25T01:30:30Z",  # 02:30 CET: the nightly time again, not run again
        "2026-10-25T02:00:30Z",  # 03:00 CET
        "2026-10-25T03:00:30Z",  # 04:00 CET
        "2026-10-25T03:59:00Z",
    ]
    said = {moment: _once_at(git_repo, moment) for moment in passes}
    assert "nothing is due" in said["2026-10-25T01:30:30Z"]
    assert "nothing is due" in said["2026-10-25T03:59:00Z"]
    assert _cron_times(git_repo, "hourly") == [
        "2026-10-24T22:00:00Z",
        "2026-10-24T23:00:00Z",
        "2026-10-25T00:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-10-25T02:00:00Z",
        "2026-10-25T03:00:00Z",
    ]
    assert _cron_times(git_repo, "nightly") == ["2026-10-25T00:30:00Z"]


def test_orch_schedule_through_the_spring_night_in_berlin(git_repo: Path) -> None:
    _commit_at(
        git_repo,
        "2026-03-28T12:00:00Z",
        {"intents/nightly.md": _document("nightly", '"30 2 * * *"')},
    )
    assert "nothing is due" in _once_at(git_repo, "2026-03-29T00:59:59Z")  # 01:59:59 CET
    said = _once_at(git_repo, "2026-03-29T01:00:20Z")  # 03:00:20 CEST
    assert "nightly run" in said and "for 2026-03-29T01:00:00Z" in said
    assert "nothing is due" in _once_at(git_repo, "2026-03-29T01:30:00Z")
    assert _cron_times(git_repo, "nightly") == ["2026-03-29T01:00:00Z"]


def test_the_daily_probe_sees_every_change_of_offset() -> None:
    """times.py finds offset changes by probing once a day: that needs every two changes of
    a zone to be more than two probes apart, which the zone database holds since 1970."""
    from zoneinfo import _zoneinfo, available_timezones

    from orchestrator.schedule.times import PROBE

    low = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
    high = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
    closest, seen = timedelta(days=365), 0
    for key in available_timezones():
        zone = _zoneinfo.ZoneInfo.no_cache(key)  # the pure-Python reader lists transitions
        changes = [t for t in zone._trans_utc if low <= t <= high]  # type: ignore[attr-defined]
        seen += len(changes)
        for earlier, later in itertools.pairwise(changes):
            closest = min(closest, timedelta(seconds=later - earlier))
    assert seen > 10_000
    assert closest > 2 * PROBE, closest
