"""The registry of workers: who serves which labels and repositories, and what runs where.

Each worker writes its entry into the hash ``orch:workers`` every few seconds (its
heartbeat). A worker whose heartbeat is older than its own ``lost_after`` is shown as lost;
entries a day old are dropped.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.broker.ledger import Ledger
from orchestrator.broker.message import normal_url
from orchestrator.broker.routing import serves

WORKERS = "orch:workers"
FORGET_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class WorkerEntry:
    name: str
    host: str
    labels: tuple[str, ...]
    repos: tuple[str, ...]
    concurrency: int
    pid: int
    started: float
    heartbeat: float
    lost_after: float
    running: tuple[Mapping[str, str], ...] = ()
    state: str = "running"
    version: str = ""
    queues: tuple[str, ...] = field(default_factory=tuple)

    def alive(self, now: float | None = None) -> bool:
        moment = time.time() if now is None else now
        return self.state == "running" and moment - self.heartbeat <= self.lost_after

    def status(self, now: float | None = None) -> str:
        if self.state != "running":
            return self.state
        return "alive" if self.alive(now) else "lost"

    def serves(self, labels: Iterable[str], repo: str | None = None) -> bool:
        if repo is not None and normal_url(repo) not in {normal_url(r) for r in self.repos}:
            return False
        return serves(self.labels, labels)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("labels", "repos", "queues"):
            data[key] = list(data[key])
        data["running"] = [dict(r) for r in self.running]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkerEntry:
        return cls(
            name=str(data.get("name", "")),
            host=str(data.get("host", "")),
            labels=tuple(data.get("labels") or ()),
            repos=tuple(data.get("repos") or ()),
            concurrency=int(data.get("concurrency") or 0),
            pid=int(data.get("pid") or 0),
            started=float(data.get("started") or 0),
            heartbeat=float(data.get("heartbeat") or 0),
            lost_after=float(data.get("lost_after") or 60),
            running=tuple(dict(r) for r in data.get("running") or ()),
            state=str(data.get("state") or "running"),
            version=str(data.get("version") or ""),
            queues=tuple(data.get("queues") or ()),
        )


def beat(ledger: Ledger, entry: WorkerEntry) -> None:
    """Write the worker's entry (its heartbeat)."""
    text = json.dumps(entry.to_json(), separators=(",", ":"))
    ledger.call(lambda: ledger.client.hset(WORKERS, entry.name, text))


def workers(ledger: Ledger, now: float | None = None) -> list[WorkerEntry]:
    """Every known worker, by name; entries a day old are forgotten."""
    moment = time.time() if now is None else now
    raw = ledger.call(lambda: ledger.client.hgetall(WORKERS))
    found: list[WorkerEntry] = []
    for name, text in sorted((str(k), str(v)) for k, v in raw.items()):
        try:
            entry = WorkerEntry.from_json(json.loads(text))
        except (ValueError, TypeError, AttributeError):
            continue
        if moment - entry.heartbeat > FORGET_AFTER_SECONDS:
            ledger.call(functools.partial(ledger.client.hdel, WORKERS, name))
            continue
        found.append(entry)
    return found


def live_server(
    entries: Iterable[WorkerEntry], labels: Iterable[str], repo: str | None = None
) -> bool:
    """True when a live worker serves ``labels`` (and ``repo``)."""
    wanted = tuple(labels)
    return any(e.alive() and e.serves(wanted, repo) for e in entries)
