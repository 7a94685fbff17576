"""The scheduler: cron arithmetic (``cron``, ``times``, ``due``) and this host's claims.

Importing this package loads no cron library: croniter is imported when an expression is
first read. The pass that runs due documents (``api.scheduling``) lives in ``api``.
"""

from orchestrator.schedule.cron import ScheduleProblem, cron_problem, zone_problem
from orchestrator.schedule.due import Due, due_time, iso_utc, next_run
from orchestrator.schedule.times import latest_time, next_time

__all__ = [
    "Due",
    "ScheduleProblem",
    "cron_problem",
    "due_time",
    "iso_utc",
    "latest_time",
    "next_run",
    "next_time",
    "zone_problem",
]
