"""Logging in with an API key, and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.service.web.render import page
from orchestrator.service.web.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    new_login_token,
    same_token,
)
from orchestrator.service.web.site import CSRF_REFUSED, WebError, poster, session_of, site_of

router = APIRouter(include_in_schema=False)
WRONG_KEY = "that is not one of this server's API keys"
TOO_MANY = "too many failed logins from this address: wait a minute, then try again"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, target: str, status: int = 200, error: str = "") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
    response = page(
        request, "login.html", None, status, next=target, login_token=token, error=error
    )
    _cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
    return response


def _cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    if session_of(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target)


@router.post("/login")
async def log_in(request: Request) -> Response:
    site = site_of(request)
    form = await request.form()
    target = safe_next(_field(form.get("next")))
    client = request.client.host if request.client else "unknown"
    if site.sessions.login_blocked(client):
        return _login_page(request, target, 429, TOO_MANY)
    if not same_token(_field(form.get("login_token")), request.cookies.get(LOGIN_COOKIE)):
        raise WebError(403, CSRF_REFUSED)
    key = site.keys.find(_field(form.get("key")))
    if key is None:
        site.sessions.login_failed(client)
        return _login_page(request, target, 401, WRONG_KEY)
    token, _ = site.sessions.open(key)
    response = RedirectResponse(target, status_code=303)
    _cookie(response, request, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def log_out(request: Request) -> Response:
    form = await request.form()
    poster(request, dict(form))
    site_of(request).sessions.close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None
