"""A worker's lease on a running run's lock, against a real Redis: renewed while the run runs;
once lost (taken over by the watchdog after it ran out, or run out while the broker could not
be reached) no further step starts, and the reason says which."""

from __future__ import annotations

import time
from typing import Any

import pytest

from orchestrator.broker.ledger import Claim, Ledger
from orchestrator.model import StepKind, StepState
from orchestrator.record import StepRecord
from orchestrator.worker.lease import FencedObserver, Lease, LeaseLost
from tests.distributed.test_ledger import _message

LEASE_MS = 300
EVERY = 0.05


def _started(ledger: Ledger) -> Claim:
    for run in ("run-1", "run-2"):
        ledger.register(_message(run), "orch")
    claim = ledger.claim(_message("run-1"), "w1@a", "host-a", LEASE_MS)
    assert claim.outcome == "started"
    return claim


def _running(name: str) -> StepRecord:
    return StepRecord(name=name, kind=StepKind.SCRIPT, section="Deploy", line=9).moved_to(
        StepState.RUNNING
    )


def _wait_until_lost(lease: Lease, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not lease.lost:
        assert time.monotonic() < deadline, "the lease was never lost"
        time.sleep(EVERY)


def test_a_renewed_lease_outlives_its_length_and_steps_are_noted(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    claim = _started(ledger)
    with Lease(ledger, _message("run-1"), claim, LEASE_MS, EVERY) as lease:
        time.sleep(3 * LEASE_MS / 1000)
        # The watchdog finds it still leased: nothing is declared lost.
        assert ledger.declare_lost(_message("run-1").workflow_key, "run-1") is None
        FencedObserver(lease).step_changed(_running("migrate"))
    assert (lease.lost, lease.lost_reason) == (False, None)
    assert ledger.run("run-1")["step"] == "migrate"


def test_a_lease_taken_over_starts_no_further_step(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    claim = _started(ledger)
    time.sleep(2 * LEASE_MS / 1000)  # the worker stalled: nothing renewed the lease
    assert ledger.declare_lost(_message("run-1").workflow_key, "run-1") == "run-2"
    with Lease(ledger, _message("run-1"), claim, LEASE_MS, EVERY) as lease:
        _wait_until_lost(lease)
        with pytest.raises(LeaseLost) as refused:
            FencedObserver(lease).step_changed(_running("deploy"))
    assert lease.lost_reason == "its lock was taken over after its lease ran out"
    assert str(refused.value) == (
        "step 'deploy' was not started: this worker lost the lock of deploy (fencing token "
        "1): its lock was taken over after its lease ran out"
    )
    assert "step" not in ledger.run("run-1")


def test_a_lease_runs_out_while_the_broker_is_unreachable(redis_server: Any) -> None:
    ledger = Ledger(redis_server.url)
    claim = _started(ledger)
    with Lease(ledger, _message("run-1"), claim, LEASE_MS, EVERY) as lease:
        redis_server.stop()
        _wait_until_lost(lease, seconds=60)
        with pytest.raises(LeaseLost) as refused:
            FencedObserver(lease).step_changed(_running("deploy"))
    reason = (
        f"its lease ran out while the broker was unreachable (cannot reach the broker at "
        f"{redis_server.url}: Error 111 connecting to 127.0.0.1:{redis_server.port}. "
        "Connection refused. Start Redis there, or correct ORCH_BROKER_URL (setting 'broker'))"
    )
    assert lease.lost_reason == reason
    assert str(refused.value) == (
        "step 'deploy' was not started: this worker lost the lock of deploy (fencing token "
        f"1): {reason}"
    )
