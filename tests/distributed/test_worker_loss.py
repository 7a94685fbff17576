"""Workers that die: ``kill -9`` during a step records the run failed ("worker lost") and
never runs it again; a run whose message died with a worker before it started is run by
another worker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.conftest import LOST_AFTER, steps_document, wait_until

SLOW = steps_document(
    "slow",
    'echo "$ORCH_RUN_ID $$" >> "$MARKS"\nexec sleep "${ORCH_INPUT_SECONDS:-0}"',
    extra="inputs:\n  seconds:\n    type: number\n    default: 0\n",
)


def _marks(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(line.split()[0], int(line.split()[1])) for line in path.read_text().splitlines()]


def _state(shared_repo: Any, run_id: str) -> dict[str, Any]:
    record: dict[str, Any] = shared_repo.records().get(run_id, {})
    return record


def _in_state(shared_repo: Any, run_id: str, state: str) -> dict[str, Any] | None:
    record = _state(shared_repo, run_id)
    return record if record.get("state") == state else None


@pytest.mark.timeout(180)
def test_a_killed_worker_s_run_is_failed_once_and_its_lock_freed(
    tmp_path: Path, shared_repo: Any, redis_server: Any, start_worker: Any, start_serve: Any
) -> None:
    marks = tmp_path / "marks"
    shared_repo.commit({"intents/slow.md": SLOW})
    workers = [
        start_worker(name, concurrency=1, MARKS=str(marks), ORCH_WORKER_LOST_AFTER=LOST_AFTER)
        for name in ("w1", "w2")
    ]
    serve = start_serve()
    orphans: list[int] = []
    try:
        with serve.client() as client:
            first = serve.submit(client, "slow", seconds=120)
            second = serve.submit(client, "slow", seconds=0)
        wait_until("the first run's step", lambda: any(r == first for r, _ in _marks(marks)))
        orphans += [pid for run, pid in _marks(marks) if run == first]
        broker = redis_server.client()
        holder = broker.hget(f"orch:run:{first}", "worker")
        victim = next(w for w in workers if w.node == holder)
        survivor = next(w for w in workers if w is not victim)
        victim.kill()

        failed = wait_until(
            "the killed worker's run to be recorded failed",
            lambda: _in_state(shared_repo, first, "failed"),
            timeout=10 * float(LOST_AFTER),
        )
        message = failed["error"]["message"]
        assert message.startswith(
            f"worker lost: {victim.node} on host {socket.gethostname()} stopped renewing its "
            "lease (fencing token 1) while the run was running; recorded as failed by "
            f"{survivor.node}"
        ), message
        assert failed["error"]["step"] == "work"
        assert [s["state"] for s in failed["steps"]] == ["failed"]
        assert broker.hget(f"orch:run:{first}", "state") == "lost"

        # The lock is free again: the next run of the workflow runs, on the survivor, with a
        # newer fencing token.
        done = wait_until(
            "the second run to complete",
            lambda: _in_state(shared_repo, second, "completed"),
            timeout=60,
        )
        assert done["placement"]["worker"] == survivor.node
        assert done["placement"]["fencing_token"] == 2
        # Redelivery of the dead worker's unacknowledged message happens within about the
        # visibility timeout (lost_after): it must not start the run again.
        time.sleep(2 * float(LOST_AFTER))
        assert [r for r, _ in _marks(marks)].count(first) == 1
        assert _state(shared_repo, first)["state"] == "failed"
        assert broker.exists("orch:lock:" + broker.hget(f"orch:run:{first}", "workflow")) == 0
        assert broker.hlen("orch:unrecorded") == 0
    finally:
        for pid in orphans:  # the dead worker's step process, left running on its host
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(180)
def test_a_run_taken_by_a_worker_that_died_before_starting_it_runs_elsewhere(
    tmp_path: Path, shared_repo: Any, redis_server: Any, start_worker: Any, start_serve: Any
) -> None:
    """The worker is stopped (SIGSTOP) while it waits for messages: Redis hands it the run's
    message (it leaves the queue) but the worker never gets to start it; then it is killed.
    The message is gone with it; a watchdog sends the run again, and another worker runs it."""
    marks = tmp_path / "marks"
    body = 'echo "$ORCH_RUN_ID 0" >> "$MARKS"'
    shared_repo.commit({"intents/solo.md": steps_document("solo", body, runs_on="solo")})
    serve = start_serve()
    broker = redis_server.client()
    fast = {"MARKS": str(marks), "ORCH_WORKER_LOST_AFTER": LOST_AFTER}
    taker = start_worker("taker", labels="solo", concurrency=1, **fast)
    caught = None
    with serve.client() as client:
        for _ in range(5):
            # The worker's blocking read of the queue lasts a second: a message sent within
            # it is handed to the stopped worker.
            taker.process.send_signal(signal.SIGSTOP)
            run_id = serve.submit(client, "solo")
            time.sleep(1.5)
            state = broker.hget(f"orch:run:{run_id}", "state")
            if broker.llen("orch.solo") == 0 and state == "queued":
                caught = run_id
                break
            taker.process.send_signal(signal.SIGCONT)
            wait_until(
                "the run to complete",
                lambda run_id=run_id: _in_state(shared_repo, run_id, "completed"),
            )
    assert caught is not None, "the stopped worker never took a message"
    taker.kill()
    assert broker.hget(f"orch:run:{caught}", "state") == "queued"
    heir = start_worker("heir", labels="solo", concurrency=1, **fast)
    done = wait_until(
        "the run to complete on another worker",
        lambda: _in_state(shared_repo, caught, "completed"),
        timeout=15 * float(LOST_AFTER),
    )
    assert done["placement"]["worker"] == heir.node
    assert [r for r, _ in _marks(marks)].count(caught) == 1
