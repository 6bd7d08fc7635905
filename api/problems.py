"""RFC 9457 problem+json: every error the API returns, each with a stable ``code``.

Ledger errors and the services' refusals (``api.services.errors``) are mapped to HTTP
statuses and codes here, once. Handlers never return a 500 for bad input: anything
unexpected is a ``internal_error`` problem that names no internals.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.logs import REQUEST_ID_HEADER, current_request_id
from api.services.errors import (
    CodeNotFoundError,
    ErasedError,
    ForbiddenError,
    InvalidQueryError,
    NoCheckpointError,
    NotFoundError,
    OrgMismatchError,
    RateLimitedError,
    ServiceError,
    UnknownDeviceKeyError,
    UnknownOrgError,
    UnknownUserError,
)
from ledger.catalog.lookup import AmbiguousChemicalError
from ledger.codes import DuplicateCodeError
from ledger.errors import (
    AppendRejectedError,
    CheckpointConflictError,
    InvalidInputError,
    ItemExistsError,
    LedgerError,
    NotHolderError,
    StaleHeadError,
    StorageError,
    TransitionRefusedError,
    UnknownFindingError,
    VerificationError,
)
from ledger.http_signature import HttpSignatureError
from ledger.store.bundles import BundleUnavailableError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("chemtrace.api")


class ProblemError(Exception):
    """An API error with a stable code."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


class ProblemBody(BaseModel):
    """The problem+json document (RFC 9457) with chemtrace's ``code`` and ``field``."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    field: str | None = None
    request_id: str | None = None
    """The request's id, as in its ``X-Request-ID`` header and on the server's log lines."""


TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable input",
    429: "Too many requests",
    431: "Header fields too large",
    500: "Internal error",
    503: "Unavailable",
}


_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "code", "detail"})


def status_of(exc: LedgerError) -> int:
    """The HTTP status of a ledger error."""
    if isinstance(exc, HttpSignatureError):
        return _SIGNATURE_STATUS.get(exc.code, 401)
    if isinstance(
        exc,
        (
            StaleHeadError,
            NotHolderError,
            ItemExistsError,
            DuplicateCodeError,
            CheckpointConflictError,
            TransitionRefusedError,
        ),
    ):
        return 409
    if isinstance(exc, UnknownFindingError):
        return 404
    if isinstance(exc, (InvalidInputError, VerificationError, AppendRejectedError)):
        return 422
    if isinstance(exc, BundleUnavailableError):
        return 404
    if isinstance(exc, StorageError):
        return 503
    return 500


_SIGNATURE_STATUS: Final = {
    "components_missing": 400, "content_digest_mismatch": 400, "signature_replayed": 409,
}  # fmt: skip
"""RFC 9421 refusals that are not 401 (the request is not authenticated by its signature)."""

_NOT_FOUND_CODES: dict[type[NotFoundError], str] = {
    UnknownUserError: "unknown_user",
    UnknownDeviceKeyError: "unknown_key",
    CodeNotFoundError: "unknown_code",
    ErasedError: "erased",
    NoCheckpointError: "no_checkpoint",
}
"""The codes of the not-found errors not called ``<kind>_not_found``."""


def _refusal(exc: ServiceError) -> ProblemError:
    match exc:
        case NotFoundError():
            code = _NOT_FOUND_CODES.get(type(exc), f"{exc.kind}_not_found")
            return ProblemError(404, code, exc.detail)
        case OrgMismatchError():
            return ProblemError(403, "forbidden", exc.detail, index=exc.index)
        case ForbiddenError():
            return ProblemError(403, "forbidden", exc.detail)
        case RateLimitedError():
            return ProblemError(429, "rate_limited", exc.detail, retry_after=exc.retry_after)
        case UnknownOrgError():
            return ProblemError(422, "unknown_org", exc.detail, field="org")
        case InvalidQueryError():
            extra = {} if exc.candidates is None else {"candidates": exc.candidates}
            return ProblemError(422, exc.code, exc.detail, field=exc.field, **extra)
    log.error("no problem is defined for %s", type(exc).__name__)
    return ProblemError(500, "internal_error", "an unexpected error; nothing was written")


def problem_of(exc: LedgerError | ServiceError) -> ProblemError:
    """The problem for a ledger error or a service's refusal, with its context (``field``,
    ``head``, ``index``, ``retry_after``, …).

    A ledger error's context key that would shadow a member of the problem document itself
    (``status`` of a finding, say) is renamed ``current_<key>``.
    """
    if isinstance(exc, ServiceError):
        return _refusal(exc)
    context: dict[str, Any] = {
        (f"current_{k}" if k in _PROBLEM_MEMBERS else k): v
        for k, v in exc.context.items()
        if isinstance(v, (str, int, bool))
    }
    if isinstance(exc, AmbiguousChemicalError):  # the candidates to choose from
        context["candidates"] = exc.candidates
    return ProblemError(status_of(exc), exc.code, exc.diagnostics(), **context)


def problem_json(problem: ProblemError) -> dict[str, Any]:
    """The JSON document of a problem."""
    return {
        "type": f"https://chemtrace.dev/problems/{problem.code}",
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **problem.extra,
    }


def respond(problem: ProblemError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The problem+json response, with the request's id (``api.logs``) if one is bound."""
    body = problem_json(problem)
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON,
                        headers=headers)  # fmt: skip


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "$"


def _allowed_methods(request: Request) -> str:
    """The ``Allow`` header of the request's path: the methods of every route it matches.

    A path that a literal route matches (``/epcis/capture/signed``) is that resource, not an
    instance of a template beside it (``/epcis/capture/{capture_id}``): only the literal
    routes' methods count then, as the OpenAPI document lists them."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    routes = request.app.routes
    walk = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x nests them
    literal: set[str] = set()
    templated: set[str] = set()
    for route in walk(routes) if walk is not None else routes:
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            (templated if "{" in getattr(route, "path", "{") else literal).update(route_methods)
    return ", ".join(sorted(literal or templated))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        headers = (
            {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
        )
        return respond(exc, headers)

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return respond(problem_of(exc))

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return await _problem(request, problem_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        code = "malformed_json" if first.get("type") == "json_invalid" else "invalid_request"
        return respond(ProblemError(422, code, str(first.get("msg")), field=_field(first["loc"])))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request) or headers.get("Allow", "")
            headers["Allow"] = allowed
            detail = f"{request.method} is not allowed here; the methods are {allowed}"
            return respond(ProblemError(405, "method_not_allowed", detail), headers)
        if exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):
            # FastAPI's answer to a typed body its JSON parser gave up on (invalid UTF-8, say)
            detail = f"the body is not JSON: {exc.__cause__}"
            return respond(ProblemError(422, "malformed_json", detail, field="$"))
        code = {404: "not_found"}.get(exc.status_code, "http_error")
        return respond(ProblemError(exc.status_code, code, str(exc.detail)), headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return respond(
            ProblemError(500, "internal_error", "an unexpected error; nothing was written")
        )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem statuses an endpoint may return.

    Their content (a ``ProblemBody`` as problem+json) is filled in for every error at once
    when the schema is built (``api.app``), FastAPI's own 422 entries included.
    """
    return {status: {"description": TITLES[status]} for status in statuses}
