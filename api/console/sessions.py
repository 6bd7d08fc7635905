"""Console sessions: a user's bearer token exchanged for a server-side session.

The browser holds a random session id in a ``__Host-`` cookie (HttpOnly, Secure,
SameSite=Strict, Path=/); the server stores only its SHA-256, who opened it and the hash of
the token used. Every request re-resolves the principal through the API's own
:class:`~api.services.access.AccessService` from that token hash, so revoking the user's
tokens or disabling the user ends the session at once, and the scope is the API's exactly.

A session ends after ``idle_s`` without a request or ``max_s`` after login, whichever comes
first. The CSRF token is a synchronizer token derived from the session id
(SHA-256 of a distinct prefix and the id): bound to the session, unknown to anyone who
lacks the cookie, and not derivable from the stored hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from api.services.access import AccessService, Principal, token_hash
from ledger.store.sessions import SessionStore

COOKIE: Final = "__Host-chemtrace_session"
LOGIN_COOKIE: Final = "__Host-chemtrace_login"
"""A pre-session random value whose derived token the login form must echo (login CSRF)."""
Ended = Literal["idle", "expired", "revoked", "logout", "unknown"]


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def csrf_for(secret: str) -> str:
    """The synchronizer token bound to a session id (or a login nonce)."""
    return hashlib.sha256(b"chemtrace-console-csrf\n" + secret.encode()).hexdigest()


def csrf_ok(secret: str | None, sent: str | None) -> bool:
    return bool(secret and sent) and hmac.compare_digest(csrf_for(secret or ""), sent or "")


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: who, and the CSRF token its forms carry."""

    principal: Principal
    csrf: str
    created_at: int


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        access: AccessService,
        *,
        idle_s: float,
        max_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store, self._access = store, access
        self.idle_s, self.max_s, self.clock = idle_s, max_s, clock

    def login(self, bearer: str) -> tuple[str, Session] | None:
        """A new session for a live token of an active user; ``None`` otherwise."""
        digest = token_hash(bearer.strip())
        principal = self._access.principal_for(digest)
        if principal is None:
            return None
        session_id = secrets.token_urlsafe(32)
        now = int(self.clock())
        self._store.add(_digest(session_id), principal.user_id, digest, now)
        return session_id, Session(principal, csrf_for(session_id), now)

    def resolve(self, session_id: str | None) -> Session | Ended:
        """The live session behind a cookie, or why there is none (ending it if it lapsed)."""
        if not session_id:
            return "unknown"
        id_hash = _digest(session_id)
        stored = self._store.get(id_hash)
        if stored is None:
            return "unknown"
        if stored.ended_at is not None:
            return "logout" if stored.ended_why == "logout" else "expired"
        now = self.clock()
        why: Ended | None = None
        if now - stored.created_at >= self.max_s:
            why = "expired"
        elif now - stored.last_seen_at >= self.idle_s:
            why = "idle"
        principal = None if why else self._access.principal_for(stored.token_hash)
        if principal is None or principal.user_id != stored.user_id:
            why = why or "revoked"
        if why is not None:
            self._store.end(id_hash, int(now), why)
            return why
        assert principal is not None
        # A write per request would serialise every page view on SQLite's write lock; the
        # idle clock is kept to a tenth of the timeout (at most a minute) instead.
        if now - stored.last_seen_at >= min(60.0, self.idle_s / 10):
            self._store.touch(id_hash, int(now))
        return Session(principal, csrf_for(session_id), stored.created_at)

    def logout(self, session_id: str | None) -> None:
        if session_id:
            self._store.end(_digest(session_id), int(self.clock()), "logout")
