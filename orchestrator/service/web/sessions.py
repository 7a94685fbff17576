"""Browser sessions of the web view: a server-side table, never the key in a cookie.

Logging in with an API key creates a session: a random 256-bit id goes into an HttpOnly,
SameSite=Strict cookie, and the server keeps ``sha256(id) → (key, CSRF token, times)`` in
memory. The cookie alone reveals nothing about the key; logging out (or restarting the
server) ends the session for good, which a signed stateless cookie could not do.

Every form carries the session's CSRF token; the login form, which has no session yet, uses
a double-submit token (a random cookie repeated in a hidden field).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from orchestrator.service.keys import ApiKey

SESSION_COOKIE = "orch_session"
LOGIN_COOKIE = "orch_login"
CSRF_FIELD = "csrf"
IDLE_SECONDS = 8 * 3600
LIFETIME_SECONDS = 24 * 3600
MAX_SESSIONS = 10_000
FAILED_LOGINS_ALLOWED = 5
FAILED_LOGIN_WINDOW_SECONDS = 60.0


@dataclass
class Session:
    key: ApiKey
    csrf: str
    created: float
    seen: float

    def may_run(self) -> bool:
        return self.key.allows("run")


@dataclass
class SessionTable:
    """The live sessions of one server process."""

    idle_seconds: float = IDLE_SECONDS
    lifetime_seconds: float = LIFETIME_SECONDS
    _sessions: OrderedDict[str, Session] = field(default_factory=OrderedDict)
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return time.monotonic()

    def open(self, key: ApiKey) -> tuple[str, Session]:
        """A new session for ``key``: (the cookie value, the session)."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        session = Session(key=key, csrf=secrets.token_urlsafe(32), created=now, seen=now)
        with self._lock:
            self._sessions[_digest(token)] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return token, session

    def find(self, token: str | None) -> Session | None:
        """The session of a cookie value; None when unknown, idle too long or too old."""
        if not token:
            return None
        digest = _digest(token)
        now = self._now()
        with self._lock:
            session = self._sessions.get(digest)
            if session is None:
                return None
            if now - session.seen > self.idle_seconds or now - session.created > (
                self.lifetime_seconds
            ):
                del self._sessions[digest]
                return None
            session.seen = now
            return session

    def close(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def __len__(self) -> int:
        return len(self._sessions)

    # failed logins ------------------------------------------------------------------------

    def login_blocked(self, client: str) -> bool:
        """True when ``client`` failed to log in too often within the last minute."""
        with self._lock:
            return len(self._recent_failures(client)) >= FAILED_LOGINS_ALLOWED

    def login_failed(self, client: str) -> None:
        with self._lock:
            self._recent_failures(client).append(self._now())

    def _recent_failures(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        horizon = self._now() - FAILED_LOGIN_WINDOW_SECONDS
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
