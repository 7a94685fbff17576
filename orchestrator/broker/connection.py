"""Opening the Redis behind the broker URL, and naming it without its password."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from orchestrator.errors import OrchError, UsageError

if TYPE_CHECKING:
    import redis

# Answers from Redis come within these, or the broker counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 3.0
COMMAND_TIMEOUT_SECONDS = 10.0


class BrokerUnavailable(OrchError):
    """The broker (Redis) cannot be reached, or refused a command."""


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for messages and logs)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def redis_url(url: str) -> str:
    """The redis-py form of a Celery broker URL (``redis+socket://`` → ``unix://``)."""
    if url.startswith("redis+socket://"):
        return "unix://" + url[len("redis+socket://") :]
    if url.startswith(("redis://", "rediss://", "unix://")):
        return url
    raise UsageError(
        f"broker {redacted(url)!r} is not a Redis URL: orch's broker is Redis "
        "(redis://host:6379/0, rediss://..., or redis+socket:///path/to/redis.sock)"
    )


def open_redis(url: str) -> redis.Redis:
    """A client for the broker's Redis; nothing is sent until it is used."""
    import redis

    return redis.Redis.from_url(
        redis_url(url),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        decode_responses=True,
        health_check_interval=30,
    )


def unavailable(url: str, exc: Exception) -> BrokerUnavailable:
    reason = redacted(str(exc)).rstrip(".") or type(exc).__name__
    return BrokerUnavailable(
        f"cannot reach the broker at {redacted(url)}: {reason}. Start Redis there, "
        "or correct ORCH_BROKER_URL (setting 'broker')"
    )
