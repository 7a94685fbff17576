"""The web view in a real browser (Debian's Chromium driven by Playwright) against a real
``orch serve`` process. One browser for the module; the screenshots of docs/web.md are
taken here (into ``WEB_SCREENSHOTS`` when set, else a temporary folder)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import (
    READ_KEY,
    RUN_KEY,
    Served,
    queue_run,
    wait_for_run,
)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (python3 tasks.py test installs it)"
)
if CHROMIUM.exists():
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("WEB_SCREENSHOTS")
    target = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="module")
def history(served: Served) -> dict[str, list[str]]:
    """Some runs to look at: deployments that complete, backups that fail."""
    runs: dict[str, list[str]] = {"demo": [], "nightly-backup": []}
    for count in (1, 3, 5, 2):
        runs["demo"].append(queue_run(served, "demo", {"count": count}))
    runs["nightly-backup"].append(queue_run(served, "nightly-backup"))
    runs["demo"].append(queue_run(served, "demo", {"count": 4, "target": "production"}))
    for ids in runs.values():
        for run_id in ids:
            wait_for_run(served, run_id)
    return runs


@pytest.fixture(scope="module")
def operator(browser: Browser, served: Served, history: dict[str, list[str]]) -> Iterator[Page]:
    """A page logged in with the ``run`` key, reused by the tests of this module."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    # The refusals these tests provoke (422, 403) are logged by the browser; anything else
    # (a Content-Security-Policy violation, a script error) fails the module.
    expected = re.compile(r"status of (403|422) ")
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and not expected.search(m.text) else None
        ),
    )
    page.goto(served.url + "/")
    page.fill("#key", RUN_KEY)
    page.click("button[type=submit]")
    expect(page).to_have_url(served.url + "/")
    yield page
    context.close()
    assert not problems, f"the browser reported errors: {problems}"


def reader_context(browser: Browser, served: Served) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(served.url + "/login")
    page.fill("#key", READ_KEY)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text("dashboard")
    return context


def test_a_wrong_key_is_refused(browser: Browser, served: Served) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(served.url + "/runs")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fruns$"))
    page.fill("#key", "not-a-key")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_have_text("that is not one of this server's API keys")
    page.goto(served.url + "/runs")
    expect(page).to_have_url(re.compile(r"/login"))
    context.close()


def test_log_in_and_see_workflows_and_runs(operator: Page, served: Served, shots: Path) -> None:
    page = operator
    page.goto(served.url + "/")
    rows = page.locator("table.workflows tbody tr")
    expect(rows.filter(has_text="Deploy the web service")).to_have_count(1)
    demo = rows.filter(has_text="Deploy the web service")
    expect(demo.locator("svg.marks rect")).to_have_count(5)
    expect(demo.locator("svg.marks rect.s-completed")).to_have_count(4)
    expect(demo.locator("svg.marks rect.s-failed")).to_have_count(1)
    backup = rows.filter(has_text="Nightly database backup")
    expect(backup).to_contain_text("schedule: 0 2 * * * (Europe/Berlin)")
    expect(rows.filter(has_text="Nightly database backup").locator(".badge")).to_have_text("failed")
    page.screenshot(path=str(shots / "workflows.png"), full_page=True)

    page.click("header nav >> text=Runs")
    expect(page.locator("table.runs tbody tr")).to_have_count(6)
    page.select_option("select[name=state]", "failed")
    page.click("form.filters button")
    expect(page).to_have_url(re.compile(r"state=failed"))
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    for badge in page.locator("table.runs tbody tr .badge").all():
        expect(badge).to_have_text("failed")
    page.select_option("select[name=workflow]", "demo")
    page.click("form.filters button")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    expect(page.locator("table.runs tbody tr .reason")).to_have_text("exited with code 1")


def test_open_a_failed_run_and_read_why(
    operator: Page, served: Served, history: dict[str, list[str]], shots: Path
) -> None:
    page = operator
    page.goto(served.url + "/runs?workflow=nightly-backup")
    page.click("table.runs tbody tr a.mono")
    expect(page).to_have_url(served.url + "/runs/" + history["nightly-backup"][0])
    expect(page.locator("section.failure")).to_contain_text("Failed at step upload:")
    expect(page.locator(".failure-reason")).to_have_text("exited with code 3")
    upload = page.locator("details[data-step=upload]")
    expect(upload).to_have_attribute("open", "")
    expect(upload.locator("summary .retries")).to_have_text("3 attempts")
    expect(upload.locator("pre.log")).to_contain_text("no space left on /backups")
    expect(page.locator("svg.timeline rect.bar")).to_have_count(2)
    expect(page.locator("svg.timeline rect.bar.retried.s-failed")).to_have_count(1)
    expect(page.locator("svg.timeline text.note")).to_have_text(
        "skipped: step 'upload' failed before it"
    )

    page.goto(served.url + "/runs/" + history["demo"][-1])
    expect(page.locator("table.artifacts a.download")).to_have_text("rollout-report")
    page.screenshot(path=str(shots / "run.png"), full_page=True)


def test_start_a_run_from_the_form(operator: Page, served: Served, shots: Path) -> None:
    page = operator
    page.goto(served.url + "/workflows/demo")
    expect(page.locator("svg.historychart rect")).to_have_count(5)
    expect(page.locator("figure.step")).to_have_count(3)
    page.screenshot(path=str(shots / "document.png"), full_page=True)

    page.fill("#input-count", "50")
    page.click("form.startform button[type=submit]")
    expect(page.locator("#error-count")).to_have_text("50 is greater than the maximum of 10")
    expect(page.locator("#input-count")).to_have_value("50")
    expect(page.locator("#form-problems")).to_contain_text("Nothing was started")

    page.fill("#input-count", "4")
    page.select_option("#input-target", "production")
    page.click("form.startform button[type=submit]")
    expect(page).to_have_url(re.compile(r"/runs/\d{8}T\d{6}Z-[0-9a-f]{6}$"))
    run_id = page.url.rsplit("/", 1)[1]
    # The page follows the run by itself until it ends.
    expect(page.locator(".livehead .badge")).to_have_text("completed", timeout=30_000)
    expect(page.locator("table.inputs")).to_contain_text('"production"')
    page.goto(served.url + "/runs")
    expect(page.locator("table.runs tbody tr").first).to_contain_text(run_id)


def test_a_running_run_refreshes_its_steps(operator: Page, served: Served, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run_id = queue_run(served, "gated", {"gate": str(gate)})
    page = operator
    page.goto(served.url + f"/runs/{run_id}")
    expect(page.locator("details[data-step=wait] .badge")).to_have_text("running", timeout=20_000)
    expect(page.locator("details[data-step=after] .badge")).to_have_text("pending")
    gate.write_text("open")
    expect(page.locator(".livehead .badge")).to_have_text("completed", timeout=20_000)
    expect(page.locator("details[data-step=after] .badge")).to_have_text("completed")
    expect(page.locator("details[data-step=wait] pre.log")).to_contain_text("gate opened")


def test_a_read_key_sees_no_buttons_that_act(
    browser: Browser, served: Served, history: dict[str, list[str]]
) -> None:
    context = reader_context(browser, served)
    page = context.pages[0]
    page.goto(served.url + "/workflows/demo")
    expect(page.locator(".start")).to_contain_text("may only read: it cannot start runs")
    expect(page.locator("form.startform")).to_have_count(0)
    page.goto(served.url + "/runs/" + history["nightly-backup"][0])
    expect(page.locator(".failure-reason")).to_have_text("exited with code 3")
    expect(page.locator("main form")).to_have_count(0)
    expect(page.locator("main button")).to_have_count(0)
    context.close()


def test_a_form_without_the_csrf_token_is_refused(operator: Page, served: Served) -> None:
    page = operator
    page.goto(served.url + "/workflows/demo")
    page.locator("form.startform input[name=csrf]").evaluate("input => input.remove()")
    page.fill("#input-count", "2")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("form.startform button[type=submit]")
    assert answer.value.status == 403
    expect(page.locator(".alert")).to_contain_text("the form has no valid CSRF token")
