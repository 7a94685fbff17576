"""Order and exclusion across machines, kept in Redis beside the Celery queues.

Per workflow (of one repository) Redis holds

- ``orch:line:<wf>`` — a sorted set: the runs not yet finished, scored by their submission
  sequence (``orch:seq:<wf>``, one ``INCR`` per submission). Only the run at the head may
  start, so runs start in submission order;
- ``orch:lock:<wf>`` — the lock of the running run, ``"<run> <token> <worker>"``, with a
  lease (``PX``) its worker renews. The token comes from ``orch:fence:<wf>`` and grows with
  every start: it is recorded with the run (``placement.fencing_token``), and a worker whose
  lease ran out finds its token gone and starts no further step;
- ``orch:run:<run>`` — the run's state (``queued → started → completed | failed | lost``),
  its message, and who started it. Starting is one atomic script: a message delivered twice
  starts the run once, and a redelivered message of a started run is dropped.

A lease that expires means a lost worker: a watchdog (every worker runs one) declares the run
``lost`` (atomically, once), which frees the head for the next run and leaves the run in
``orch:unrecorded`` until a worker records it ``failed`` in the trace. Every script touches
the keys of one workflow; Redis runs each one atomically.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.broker.connection import BrokerUnavailable, open_redis, unavailable
from orchestrator.broker.message import RunMessage

if TYPE_CHECKING:
    import redis

LINES = "orch:lines"
UNRECORDED = "orch:unrecorded"
WATCHDOG = "orch:watchdog"
# How long a finished run's entry stays readable (orch runs, orch workers, duplicates).
KEEP_SECONDS = 7 * 24 * 3600

_REGISTER = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return tonumber(redis.call('HGET', KEYS[1], 'sequence'))
end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'queued', 'sequence', seq, 'workflow', ARGV[2],
  'message', ARGV[3], 'registered', ARGV[4], 'rung', ARGV[4], 'queue', ARGV[5])
return seq
"""

_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown', ''} end
if state ~= 'queued' then return {'done', state} end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)
if head[1] ~= ARGV[1] then return {'behind', head[1] or ''} end
local holder = redis.call('GET', KEYS[3])
if holder then return {'locked', holder} end
local token = redis.call('INCR', KEYS[4])
local value = ARGV[1] .. ' ' .. token .. ' ' .. ARGV[2]
redis.call('SET', KEYS[3], value, 'PX', ARGV[4])
redis.call('HSET', KEYS[1], 'state', 'started', 'worker', ARGV[2], 'host', ARGV[3],
  'token', token, 'started', ARGV[5])
return {'started', value}
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_FINISH = """
if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], 'state') == 'started' then
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'ended', ARGV[4])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
local head = redis.call('ZRANGE', KEYS[2], 0, 0)
if not head[1] then redis.call('SREM', KEYS[4], ARGV[6]) return '' end
return head[1]
"""

_DECLARE_LOST = """
if redis.call('HGET', KEYS[1], 'state') ~= 'started' then return false end
if redis.call('EXISTS', KEYS[3]) == 1 then return false end
redis.call('HSET', KEYS[1], 'state', 'lost', 'ended', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local found = redis.call('HMGET', KEYS[1], 'worker', 'host', 'token', 'message', 'started',
  'step')
local entry = cjson.encode({run = ARGV[1], worker = found[1], host = found[2],
  token = found[3], message = found[4], started = found[5], step = found[6], lost = ARGV[2]})
redis.call('HSET', KEYS[4], ARGV[1], entry)
local head = redis.call('ZRANGE', KEYS[2], 0, 0)
if not head[1] then redis.call('SREM', KEYS[5], ARGV[4]) return '' end
return head[1]
"""

_UNREGISTER = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


def _keys(workflow_key: str) -> dict[str, str]:
    return {
        "line": f"orch:line:{workflow_key}",
        "seq": f"orch:seq:{workflow_key}",
        "lock": f"orch:lock:{workflow_key}",
        "fence": f"orch:fence:{workflow_key}",
    }


def run_key(run_id: str) -> str:
    return f"orch:run:{run_id}"


@dataclass(frozen=True)
class Claim:
    """What trying to start a run found: ``started`` (with the lock value), or why not."""

    outcome: str
    detail: str = ""

    @property
    def started(self) -> bool:
        return self.outcome == "started"

    @property
    def token(self) -> int:
        return int(self.detail.split()[1]) if self.started else 0


@dataclass(frozen=True)
class Head:
    """The first run of a workflow's line."""

    workflow_key: str
    run_id: str
    state: str
    fields: dict[str, str]

    @property
    def message(self) -> RunMessage | None:
        text = self.fields.get("message")
        if not text:
            return None
        return RunMessage.from_json(json.loads(text)).numbered(
            int(self.fields.get("sequence") or 0)
        )


class Ledger:
    """orch's bookkeeping in the broker's Redis (see the module's description)."""

    def __init__(self, url: str, client: redis.Redis | None = None) -> None:
        self.url = url
        self.client = client or open_redis(url)
        self._scripts: dict[str, Any] = {}

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        return script

    def call(self, action: Callable[[], Any]) -> Any:
        import redis

        try:
            return action()
        except redis.RedisError as exc:
            raise unavailable(self.url, exc) from exc

    def ping(self) -> None:
        self.call(self.client.ping)

    def register(self, message: RunMessage, queue: str) -> int:
        """Put the run at the end of its workflow's line; its sequence number (again the same
        number when the run was registered before)."""
        keys = _keys(message.workflow_key)
        payload = json.dumps(message.to_json(), separators=(",", ":"))
        script = self._script(_REGISTER)
        result = self.call(
            lambda: script(
                keys=[run_key(message.run_id), keys["line"], keys["seq"], LINES],
                args=[message.run_id, message.workflow_key, payload, _now(), queue],
            )
        )
        return int(result)

    def unregister(self, message: RunMessage) -> bool:
        """Take a queued run out of its line again (its message could not be sent)."""
        keys = _keys(message.workflow_key)
        script = self._script(_UNREGISTER)
        done = self.call(
            lambda: script(keys=[run_key(message.run_id), keys["line"]], args=[message.run_id])
        )
        return bool(done)

    def claim(self, message: RunMessage, worker: str, host: str, lease_ms: int) -> Claim:
        """Start the run if it is the head of its line and nothing holds the lock."""
        keys = _keys(message.workflow_key)
        script = self._script(_CLAIM)
        outcome, detail = self.call(
            lambda: script(
                keys=[run_key(message.run_id), keys["line"], keys["lock"], keys["fence"]],
                args=[message.run_id, worker, host, lease_ms, _now()],
            )
        )
        return Claim(str(outcome), str(detail))

    def renew(self, message: RunMessage, claim: Claim, lease_ms: int) -> bool:
        """Extend the lease; False when the lock is no longer this claim's (fenced out)."""
        script = self._script(_RENEW)
        lock = _keys(message.workflow_key)["lock"]
        return bool(self.call(lambda: script(keys=[lock], args=[claim.detail, lease_ms])))

    def finish(self, message: RunMessage, claim: Claim, state: str) -> str | None:
        """Release the lock, leave the line; the id of the run now at the head, if any."""
        keys = _keys(message.workflow_key)
        script = self._script(_FINISH)
        head = self.call(
            lambda: script(
                keys=[run_key(message.run_id), keys["line"], keys["lock"], LINES],
                args=[
                    message.run_id,
                    claim.detail,
                    state,
                    _now(),
                    KEEP_SECONDS,
                    message.workflow_key,
                ],
            )
        )
        return str(head) or None

    def declare_lost(self, workflow_key: str, run_id: str) -> str | None:
        """Declare a started run whose lease expired lost; None when it was not (any more),
        else the id of the run now at the head ("" when the line is empty)."""
        keys = _keys(workflow_key)
        script = self._script(_DECLARE_LOST)
        result = self.call(
            lambda: script(
                keys=[run_key(run_id), keys["line"], keys["lock"], UNRECORDED, LINES],
                args=[run_id, _now(), KEEP_SECONDS, workflow_key],
            )
        )
        return None if result is None else str(result)

    def note_step(self, run_id: str, step: str) -> None:
        """The step a started run is in (a lost run's record names it)."""
        self.call(lambda: self.client.hset(run_key(run_id), "step", step))

    def run(self, run_id: str) -> dict[str, str]:
        """The run's entry (empty when the broker does not know the run)."""
        found = self.call(lambda: self.client.hgetall(run_key(run_id)))
        return {str(k): str(v) for k, v in found.items()}

    def rung(self, run_id: str) -> None:
        """Note that the run's message was (re)sent now."""
        self.call(lambda: self.client.hset(run_key(run_id), "rung", _now()))

    def head(self, workflow_key: str) -> Head | None:
        first = self.call(lambda: self.client.zrange(_keys(workflow_key)["line"], 0, 0))
        if not first:
            return None
        run_id = str(first[0])
        fields = self.run(run_id)
        return Head(workflow_key, run_id, fields.get("state", ""), fields)

    def heads(self) -> Iterator[Head]:
        """The head of every workflow line that has runs."""
        workflows = self.call(lambda: self.client.smembers(LINES))
        for workflow_key in sorted(str(w) for w in workflows):
            head = self.head(workflow_key)
            if head is not None:
                yield head

    def position(self, message: RunMessage) -> tuple[int, str | None]:
        """(runs ahead of this one in its line, the id of the run at the head)."""
        line = _keys(message.workflow_key)["line"]
        rank = self.call(lambda: self.client.zrank(line, message.run_id))
        first = self.call(lambda: self.client.zrange(line, 0, 0))
        return (-1 if rank is None else int(rank)), (str(first[0]) if first else None)

    def holder(self, workflow_key: str) -> str | None:
        value = self.call(lambda: self.client.get(_keys(workflow_key)["lock"]))
        return None if value is None else str(value)

    def unrecorded(self) -> dict[str, dict[str, Any]]:
        """Lost runs not yet recorded ``failed`` in the trace, by run id."""
        raw = self.call(lambda: self.client.hgetall(UNRECORDED))
        found: dict[str, dict[str, Any]] = {}
        for run_id, text in raw.items():
            try:
                entry = json.loads(text)
            except ValueError:
                continue
            if isinstance(entry, dict):
                found[run_id] = entry
        return found

    def note_unrecorded(self, message: RunMessage, worker: str, reason: str) -> None:
        """Leave a run for a watchdog to record ``failed`` with ``reason`` (this worker could
        not reach the trace)."""
        entry = {
            "run": message.run_id,
            "worker": worker,
            "message": json.dumps(message.to_json()),
            "reason": reason,
            "lost": _now(),
        }
        self.call(lambda: self.client.hset(UNRECORDED, message.run_id, json.dumps(entry)))

    def recording(self, run_id: str, worker: str, milliseconds: int) -> bool:
        """True for the one worker that records this lost run now."""
        key = f"orch:recording:{run_id}"
        return bool(self.call(lambda: self.client.set(key, worker, nx=True, px=milliseconds)))

    def recorded(self, run_id: str) -> None:
        self.call(lambda: self.client.hdel(UNRECORDED, run_id))

    @contextmanager
    def watch_turn(self, worker: str, milliseconds: int) -> Iterator[bool]:
        """True for the one worker whose watchdog scans now (the others skip this turn)."""
        taken = self.call(
            lambda: self.client.set(WATCHDOG, worker, nx=True, px=max(milliseconds, 1))
        )
        yield bool(taken)


def _now() -> str:
    return f"{time.time():.3f}"


__all__ = ["BrokerUnavailable", "Claim", "Head", "Ledger", "run_key"]


@functools.lru_cache(maxsize=8)
def ledger_for(url: str) -> Ledger:
    """The one ledger this process uses for the broker at ``url`` (its Redis connections are
    shared by every submitter and reader)."""
    return Ledger(url)
