"""EPCIS 2.0 named queries (REST binding ``/queries``), stored per organisation.

- ``POST /epcis/queries`` ``{"name": …, "query": {…}}``: the query object holds the
  parameters of ``GET /epcis/events`` (a list of strings per term, one RFC 3339 string per
  time) and is checked by the same code; a bad one is the same 400
  ``QueryParameterException``. 201 with ``Location: /epcis/queries/{name}``; a name the
  organisation has is a 409 ``ResourceAlreadyExistsException``.
- ``GET /epcis/queries`` (paged), ``GET`` and ``DELETE /epcis/queries/{queryName}``.
- ``GET /epcis/queries/{queryName}/events``: exactly ``GET /epcis/events`` with the stored
  parameters, for the caller now, paged the same way (the token also bound to the definition,
  so a query deleted and made again under its name does not resume the old one's pages).

A name another organisation has, and one nobody has, answer alike (404
``NoSuchNameException``, or 201 on create): see :mod:`api.services.epcis_queries`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.auth import Caller
from api.problems import ProblemError, responses
from api.routes._common import read_json, service_of
from api.routes.epcis import (
    HEADERS,
    PAGING_PARAMETERS,
    QUERY_RESPONSES,
    EpcFormatHeader,
    epc_format_of,
    filters_of_json,
    given_parameters,
    next_link,
    page_answer,
    per_page_of,
    resume_after,
)
from api.services.epcis_capture import epcis_problem
from ledger.canonical import canonical_bytes
from ledger.store.epcis_queries import NamedQuery

router = APIRouter(prefix="/epcis", tags=["epcis"])
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"
"""URI-unreserved characters only, so that a name is its own path segment."""
MAX_DEFINITION_BYTES: Final = 64 * 1024
_NAME: Final = re.compile(NAME_PATTERN)
_PAGING: Final = ("perPage", "nextPageToken")
_QUERY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "SimpleEventQuery parameters, as on `GET /epcis/events`: a list of "
    "strings for each term (`eventType`, `EQ_bizStep`, `MATCH_anyEPC`, …), one RFC 3339 "
    "string for each time (`GE_eventTime`, …)",
    "additionalProperties": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
    },
}
_DEFINITION: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["name", "query"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN,
                 "description": "unique within your organisation"},
        "query": _QUERY_SCHEMA,
    },
}  # fmt: skip
_JSON: Final = "application/json"
_NAME_PARAMETER: Final = {
    "name": "queryName", "in": "path", "required": True,
    "description": "a query name of your organisation's; another organisation's is a 404 "
    "like an absent one", "schema": {"type": "string", "pattern": NAME_PATTERN},
}  # fmt: skip


def _json(query: NamedQuery) -> dict[str, Any]:
    return {"name": query.name, "query": query.definition}


def _name(value: object, field: str) -> str:
    if not isinstance(value, str) or _NAME.match(value) is None:
        raise epcis_problem(
            400, "epcis_query_name",
            "a query name is 1 to 128 of A-Z a-z 0-9 . _ ~ -, starting with a letter or digit",
            field=field,
        )  # fmt: skip
    return value


async def _definition(request: Request) -> tuple[str, dict[str, Any]]:
    try:
        body = await read_json(request)
    except ProblemError as exc:
        raise epcis_problem(exc.status, exc.code, exc.detail, **exc.extra) from None
    if not isinstance(body, dict):
        raise epcis_problem(400, "epcis_query_body", "the body is {\"name\", \"query\"}",
                            field="$")  # fmt: skip
    for key in body:
        if key not in ("name", "query"):
            raise epcis_problem(400, "epcis_query_body", f"{key} is not a member of a query "
                                "definition (name, query)", field=key)  # fmt: skip
    name = _name(body.get("name"), "name")
    if "query" not in body:
        raise epcis_problem(400, "epcis_query_body", "query is missing", field="query")
    query = body["query"]
    filters_of_json(query)
    if len(canonical_bytes(query)) > MAX_DEFINITION_BYTES:
        raise epcis_problem(
            413, "epcis_query_too_complex",
            f"a stored query is at most {MAX_DEFINITION_BYTES} bytes of JSON",
            limit=MAX_DEFINITION_BYTES, field="query",
        )  # fmt: skip
    return name, query


@router.post(
    "/queries",
    status_code=201,
    responses={
        201: {
            "description": "Created; `Location: /epcis/queries/{name}`",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {_JSON: {"schema": _DEFINITION}},
        },
        **responses(400, 401, 403, 409, 413, 415, 422),
    },
    openapi_extra={"requestBody": {"required": True, "content": {_JSON: {"schema": _DEFINITION}}}},
    summary="Create a named EPCIS events query in your organisation.",
)
async def create_query(request: Request, principal: Caller) -> JSONResponse:
    name, query = await _definition(request)
    created = service_of(request).epcis_queries.create(principal, name, query)
    headers = {**HEADERS, "Location": f"/epcis/queries/{created.name}"}
    return JSONResponse(_json(created), status_code=201, headers=headers)


@router.get(
    "/queries",
    responses={
        200: {
            "description": "Your organisation's named queries, by name; `Link: <…>; "
            'rel="next"` when more follow',
            "content": {_JSON: {"schema": {"type": "array", "items": _DEFINITION}}},
        },
        **responses(400, 401, 403),
    },
    openapi_extra={"parameters": PAGING_PARAMETERS},
    summary="Your organisation's named EPCIS queries, paged.",
)
def list_queries(request: Request, principal: Caller) -> JSONResponse:
    service = service_of(request)
    given = given_parameters(request, _PAGING)
    per_page = per_page_of(given.get("perPage", []))
    after = resume_after(request, principal, service.epcis.secret(), str)
    page = service.epcis_queries.page(principal, after=after, per_page=per_page)
    headers = dict(HEADERS)
    if page.after is not None:
        link = next_link(request, principal, service.epcis.secret(), page.after)
        headers["Link"] = f'<{link}>; rel="next"'
    return JSONResponse([_json(q) for q in page.queries], headers=headers)


_ONE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "The query definition", "content": {_JSON: {"schema": _DEFINITION}}},
    **responses(400, 401, 403, 404),
}


@router.get(
    "/queries/{queryName}",
    responses=_ONE,
    openapi_extra={"parameters": [_NAME_PARAMETER]},
    summary="One named EPCIS query's definition.",
)
def get_query(request: Request, principal: Caller) -> JSONResponse:
    name = _name(request.path_params["queryName"], "queryName")
    given_parameters(request, ())
    found = service_of(request).epcis_queries.get(principal, name)
    return JSONResponse(_json(found), headers=HEADERS)


@router.delete(
    "/queries/{queryName}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **responses(400, 401, 403, 404)},
    openapi_extra={"parameters": [_NAME_PARAMETER]},
    summary="Delete one of your organisation's named EPCIS queries.",
)
def delete_query(request: Request, principal: Caller) -> Response:
    name = _name(request.path_params["queryName"], "queryName")
    given_parameters(request, ())
    service_of(request).epcis_queries.delete(principal, name)
    return Response(status_code=204, headers=HEADERS)


@router.get(
    "/queries/{queryName}/events",
    response_class=JSONResponse,
    responses={**QUERY_RESPONSES, **responses(404)},
    openapi_extra={"parameters": [_NAME_PARAMETER, *PAGING_PARAMETERS]},
    summary="Run a named query: GET /epcis/events with its parameters, in your scope now.",
)
def run_query(
    request: Request, principal: Caller, gs1_epc_format: EpcFormatHeader = "No_Preference"
) -> JSONResponse:
    epc_format = epc_format_of(gs1_epc_format)
    name = _name(request.path_params["queryName"], "queryName")
    service = service_of(request)
    per_page = per_page_of(given_parameters(request, _PAGING).get("perPage", []))
    stored = service.epcis_queries.get(principal, name)
    bound = canonical_bytes(stored.definition).decode()
    after = resume_after(request, principal, service.epcis.secret(), int, bound)
    query = filters_of_json(stored.definition)
    query = replace(query, per_page=per_page, after=-1 if after is None else after)
    return page_answer(request, principal, query, epc_format, bound)
