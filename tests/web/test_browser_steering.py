"""Steering runs in a real browser (Debian's Chromium driven by Playwright) against a real
``orch serve`` process: a running step's log grows on the page as the step prints, a waiting
step is confirmed with its button, a running run is cancelled with its button, and a read
key sees what a run waits for but no button that acts."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.helpers import document
from tests.web.conftest import (
    READ_KEY,
    RUN_KEY,
    Served,
    isolated_env,
    queue_run,
    start_serve,
)
from tests.web.test_browser import ARGS, CHROMIUM, pytestmark  # noqa: F401 - the same skip

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright

TICKER = document(
    """
id: ticker
title: Prints as it goes
status: approved
inputs:
  gate:
    type: string
    required: true
""",
    """
# Ticker

```bash {step=tick}
for i in 1 2 3; do echo "tick $i"; sleep 0.3; done
while [ ! -e "$ORCH_INPUT_GATE" ]; do sleep 0.05; done
echo "tick done"
```
""",
)
APPROVAL = document(
    "id: approval\ntitle: Needs an approval\nstatus: approved\n",
    """
# Approval

```bash {step=prepare}
echo "version=5.2" >> "$ORCH_OUTPUT"
```

```manual {step=approve}
Check that release {{ steps.prepare.outputs.version }} is announced.
```

```bash {step=release}
echo "released"
```
""",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("steer-web")
    env = isolated_env(base / "home")
    repo = base / "repo"
    (repo / "intents").mkdir(parents=True)
    (repo / "intents" / "ticker.md").write_text(TICKER)
    (repo / "intents" / "approval.md").write_text(APPROVAL)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "documents"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    server = start_serve(repo, env, base / "serve.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _logged_in(browser: Browser, served: Served, key: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    # A script error or a Content-Security-Policy violation fails the test (see _done).
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    setattr(page, "orch_errors", errors)  # noqa: B010 - kept with the page it belongs to
    page.goto(served.url + "/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_be_visible()
    return page


def _done(page: Page) -> None:
    errors = getattr(page, "orch_errors")  # noqa: B009
    page.context.close()
    assert not errors, f"the browser reported errors: {errors}"


def test_the_log_of_a_running_step_grows_on_the_page(
    browser: Browser, served: Served, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    page = _logged_in(browser, served, RUN_KEY)
    run_id = queue_run(served, "ticker", {"gate": str(gate)})
    with page.expect_request(re.compile(rf"/runs/{run_id}/events$")):
        page.goto(served.url + f"/runs/{run_id}")
    log = page.locator("details[data-step=tick] pre.log")
    expect(log).to_contain_text("tick 1", timeout=20_000)
    expect(log).to_have_text("tick 1\ntick 2\ntick 3\n", timeout=20_000)
    # Still running: the lines arrived while the step printed them.
    expect(page.locator("details[data-step=tick] .badge")).to_have_text("running")
    gate.write_text("open")
    expect(page.locator(".livehead .badge")).to_have_text("completed", timeout=20_000)
    expect(page.locator("details[data-step=tick] pre.log")).to_have_text(
        "tick 1\ntick 2\ntick 3\ntick done\n"
    )
    _done(page)


def test_confirm_a_waiting_step_with_its_button(browser: Browser, served: Served) -> None:
    page = _logged_in(browser, served, RUN_KEY)
    run_id = queue_run(served, "approval")
    page.goto(served.url + f"/runs/{run_id}")
    waiting = page.locator("section.waiting")
    expect(waiting).to_contain_text("Step approve needs a person to confirm it", timeout=20_000)
    expect(waiting.locator("pre.instruction")).to_have_text("Check that release 5.2 is announced.")
    expect(page.locator(".livehead .badge")).to_have_text("waiting")
    shots = os.environ.get("WEB_SCREENSHOTS")
    if shots:  # python3 tasks.py screenshots: the image of docs/web.md
        page.screenshot(path=str(Path(shots) / "waiting.png"), full_page=True)
    waiting.locator("button", has_text="Confirm approve").click()
    expect(page).to_have_url(served.url + f"/runs/{run_id}")
    expect(page.locator(".livehead .badge")).to_have_text("completed", timeout=20_000)
    approve = page.locator("details[data-step=approve]")
    expect(approve.locator("p.confirmed")).to_contain_text("Confirmed by release-bot at")
    expect(page.locator("details[data-step=release] pre.log")).to_have_text("released\n")
    expect(page.locator("section.waiting")).to_have_count(0)
    _done(page)


def test_cancel_a_running_run_with_its_button(
    browser: Browser, served: Served, tmp_path: Path
) -> None:
    page = _logged_in(browser, served, RUN_KEY)
    run_id = queue_run(served, "ticker", {"gate": str(tmp_path / "never")})
    page.goto(served.url + f"/runs/{run_id}")
    expect(page.locator("details[data-step=tick] .badge")).to_have_text("running", timeout=20_000)
    page.locator(".actions form.action-cancel button").click()
    expect(page.locator(".livehead .badge")).to_have_text("cancelled", timeout=20_000)
    expect(page.locator("section.failure")).to_contain_text(
        "Cancelled at step tick: cancelled by release-bot during step 'tick'"
    )
    expect(page.locator(".actions form.action-rerun")).to_have_count(1)
    expect(page.locator(".actions form.action-resume")).to_have_count(1)
    _done(page)


def test_a_read_key_sees_no_buttons_that_steer(browser: Browser, served: Served) -> None:
    run_id = queue_run(served, "approval")
    page = _logged_in(browser, served, READ_KEY)
    page.goto(served.url + f"/runs/{run_id}")
    expect(page.locator("section.waiting")).to_contain_text(
        "Check that release 5.2 is announced.", timeout=20_000
    )
    expect(page.locator("section.waiting")).to_contain_text(f"orch confirm {run_id}")
    expect(page.locator("main form")).to_have_count(0)
    expect(page.locator("main button")).to_have_count(0)
    _done(page)
    # Leave nothing waiting behind.
    with served.client() as client:
        answer = client.post(f"/api/runs/{run_id}/cancel", headers={"X-API-Key": RUN_KEY})
        assert answer.status_code == 200, answer.text
