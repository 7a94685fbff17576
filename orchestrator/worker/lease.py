"""Keeping a running run's lock: the lease is renewed while the run runs, and a worker that
lost it (its token fenced out by a watchdog) starts no further step."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from orchestrator.broker.connection import BrokerUnavailable
from orchestrator.broker.ledger import Claim, Ledger
from orchestrator.broker.message import RunMessage
from orchestrator.errors import OrchError
from orchestrator.model import Step, StepState
from orchestrator.record import StepRecord

log = logging.getLogger("orch.worker")


class LeaseLost(OrchError):
    """This worker no longer holds the run's lock: another host may act on the workflow."""


class Lease:
    """Renews the lock of a started run every ``every`` seconds until the block ends."""

    def __init__(
        self, ledger: Ledger, message: RunMessage, claim: Claim, lease_ms: int, every: float
    ) -> None:
        self.ledger, self.message, self.claim = ledger, message, claim
        self.lease_ms, self.every = lease_ms, every
        self.lost_reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._keep, name=f"orch-lease-{message.run_id}", daemon=True
        )

    @property
    def lost(self) -> bool:
        return self.lost_reason is not None

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _keep(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(self.every):
            try:
                if not self.ledger.renew(self.message, self.claim, self.lease_ms):
                    self.lost_reason = "its lock was taken over after its lease ran out"
                    break
                renewed = time.monotonic()
            except BrokerUnavailable as exc:
                if time.monotonic() - renewed > self.lease_ms / 1000:
                    self.lost_reason = f"its lease ran out while the broker was unreachable ({exc})"
                    break
        if self.lost_reason:
            log.error("run %s: %s", self.message.run_id, self.lost_reason)


class FencedObserver:
    """Watches a run for the lease: no step starts once the lease is lost."""

    verbose = False

    def __init__(self, lease: Lease) -> None:
        self.lease = lease

    def step_changed(self, step: StepRecord) -> None:
        if step.state is not StepState.RUNNING:
            return
        if not self.lease.lost:
            try:
                self.lease.ledger.note_step(self.lease.message.run_id, step.name)
            except BrokerUnavailable as exc:
                log.warning("step %s not noted in the broker: %s", step.name, exc)
        if self.lease.lost:
            raise LeaseLost(
                f"step '{step.name}' was not started: this worker lost the lock of "
                f"{self.lease.message.workflow} (fencing token {self.lease.claim.token}): "
                f"{self.lease.lost_reason}"
            )

    def step_output(self, step: str, line: str) -> None:
        pass

    def confirm(self, step: Step, instruction: str) -> bool | None:
        return None
