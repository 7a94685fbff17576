"""The broker side of distributed execution: Celery on Redis, and orch's ledger beside it.

``routing`` names the Celery queue of a set of worker labels; ``message`` is what a run's
Celery message carries (never a secret); ``connection`` opens Redis; ``ledger`` keeps, in
Redis, each workflow's line of runs in submission order, its lock with a lease and fencing
tokens, and which runs started; ``fleet`` is the registry of workers; ``celery_app`` builds
the Celery application. Celery and redis-py are imported only by the modules that use them,
and those only by commands that need a broker.
"""
