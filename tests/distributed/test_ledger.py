"""The ledger's scripts against a real Redis: order, one start per run, leases, fencing, loss;
and routing, messages and URLs, which need no Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from orchestrator.broker import routing
from orchestrator.broker.connection import redacted
from orchestrator.broker.ledger import Ledger
from orchestrator.broker.message import BadMessage, RunMessage
from orchestrator.errors import UsageError


def _message(run_id: str, workflow: str = "deploy") -> RunMessage:
    return RunMessage(
        run_id=run_id,
        workflow=workflow,
        repo="/srv/git/ops.git",
        commit="a" * 40,
        path=f"intents/{workflow}.md",
        blob="b" * 40,
        trigger="api",
        actor="ci",
        queued_at="2026-12-01T10:00:00.000Z",
    )


def test_runs_start_once_in_submission_order_under_one_lock(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    first, second, third = (_message(f"run-{n}") for n in (1, 2, 3))
    assert [ledger.register(m, "orch") for m in (first, second, third)] == [1, 2, 3]
    assert ledger.register(second, "orch") == 2  # registering again changes nothing

    behind = ledger.claim(second, "w1@a", "a", 5000)
    assert (behind.outcome, behind.detail) == ("behind", "run-1")
    started = ledger.claim(first, "w1@a", "a", 5000)
    assert (started.outcome, started.detail, started.token) == ("started", "run-1 1 w1@a", 1)
    again = ledger.claim(first, "w2@b", "b", 5000)
    assert (again.outcome, again.detail) == ("done", "started")
    assert ledger.holder(first.workflow_key) == "run-1 1 w1@a"

    assert ledger.renew(first, started, 5000) is True
    assert ledger.finish(first, started, "completed") == "run-2"
    assert ledger.holder(first.workflow_key) is None
    assert ledger.run("run-1")["state"] == "completed"
    late = ledger.claim(first, "w2@b", "b", 5000)
    assert (late.outcome, late.detail) == ("done", "completed")

    next_start = ledger.claim(second, "w2@b", "b", 5000)
    assert next_start.token == 2
    # The first holder's claim no longer renews anything: it is fenced out.
    assert ledger.renew(first, started, 5000) is False
    assert ledger.position(third) == (1, "run-2")


def test_a_lease_that_runs_out_declares_the_run_lost_once(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    first, second = _message("run-1"), _message("run-2")
    for message in (first, second):
        ledger.register(message, "orch")
    claim = ledger.claim(first, "w1@a", "host-a", 300)
    ledger.note_step("run-1", "migrate")
    assert ledger.declare_lost(first.workflow_key, "run-1") is None  # still leased
    time.sleep(0.5)
    assert ledger.declare_lost(first.workflow_key, "run-1") == "run-2"
    assert ledger.declare_lost(first.workflow_key, "run-1") is None  # once
    assert ledger.run("run-1")["state"] == "lost"
    entry = ledger.unrecorded()["run-1"]
    assert (entry["worker"], entry["host"], entry["token"], entry["step"]) == (
        "w1@a",
        "host-a",
        "1",
        "migrate",
    )
    assert json.loads(entry["message"])["run_id"] == "run-1"
    # The lost worker's finish changes no state and frees nothing it no longer holds.
    following = ledger.claim(second, "w2@b", "host-b", 5000)
    assert following.token == 2
    assert ledger.finish(first, claim, "completed") == "run-2"
    assert ledger.run("run-1")["state"] == "lost"
    assert ledger.holder(first.workflow_key) == following.detail


def test_a_run_that_could_not_be_sent_leaves_its_line(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    first, second = _message("run-1"), _message("run-2")
    ledger.register(first, "orch")
    ledger.register(second, "orch")
    assert ledger.unregister(first) is True
    assert ledger.run("run-1") == {}
    assert ledger.claim(second, "w1@a", "a", 5000).started
    assert ledger.unregister(second) is False  # started: stays


def test_workflows_of_other_repositories_have_lines_of_their_own(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    here = _message("run-1")
    there = RunMessage(**{**here.__dict__, "run_id": "run-2", "repo": "/srv/git/other.git"})
    assert here.workflow_key != there.workflow_key
    assert ledger.register(here, "orch") == 1
    assert ledger.register(there, "orch") == 1
    assert ledger.claim(here, "w", "h", 5000).started
    assert ledger.claim(there, "w", "h", 5000).started


def test_routing_by_label_sets() -> None:
    assert routing.queue_for([]) == "orch"
    assert routing.queue_for(["net-a", "gpu"]) == "orch.gpu+net-a"
    assert routing.queues_served(["net-a", "gpu"]) == [
        "orch",
        "orch.gpu",
        "orch.net-a",
        "orch.gpu+net-a",
    ]
    assert routing.split_labels(" gpu, net-a ,gpu,") == ("gpu", "net-a")
    with pytest.raises(UsageError) as bad:
        routing.split_labels("gpu,Big GPU")
    assert str(bad.value) == (
        "--labels: 'Big GPU' is not a worker label: use up to 40 lowercase letters, digits, "
        "'-' and '_', starting with a letter or digit"
    )
    with pytest.raises(UsageError) as many:
        routing.queues_served([f"l{n}" for n in range(9)])
    assert str(many.value).startswith("--labels: a worker may have at most 8 labels")


def test_messages_and_urls() -> None:
    message = _message("run-1").numbered(7)
    data = message.to_json()
    assert data["format"] == 1 and data["sequence"] == 7
    assert RunMessage.from_json(json.loads(json.dumps(data))) == message
    with pytest.raises(BadMessage) as other:
        RunMessage.from_json({**data, "format": 2, "orch_version": "9.0.0"})
    assert str(other.value) == (
        "run message format 2 is not 1: it was sent by orch 9.0.0; this worker runs orch 0.1.0"
    )
    with pytest.raises(BadMessage) as lacking:
        RunMessage.from_json({**data, "commit": "", "blob": None})
    assert str(lacking.value) == "run message lacks blob, commit"
    assert redacted("redis://:s3cret@broker:6379/0") == "redis://:***@broker:6379/0"
    assert redacted("rediss://orch:s3cret@broker:6380/1") == "rediss://orch:***@broker:6380/1"
    assert redacted("redis://broker:6379/0") == "redis://broker:6379/0"
