"""Strict query strings on the ``/v1`` JSON API: no parameter is silently ignored.

A parameter the route does not declare, or a single-valued one given twice, is a 422
(``unknown_parameter`` / ``repeated_parameter``) naming it; a multi-valued filter is
declared as a list and may be repeated. Applied once to the app (``api.app``) and judged
by path: HTML pages (``/c/…``), GS1 Digital Link resolver URLs (``/01/…``, ``/00/…``,
``/8003/…``) and EPCIS (``/epcis/…``, with parameter rules of its own) are not under
``/v1/`` and are left alone, since messaging apps and GS1 resolvers append parameters
they do not know.

A route that authenticates is refused with its 401 first: an anonymous caller learns
nothing about the parameters a route takes.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param

from api.auth import current_principal
from api.problems import ProblemError

STRICT_PREFIX = "/v1/"
_known: dict[int, tuple[frozenset[str], frozenset[str], bool]] = {}


def _sequence(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _sequence(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_sequence(arg) for arg in get_args(annotation))
    return origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _declared(route: Any) -> tuple[frozenset[str], frozenset[str], bool]:
    """The route's query parameters, those of them that are lists, and whether it
    authenticates (computed once per route)."""
    key = id(route)
    if key not in _known:
        singles: set[str] = set()
        lists: set[str] = set()
        authenticates = False
        for dependant in _dependants(route.dependant):
            authenticates = authenticates or dependant.call is current_principal
            for field in dependant.query_params:
                name = field.alias
                (lists if _sequence(field.field_info.annotation) else singles).add(name)
        _known[key] = (frozenset(singles), frozenset(lists), authenticates)
    return _known[key]


async def strict_query(request: Request) -> None:
    """Refuse unknown and repeated single-valued query parameters (see the module).

    async: most requests have no query string, and must not cost a thread-pool hop for it."""
    route = request.scope.get("route")
    if not request.url.path.startswith(STRICT_PREFIX) or route is None:
        return
    given = request.query_params
    if not given:
        return
    singles, lists, authenticates = _declared(route)
    if authenticates:
        await current_principal(request, _credentials(request))
    for name in dict.fromkeys(given.keys()):
        if name not in singles and name not in lists:
            known = ", ".join(sorted(singles | lists)) or "none"
            raise ProblemError(422, "unknown_parameter",
                               f"unknown query parameter {name!r} (this route takes: {known})",
                               field=name)  # fmt: skip
        if name in singles and len(given.getlist(name)) > 1:
            raise ProblemError(422, "repeated_parameter",
                               f"query parameter {name!r} takes one value", field=name)  # fmt: skip


def _credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    scheme, value = get_authorization_scheme_param(request.headers.get("authorization"))
    if not (scheme and value):
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=value)
