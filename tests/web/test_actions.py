"""The web view's buttons that act on a recorded run (re-run, resume, confirm, cancel), through
a real ``orch serve``: what they queue, and the page each refusal answers with."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.web.conftest import (
    READ,
    RUN_KEY,
    Served,
    csrf_of,
    login,
    queue_run,
    wait_for_run,
)

UNKNOWN = "20200101T000000Z-000000"


def _record(client: httpx.Client, run_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/runs/{run_id}", headers=READ)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


def _act(client: httpx.Client, run_id: str, action: str) -> httpx.Response:
    csrf = csrf_of(client.get(f"/runs/{run_id}").text)
    return client.post(f"/runs/{run_id}/{action}", data={"csrf": csrf})


def _alert(answer: httpx.Response) -> str:
    """The message of an error page."""
    found = re.search(r'<p class="alert" role="alert">(.*?)</p>', answer.text, re.S)
    assert found, answer.text
    return html.unescape(found.group(1))


def test_rerun_and_resume_of_a_failed_run_queue_new_runs(served: Served) -> None:
    failed = wait_for_run(served, queue_run(served, "nightly-backup"))
    assert failed["state"] == "failed"
    with served.client() as client:
        login(client, RUN_KEY)
        again = _act(client, failed["run_id"], "rerun")
        assert again.status_code == 303, again.text
        rerun_id = again.headers["location"].removeprefix("/runs/")
        resumed = _act(client, failed["run_id"], "resume")
        assert resumed.status_code == 303, resumed.text
        resume_id = resumed.headers["location"].removeprefix("/runs/")
    rerun = wait_for_run(served, rerun_id)
    resume = wait_for_run(served, resume_id)
    assert rerun["rerun_of"] == failed["run_id"]
    assert (rerun["trigger"]["source"], rerun["trigger"]["actor"]) == ("api", "release-bot")
    assert resume["resumes"] == {"run": failed["run_id"], "steps": ["dump"], "forced": False}
    taken = {s["name"]: s["taken_over_from"] for s in resume["steps"]}
    assert taken == {"dump": failed["run_id"], "upload": None, "prune": None}


def test_refusals_are_pages_with_the_reason(served: Served) -> None:
    done = wait_for_run(served, queue_run(served, "demo", {"count": 2}))
    assert done["state"] == "completed"
    run_id = done["run_id"]
    with served.client() as client:
        csrf = login(client, RUN_KEY)
        unknown = client.post(f"/runs/{UNKNOWN}/rerun", data={"csrf": csrf})
        not_resumable = _act(client, run_id, "resume")
        not_waiting = _act(client, run_id, "confirm")
        ended = _act(client, run_id, "cancel")
    assert unknown.status_code == 404
    assert (unknown.status_code, _alert(unknown)) == (
        404,
        f"no run '{UNKNOWN}' in the trace ('orch-trace' of {served.repo}); list the recorded "
        "runs with `orch runs`",
    )
    assert (not_resumable.status_code, _alert(not_resumable)) == (
        409,
        f"run {run_id} ended well: only a failed or cancelled run resumes; nothing was queued",
    )
    assert (not_waiting.status_code, _alert(not_waiting)) == (
        409,
        f"run {run_id} has ended (completed): there is nothing to confirm",
    )
    assert (ended.status_code, _alert(ended)) == (
        409,
        f"run {run_id} has ended (completed): there is nothing to cancel",
    )
