"""Bearer tokens, roles and data scopes.

A token is 32 random bytes (``ct_`` + base64url); only its SHA-256 is stored, so a leaked
table grants nothing and a lookup is one indexed read. Users are registry records (kind
``user``), so who was given which role, and when, is in the log like every other
registry change. Scope: an enterprise sees its own organisation; a regulator or
inspector the districts on its user record; an admin everything.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError

Role = Literal["admin", "enterprise", "regulator", "inspector"]
TOKEN_PREFIX = "ct_"  # noqa: S105 - a prefix, not a secret
_bearer = HTTPBearer(auto_error=False, description="A chemtrace API token (ct_…).")


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and what they may see."""

    user_id: str
    role: Role
    org: str | None
    districts: frozenset[str]


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the bearer token.

    Raises:
        ProblemError: 401 ``unauthenticated``: no token, an unknown or revoked one, or one of
            a disabled user (indistinguishable on purpose).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
    principal = request.app.state.service.principal_for(token_hash(credentials.credentials))
    if principal is None:
        raise ProblemError(401, "unauthenticated", "unknown or revoked token")
    request.state.principal = principal
    return principal


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency admitting only ``roles``."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise ProblemError(
                403, "forbidden", f"role {principal.role} may not do this; needs {', '.join(roles)}"
            )
        return principal

    return check


Caller = Annotated[Principal, Depends(current_principal)]
