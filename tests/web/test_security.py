"""Every security rule of the web view, over HTTP against a real ``orch serve`` process."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

from orchestrator.service.web.headers import CONTENT_SECURITY_POLICY
from tests.web.conftest import (
    READ_KEY,
    RUN_KEY,
    SECRET_ENV_VALUE,
    SECRET_INPUT_VALUE,
    Served,
    csrf_of,
    isolated_env,
    login,
    make_repository,
    queue_run,
    start_serve,
    wait_for_run,
)

CSRF_MESSAGE = "the form has no valid CSRF token"


def test_health_stays_public_and_pages_need_a_login(served: Served) -> None:
    with served.client() as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        for path in ("/", "/runs", "/workflows/demo", "/runs?state=failed"):
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=%2F")
    with served.client(cookies={"orch_session": "made-up-session-id"}) as client:
        answer = client.get("/runs")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Fruns"


def test_a_wrong_key_is_refused_and_a_right_one_gets_a_safe_cookie(served: Served) -> None:
    with served.client() as client:
        form = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None
        wrong = client.post("/login", data={"key": "guessed-key", "login_token": token.group(1)})
        assert wrong.status_code == 401
        assert "that is not one of this server&#39;s API keys" in wrong.text
        assert "orch_session" not in wrong.headers.get("set-cookie", "")
        assert client.get("/").status_code == 303

        right = client.post(
            "/login", data={"key": RUN_KEY, "login_token": token.group(1), "next": "/runs"}
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/runs"
        cookie = next(
            c for c in right.headers.get_list("set-cookie") if c.startswith("orch_session=")
        )
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert RUN_KEY not in value and len(value) >= 40
        assert client.get("/runs").status_code == 200


def test_login_needs_its_own_form_token(served: Served) -> None:
    with served.client() as client:
        answer = client.post("/login", data={"key": RUN_KEY})
        assert answer.status_code == 403
        assert CSRF_MESSAGE in answer.text
        client.get("/login")
        forged = client.post("/login", data={"key": RUN_KEY, "login_token": "forged"})
        assert forged.status_code == 403
        assert "orch_session" not in forged.headers.get("set-cookie", "")


def test_login_goes_back_only_to_a_page_of_this_site(served: Served) -> None:
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example", "/")):
        with served.client() as client:
            form = client.get("/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text)
            assert token is not None
            answer = client.post(
                "/login", data={"key": RUN_KEY, "login_token": token.group(1), "next": target}
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == expected


def test_a_post_without_the_csrf_token_is_refused(served: Served) -> None:
    with served.client() as client:
        csrf = login(client, RUN_KEY)
        before = client.get("/runs?workflow=demo").text.count('class="mono">20')
        missing = client.post("/workflows/demo/runs", data={"count": "2"})
        assert missing.status_code == 403
        assert CSRF_MESSAGE in missing.text
        with served.client() as other:
            foreign = login(other, RUN_KEY)
        assert foreign != csrf
        wrong = client.post("/workflows/demo/runs", data={"count": "2", "csrf": foreign})
        assert wrong.status_code == 403
        assert CSRF_MESSAGE in wrong.text
        after = client.get("/runs?workflow=demo").text.count('class="mono">20')
        assert after == before, "a refused form queued a run"
        assert client.post("/logout").status_code == 403


def test_a_read_key_sees_no_form_that_acts_and_cannot_post(served: Served) -> None:
    with served.client() as client:
        csrf = login(client, READ_KEY)
        page = client.get("/workflows/demo")
        assert page.status_code == 200
        assert 'action="/workflows/demo/runs"' not in page.text
        assert "Start run" not in page.text
        assert "may only read: it cannot start runs" in page.text
        forms = re.findall(r'<form method="post" action="([^"]+)"', page.text)
        assert forms == ["/logout"]
        answer = client.post("/workflows/demo/runs", data={"count": "2", "csrf": csrf})
        assert answer.status_code == 403
        assert "the key &#39;dashboard&#39; may only read (its role: read)" in answer.text


def test_logout_ends_the_session_for_good(served: Served) -> None:
    with served.client() as client:
        csrf = login(client, RUN_KEY)
        session = client.cookies.get("orch_session")
        answer = client.post("/logout", data={"csrf": csrf})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login"
    with served.client(cookies={"orch_session": session or ""}) as replaying:
        replay = replaying.get("/")
        assert replay.status_code == 303
        assert replay.headers["location"].startswith("/login")


def test_every_answer_carries_the_security_headers(served: Served) -> None:
    with served.client() as client:
        login(client, READ_KEY)
        for path in ("/", "/runs", "/login", "/static/orch.css", "/static/orch.js", "/health"):
            answer = client.get(path)
            assert answer.status_code == (303 if path == "/login" else 200), path
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self';" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        page = client.get("/workflows/demo").text
        assert "<script>" not in page and "<script " not in page.replace(
            '<script src="/static/orch.js', ""
        )
        assert "style=" not in page


def test_the_document_cannot_put_markup_on_its_page(served: Served) -> None:
    with served.client() as client:
        login(client, READ_KEY)
        page = client.get("/workflows/rotate-keys").text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert '<script>alert("x")' not in page
        assert 'id="step-rotate"' in page
        demo = client.get("/workflows/demo").text
        assert 'id="step-rollout"' in demo and "retries=1" in demo


def test_no_secret_value_reaches_any_page(served: Served) -> None:
    run_id = queue_run(served, "rotate-keys", {"password": SECRET_INPUT_VALUE})
    record = wait_for_run(served, run_id)
    assert record["state"] == "completed"
    with served.client() as client:
        login(client, RUN_KEY)
        pages = [
            "/",
            "/runs",
            "/runs?workflow=rotate-keys",
            f"/runs/{run_id}",
            f"/runs/{run_id}/live",
            f"/runs/{run_id}/logs/rotate",
            "/workflows/rotate-keys",
            "/workflows/vault-login",
        ]
        for path in pages:
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert SECRET_ENV_VALUE not in answer.text, path
            assert SECRET_INPUT_VALUE not in answer.text, path
        log = client.get(f"/runs/{run_id}/logs/rotate").text
        assert log.strip() == "token=*** password=***"
        assert '<td class="mono">password</td><td class="mono">"***"</td>' in (
            client.get(f"/runs/{run_id}").text
        )


def test_secret_inputs_are_never_taken_from_a_browser(served: Served) -> None:
    with served.client() as client:
        csrf = login(client, RUN_KEY)
        page = client.get("/workflows/rotate-keys").text
        assert 'name="password"' not in page
        assert "never entered in a browser" in page
        assert 'takes the secret <span class="mono">DEPLOY_TOKEN</span> from the server' in page
        sent = client.post(
            "/workflows/rotate-keys/runs", data={"csrf": csrf, "password": "typed-in"}
        )
        assert sent.status_code == 422
        assert (
            "input &#39;password&#39;: secret inputs are never entered in a browser; "
            "this value was not used" in sent.text
        )
        assert "typed-in" not in sent.text

        blocked = client.get("/workflows/vault-login").text
        assert 'action="/workflows/vault-login/runs"' not in blocked
        assert "needs the secret input(s) vault_password" in blocked
        refused = client.post("/workflows/vault-login/runs", data={"csrf": csrf})
        assert refused.status_code == 422
        assert "needs the secret input(s) vault_password" in refused.text


def test_the_form_validates_as_the_api_does(served: Served) -> None:
    with served.client() as client:
        csrf = login(client, RUN_KEY)
        bad = client.post(
            "/workflows/demo/runs", data={"csrf": csrf, "count": "50", "target": "moon"}
        )
        assert bad.status_code == 422
        errors = dict(re.findall(r'class="field-error" id="error-([^"]+)">([^<]*)</p>', bad.text))
        assert errors["count"] == "50 is greater than the maximum of 10"
        assert errors["target"] == (
            "&#39;moon&#39; is not one of [&#39;staging&#39;, &#39;production&#39;]"
        )
        assert 'value="50"' in bad.text
        missing = client.post("/workflows/demo/runs", data={"csrf": csrf})
        assert missing.status_code == 422
        assert 'id="error-count">required: fill it in<' in missing.text
        good = client.post(
            "/workflows/demo/runs",
            data={"csrf": csrf, "count": "3", "target": "production", "dry_run": "true"},
        )
        assert good.status_code == 303
        run_id = good.headers["location"].rsplit("/", 1)[1]
    record = wait_for_run(served, run_id)
    assert record["inputs"] == {"count": 3, "target": "production", "dry_run": True}
    assert record["trigger"]["actor"] == "release-bot"
    assert record["trigger"]["source"] == "api"


def test_an_artifact_downloads_from_the_embedded_store(served: Served) -> None:
    run_id = queue_run(served, "demo", {"count": 2})
    record = wait_for_run(served, run_id)
    artifact = record["artifacts"][0]
    artifact_id = artifact["publication"]["artifact_id"]
    link = f"/runs/{run_id}/artifacts/{artifact_id}"
    with served.client() as client:
        assert client.get(link).status_code == 303
        login(client, READ_KEY)
        assert f'href="{link}"' in client.get(f"/runs/{run_id}").text
        answer = client.get(link)
        assert answer.status_code == 200
        assert answer.content == b"rolled 2 instance(s) to staging\n"
        assert hashlib.sha256(answer.content).hexdigest() == artifact["sha256"]
        assert answer.headers["x-artifact-sha256"] == artifact["sha256"]
        other = client.get(f"/runs/{run_id}/artifacts/20200101-001")
        assert other.status_code == 404
        assert "published no artifact &#39;20200101-001&#39;" in other.text
        assert client.get("/runs/20200101T000000Z-000000").status_code == 404


def test_too_many_failed_logins_are_slowed_down(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "home")
    server = start_serve(make_repository(tmp_path, env), env, tmp_path / "serve.log")
    try:
        with server.client() as client:
            token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            data = {"login_token": token.group(1)}
            codes = [
                client.post("/login", data={**data, "key": f"guess-{n}"}).status_code
                for n in range(5)
            ]
            assert codes == [401] * 5
            blocked = client.post("/login", data={**data, "key": RUN_KEY})
            assert blocked.status_code == 429
            assert "too many failed logins from this address" in blocked.text
            assert "orch_session" not in blocked.headers.get("set-cookie", "")
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/api/workflows", "/api/runs"])
def test_the_api_still_wants_its_key_header(served: Served, path: str) -> None:
    with served.client() as client:
        login(client, RUN_KEY)
        assert client.get(path).status_code == 401
        assert httpx.get(served.url + path, headers={"X-API-Key": READ_KEY}).status_code == 200


def test_the_read_page_shows_csrf_only_in_forms(served: Served) -> None:
    with served.client() as client:
        csrf = login(client, READ_KEY)
        assert csrf_of(client.get("/runs").text) == csrf
