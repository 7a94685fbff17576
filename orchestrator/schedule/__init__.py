"""The scheduler: cron arithmetic (``due``), claims, and the pass that runs due documents.

Importing this package loads only the cron arithmetic; ``scheduler`` (which runs documents
through ``api``) is imported by ``api`` itself.
"""

from orchestrator.schedule.due import Due, ScheduleProblem, due_time, iso_utc, next_run

__all__ = ["Due", "ScheduleProblem", "due_time", "iso_utc", "next_run"]
