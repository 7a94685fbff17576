"""The run catalog over a real trace repository, and the geometry of the pictures."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.service.web.catalog import RunCatalog, RunFilter
from orchestrator.service.web.charts import WIDTH, duration_text, history, timeline
from orchestrator.trace import RunFiles, TraceReader, TraceWriter, encode_record


def record(workflow: str, run_id: str, state: str, *, actor: str, trigger: str) -> dict[str, Any]:
    second = run_id[:16]
    at = f"{second[:4]}-{second[4:6]}-{second[6:8]}T{second[9:11]}:{second[11:13]}:{second[13:15]}"
    return {
        "schema": 1,
        "run_id": run_id,
        "workflow": {"id": workflow, "title": workflow.title()},
        "trigger": {"source": trigger, "actor": actor},
        "state": state,
        "transitions": [{"state": "pending", "at": f"{at}.000Z"}],
        "started_at": f"{at}.000Z",
        "ended_at": f"{at}.500Z",
        "steps": [],
        "error": {"step": "x", "message": "boom"} if state == "failed" else None,
    }


def run_id(n: int) -> str:
    return f"20261125T{n // 3600:02d}{n // 60 % 60:02d}{n % 60:02d}Z-{n:06x}"


def make_trace(root: Path, count: int) -> TraceWriter:
    subprocess.run(["git", "init", "-q", "--bare", str(root)], check=True)
    writer = TraceWriter(root)
    batch = []
    for n in range(count):
        workflow = ("deploy", "backup", "report")[n % 3]
        state = "failed" if n % 5 == 0 else "completed"
        data = record(workflow, run_id(n), state, actor=f"actor-{n % 2}", trigger="api")
        batch.append(RunFiles(workflow, run_id(n), {"run.json": encode_record(data)}, state))
    writer.commit_runs(batch)
    return writer


def test_lists_newest_first_filters_and_pages(tmp_path: Path) -> None:
    make_trace(tmp_path / "trace.git", 120)
    catalog = RunCatalog(TraceReader(tmp_path / "trace.git"))
    runs = catalog.runs()
    assert [r.run_id for r in runs[:3]] == [run_id(119), run_id(118), run_id(117)]
    assert len(runs) == 120

    page = catalog.page(RunFilter(workflow="deploy", state="failed"), 1, 5)
    expected = [run_id(n) for n in range(119, -1, -1) if n % 3 == 0 and n % 5 == 0]
    assert page.total == len(expected) == 8
    assert [r.run_id for r in page.runs] == expected[:5]
    second = catalog.page(RunFilter(workflow="deploy", state="failed"), 2, 5)
    assert [r.run_id for r in second.runs] == expected[5:]
    assert (second.number, second.count) == (2, 2)
    assert catalog.page(RunFilter(workflow="deploy", state="failed"), 99, 5).number == 2

    by_actor = catalog.page(RunFilter(actor="actor-1", trigger="api"), 1, 200)
    assert by_actor.total == 60
    assert all(r.actor == "actor-1" for r in by_actor.runs)
    assert catalog.page(RunFilter(trigger="schedule"), 1, 50).total == 0
    failed = catalog.find(run_id(5))
    assert failed is not None and failed.error == "boom" and failed.duration == 0.5


def test_a_new_commit_is_seen_and_unchanged_runs_are_not_read_again(tmp_path: Path) -> None:
    writer = make_trace(tmp_path / "trace.git", 30)
    catalog = RunCatalog(TraceReader(tmp_path / "trace.git"))
    first = catalog.runs()
    newest = run_id(500)
    data = record("deploy", newest, "running", actor="late", trigger="schedule")
    writer.commit_run("deploy", newest, {"run.json": encode_record(data)}, state="running")
    second = catalog.runs()
    assert second[0].run_id == newest and second[0].state == "running"
    assert len(second) == 31
    # Summaries of the runs that did not change are the very same objects.
    assert all(a is b for a, b in zip(first, second[1:], strict=True))
    view = catalog.view(newest)
    assert view is not None and view.record["trigger"]["actor"] == "late"


def test_an_empty_trace_lists_nothing(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "t.git")], check=True)
    catalog = RunCatalog(TraceReader(tmp_path / "t.git"))
    assert catalog.runs() == ()
    assert catalog.page(RunFilter(), 1, 50).total == 0
    assert catalog.view("nope") is None


def test_the_timeline_is_drawn_to_scale_with_retries_visible() -> None:
    run = {
        "state": "failed",
        "started_at": "2026-11-25T10:00:00.000Z",
        "ended_at": "2026-11-25T10:00:10.000Z",
        "steps": [
            {"name": "a", "state": "completed", "attempts": 1,
             "started_at": "2026-11-25T10:00:00.000Z", "ended_at": "2026-11-25T10:00:02.500Z"},
            {"name": "b", "state": "failed", "attempts": 3,
             "started_at": "2026-11-25T10:00:02.500Z", "ended_at": "2026-11-25T10:00:10.000Z"},
            {"name": "c", "state": "skipped", "skipped_because": "step 'b' failed before it"},
        ],
    }  # fmt: skip
    drawn = timeline(run, datetime(2026, 11, 25, 10, 1, tzinfo=UTC))
    a, b, c = drawn.bars
    assert (a.x, a.width) == (0.0, WIDTH * 0.25)
    assert (b.x, b.width) == (WIDTH * 0.25, WIDTH * 0.75)
    assert b.retried and b.label == "7.50 s · 3 attempts"
    assert not a.retried and a.label == "2.50 s"
    assert c.x is None and c.note == "skipped: step 'b' failed before it"
    assert [t.label for t in drawn.ticks] == ["0s", "2s", "4s", "6s", "8s", "10s"]


def test_a_running_step_grows_until_now() -> None:
    run = {
        "state": "running",
        "started_at": "2026-11-25T10:00:00.000Z",
        "steps": [{"name": "a", "state": "running", "started_at": "2026-11-25T10:00:01.000Z"}],
    }
    drawn = timeline(run, datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC))
    assert drawn.span == 5.0
    assert drawn.bars[0].duration == 4.0 and drawn.bars[0].x == WIDTH * 0.2


def test_durations_read_well() -> None:
    assert [duration_text(v) for v in (None, 0.423, 12.34, 245, 7620)] == [
        "—",
        "0.42 s",
        "12.3 s",
        "4 min 05 s",
        "2 h 07 min",
    ]


def test_history_puts_the_newest_run_on_the_right(tmp_path: Path) -> None:
    make_trace(tmp_path / "trace.git", 9)
    runs = RunCatalog(TraceReader(tmp_path / "trace.git")).of_workflow("deploy")
    chart = history(runs)
    assert [bar.run.run_id for bar in chart.bars] == [run_id(0), run_id(3), run_id(6)]
    assert all(bar.height == chart.height for bar in chart.bars)  # all took 0.5 s
