"""The Celery application orch sends runs with, and its workers consume them with.

One task, ``orch.run``, whose only argument is the run's message (JSON). Runs are
acknowledged late (after they ran), one message per free thread is fetched, and a message
a dead worker held comes back after the transport's visibility timeout; orch's ledger makes
sure a message delivered twice runs once. Task events are on, so ``celery events`` and
Flower see the runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.broker.connection import (
    COMMAND_TIMEOUT_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    redacted,
    redis_url,
    unavailable,
)
from orchestrator.broker.routing import BASE_QUEUE

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "orch.run"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
# An unacknowledged message comes back after this long (a worker passes its own).
DEFAULT_VISIBILITY_SECONDS = 60.0


def make_app(url: str, *, visibility_timeout: float = DEFAULT_VISIBILITY_SECONDS) -> Celery:
    """A Celery application on the broker ``url`` (not connected until used)."""
    from celery import Celery

    redis_url(url)  # a clear error for a broker that is not Redis
    app = Celery("orch", broker=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=BASE_QUEUE,
        task_create_missing_queues=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        broker_connection_retry_on_startup=True,
        broker_channel_error_retry=True,
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
        broker_transport_options=transport_options(visibility_timeout),
    )
    return app


def transport_options(visibility_timeout: float) -> dict[str, Any]:
    return {
        "visibility_timeout": max(int(visibility_timeout), 1),
        # Look for messages of dead workers a few times per visibility timeout.
        "unacked_restore_interval": max(int(visibility_timeout / 4), 1),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "health_check_interval": 10,
    }


def send(app: Celery, message: dict[str, Any], queue: str) -> None:
    """Publish a run's message on ``queue``; BrokerUnavailable when the broker is down."""
    try:
        app.send_task(TASK_NAME, kwargs={"run": message}, queue=queue, ignore_result=True)
    except Exception as exc:  # kombu raises its own and redis-py's errors
        raise unavailable(str(app.conf.broker_url), exc) from exc


__all__ = ["DEFAULT_BROKER_URL", "TASK_NAME", "make_app", "redacted", "send"]
