"""Which Celery queue a run goes to, and which queues a worker consumes.

A run that needs the labels ``runs_on: [gpu, net-a]`` goes to the queue of exactly that
label set, ``orch.gpu+net-a`` (labels sorted; no labels: ``orch``). A worker with labels
``L`` consumes the queue of every subset of ``L``, so it takes every run whose labels it
has, and no other. Eight labels per worker at most keep that at 256 queues.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from orchestrator.errors import UsageError

BASE_QUEUE = "orch"
MAX_WORKER_LABELS = 8
LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def check_labels(labels: Iterable[str], where: str = "--labels") -> tuple[str, ...]:
    """The labels sorted and without repeats; UsageError naming a bad one."""
    found = sorted({label.strip() for label in labels if label.strip()})
    for label in found:
        if not LABEL.match(label):
            raise UsageError(
                f"{where}: {label!r} is not a worker label: use up to 40 lowercase letters, "
                "digits, '-' and '_', starting with a letter or digit"
            )
    return tuple(found)


def split_labels(text: str) -> tuple[str, ...]:
    """``"gpu, net-a"`` → ``("gpu", "net-a")`` (checked)."""
    return check_labels(text.split(","))


def queue_for(labels: Iterable[str]) -> str:
    """The queue of runs that need exactly ``labels``."""
    wanted = sorted(set(labels))
    return BASE_QUEUE if not wanted else f"{BASE_QUEUE}.{'+'.join(wanted)}"


def queues_served(labels: Iterable[str]) -> list[str]:
    """Every queue a worker with ``labels`` consumes (one per subset of its labels)."""
    have = sorted(set(labels))
    if len(have) > MAX_WORKER_LABELS:
        raise UsageError(
            f"--labels: a worker may have at most {MAX_WORKER_LABELS} labels "
            f"(it consumes one queue per subset of them); got {len(have)}"
        )
    return [
        queue_for(subset)
        for size in range(len(have) + 1)
        for subset in itertools.combinations(have, size)
    ]


def serves(worker_labels: Iterable[str], run_labels: Iterable[str]) -> bool:
    return set(run_labels) <= set(worker_labels)
