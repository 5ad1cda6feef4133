"""Who may see the dashboard: a token login turned into a server-side session.

* Two tokens open it: the admin token (role admin) or the read-only dashboard token (role
  viewer). Both are compared with hmac.compare_digest, in constant time.
* A session is a random id in an HttpOnly, SameSite=Strict cookie: scripts cannot read it, and
  the browser sends it on no request started by another site. The token itself is never stored
  in the browser nor put in a URL.
* Every state-changing form (login, logout) carries a CSRF token that must match: before login
  a random pre-session value in its own cookie (double submit), after login the session's own.
  The app also checks Origin on every POST.
* Sessions live in this process's memory, bounded in number and age: a restart logs everyone
  out, which is what a one-time admin token per run wants anyway.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Role", "Session", "SessionBook", "same_secret"]

SESSION_TTL = 12 * 3600.0  # seconds a login lasts
MAX_SESSIONS = 10_000  # the oldest is dropped past this: memory stays bounded


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    role: Role
    csrf: str
    expires: float  # time.monotonic()


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (False for an empty one)."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


class SessionBook:
    """The tokens that open the dashboard and the sessions they opened."""

    def __init__(
        self, admin_token: str | None, viewer_token: str | None, *, ttl: float = SESSION_TTL
    ) -> None:
        self._tokens = [(t, r) for t, r in ((admin_token, Role.ADMIN),
                                             (viewer_token, Role.VIEWER)) if t]  # fmt: skip
        self._ttl = ttl
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    @property
    def has_tokens(self) -> bool:
        return bool(self._tokens)

    def role_for(self, token: str) -> Role | None:
        """The role a presented token opens, or None. Every configured token is compared, so
        the time taken does not tell which one (if any) was close."""
        matched = None
        for expected, role in self._tokens:
            if same_secret(token, expected) and matched is None:
                matched = role
        return matched

    def open(self, role: Role) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            role=role,
            csrf=secrets.token_urlsafe(32),
            expires=time.monotonic() + self._ttl,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires <= time.monotonic():
            del self._sessions[session_id]
            return None
        return session

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
