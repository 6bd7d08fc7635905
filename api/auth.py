"""Authentication at the HTTP edge: a request's bearer token, and role checks.

Tokens, principals and scopes themselves are :mod:`api.services.access`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from api.services.access import Principal, Role, token_hash
from api.services.root import Service

__all__ = ["Caller", "Principal", "current_principal", "require"]
_bearer = HTTPBearer(auto_error=False, description="A chemtrace API token (ct_…).")
log = logging.getLogger("chemtrace.auth")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the bearer token.

    async, and read in the thread pool only when the answer is not remembered: most requests
    come from a token seen within the second, and a pool hop costs the event loop more than
    the lookup itself.

    Raises:
        ProblemError: 401 ``unauthenticated``: no token, an unknown or revoked one, or one of
            a disabled user (indistinguishable on purpose).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        log.info("authentication refused: no bearer token")
        raise ProblemError(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
    service: Service = request.app.state.service
    digest = token_hash(credentials.credentials)
    known, principal = service.access.remembered_principal(digest)
    if not known:
        principal = await run_in_threadpool(service.access.principal_for, digest)
    if principal is None:  # the token itself is never logged
        log.info("authentication refused: unknown or revoked token")
        raise ProblemError(401, "unauthenticated", "unknown or revoked token")
    request.state.principal = principal
    return principal


IMPLIED: Final[Mapping[str, set[str]]] = {"city_regulator": {"regulator"}}
"""A city-level regulator may do whatever a district regulator may, in every district."""


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles``."""

    # async: a check with no I/O must not cost a hop through the thread pool per request
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles and not IMPLIED.get(principal.role, set()) & set(roles):
            raise ProblemError(
                403, "forbidden", f"role {principal.role} may not do this; needs {', '.join(roles)}"
            )
        return principal

    return check


Caller = Annotated[Principal, Depends(current_principal)]
