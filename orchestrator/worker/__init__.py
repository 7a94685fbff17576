"""``orch worker``: a Celery worker that runs the runs other hosts send to the broker.

A front end beside ``cli`` and ``service``: ``start`` starts the worker (its heartbeat and
watchdog threads, then Celery's own worker loop), ``runtime`` is the running worker (its
options, clones and broker), ``app`` is the Celery
application with orch's one task (``celery -A orchestrator.worker.app inspect ...`` works
against it), ``execute`` runs one message, ``lease`` keeps a running run's lock,
``watchdog`` finds lost workers and ``lost`` records their runs ``failed``.
Celery is imported only here and in ``orchestrator.broker``.
"""
