"""The EPCIS 2.0 REST binding's resources beside the query: one event, and the top-level ones.

- ``GET /epcis/events/{eventID}``: one event by its CBV 2.0 hash ID (URL-encoded in the
  path), the one it was exported with or the one it was captured under, with the error
  declarations that repeat it. Absent and out of scope are one answer: 404
  ``NoSuchResourceException``, whose detail does not repeat the ID.
- ``GET /epcis/eventTypes``, ``/epcs``, ``/bizSteps``, ``/bizLocations``, ``/readPoints``,
  ``/dispositions``: a paged ``Collection`` of what the events in the caller's scope name.
- ``GET /epcis/{resource}/{value}/events``: exactly ``GET /epcis/events`` with the
  resource's filter (``/epcs/{epc}`` is ``MATCH_anyEPC``) and the query string's together.
- ``GET /epcis/{resource}/{value}``: its sub-resources (``events``), the same for every
  well-formed value, so that it says nothing about what exists.
"""

from __future__ import annotations

from typing import Any, Final, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import Caller, Principal
from api.problems import responses
from api.routes import _params  # noqa: F401 - registers the ``anything`` path convertor
from api.routes._common import service_of
from api.routes.epcis import (
    HEADERS,
    PAGING_PARAMETERS,
    QUERY_PARAMETERS,
    QUERY_RESPONSES,
    EpcFormatHeader,
    answer,
    epc_format_of,
    events_answer,
    given_parameters,
    next_link,
    path_values,
    per_page_of,
    resume_after,
)
from api.services.epcis import Resource
from api.services.epcis_capture import epcis_problem

router = APIRouter(prefix="/epcis", tags=["epcis"])
RESOURCES: Final[dict[str, tuple[str, str, str]]] = {
    # resource: (the binding's path parameter, the query term it sets, what it is)
    "eventTypes": ("eventType", "eventType", "an EPCIS event type (`ObjectEvent`, …)"),
    "epcs": ("epc", "MATCH_anyEPC", "an EPC in any GS1 spelling, or `urn:chemtrace:code:…`, "
             "URL-encoded; it matches anywhere in an event, as `MATCH_anyEPC`"),
    "bizSteps": ("bizStep", "EQ_bizStep", "a CBV bizStep: a bare term, its URN or web URI"),
    "bizLocations": ("bizLocation", "EQ_bizLocation", "a bizLocation id, URL-encoded"),
    "readPoints": ("readPoint", "EQ_readPoint", "a readPoint id, URL-encoded"),
    "dispositions": ("disposition", "EQ_disposition", "a CBV disposition: a bare term, its "
                     "URN or web URI"),
}  # fmt: skip
CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


@router.get(
    "/events/{eventID:anything}",
    response_class=JSONResponse,
    responses={**QUERY_RESPONSES, **responses(404)},
    summary="One EPCIS event by its CBV 2.0 hash ID, with its error declarations and proofs.",
    openapi_extra={"parameters": [_path_parameter(
        "eventID", "`ni:///sha-256;…?ver=CBV2.0`, URL-encoded: the ID the event was exported "
        "with, or the one it was captured under; one not in your scope is a 404 like a "
        "missing one",
    )]},
)  # fmt: skip
def event_by_id(
    request: Request, principal: Caller, gs1_epc_format: EpcFormatHeader = "No_Preference"
) -> JSONResponse:
    epc_format = epc_format_of(gs1_epc_format)
    event_id = str(request.path_params["eventID"])
    given = given_parameters(request, ("ver",))
    if given:  # the ID sent without encoding its ``?``: the query string is its tail
        event_id += "?" + "&".join(f"ver={value}" for value in given["ver"])
    document = service_of(request).epcis.event(principal, event_id, epc_format)
    if document is None:
        raise epcis_problem(404, "epcis_event_not_found", "no such event in your scope",
                            field="eventID")  # fmt: skip
    return answer(document, epc_format)


def _collection(resource: str) -> Any:
    def collection(
        request: Request, principal: Caller, gs1_epc_format: EpcFormatHeader = "No_Preference"
    ) -> JSONResponse:
        return _collection_answer(request, principal, cast("Resource", resource), gs1_epc_format)

    collection.__name__ = f"epcis_{resource}"
    return collection


def _collection_answer(
    request: Request, principal: Principal, resource: Resource, gs1_epc_format: str
) -> JSONResponse:
    epc_format = epc_format_of(gs1_epc_format)
    service = service_of(request).epcis
    given = given_parameters(request, ("perPage", "nextPageToken"))
    after = resume_after(request, principal, service.secret(), str)
    page = service.collection(principal, resource, epc_format, after=after,
                              per_page=per_page_of(given.get("perPage", [])))  # fmt: skip
    headers = {**HEADERS, "GS1-EPC-Format": epc_format}
    if page.after is not None:
        link = next_link(request, principal, service.secret(), page.after)
        headers["Link"] = f'<{link}>; rel="next"'
    body = {"@context": CONTEXT, "type": "Collection", "member": page.members}
    return JSONResponse(body, headers=headers)


def _events(resource: str, parameter: str, term: str) -> Any:
    def events(
        request: Request, principal: Caller, gs1_epc_format: EpcFormatHeader = "No_Preference"
    ) -> JSONResponse:
        return events_answer(request, principal, gs1_epc_format, (parameter, term))

    events.__name__ = f"epcis_{resource}_events"
    return events


def _sub_resources(resource: str, parameter: str, term: str) -> Any:
    def sub_resources(request: Request, principal: Caller) -> JSONResponse:
        service_of(request).epcis.require_reader(principal)
        path_values(request, parameter, term)
        given_parameters(request, ())
        body = {"@context": CONTEXT, "type": "Collection", "member": ["events"]}
        return JSONResponse(body, headers=HEADERS)

    sub_resources.__name__ = f"epcis_{resource}_sub_resources"
    return sub_resources


_SUB_RESOURCE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "`{\"type\": \"Collection\", \"member\": [\"events\"]}` for any "
          "well-formed value: whether the value names anything in your scope is not said",
          "content": {"application/json": {"schema": {"type": "object"}}}},
    **responses(400, 401, 403),
}  # fmt: skip
_COLLECTION_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "A `Collection` (JSON-LD) of what the events in your scope name; "
          "`Link: <…>; rel=\"next\"` when more follow",
          "content": {"application/json": {"schema": {"type": "object"}}}},
    **responses(400, 401, 403),
}  # fmt: skip

for _resource, (_parameter, _term, _what) in RESOURCES.items():
    router.add_api_route(
        f"/{_resource}", _collection(_resource), methods=["GET"], response_class=JSONResponse,
        responses=_COLLECTION_RESPONSES, openapi_extra={"parameters": PAGING_PARAMETERS},
        summary=f"The {_resource} the events in your scope name, as a paged collection."
        if _resource != "eventTypes" else "The five EPCIS event types, as a collection.",
    )  # fmt: skip
    router.add_api_route(
        f"/{_resource}/{{{_parameter}:anything}}/events", _events(_resource, _parameter, _term),
        methods=["GET"], response_class=JSONResponse, responses=QUERY_RESPONSES,
        openapi_extra={"parameters": [_path_parameter(_parameter, _what), *QUERY_PARAMETERS]},
        summary=f"GET /epcis/events with `{_term}` set to the path's value (and the query's).",
    )  # fmt: skip
    router.add_api_route(  # after ``…/events``: ``anything`` would match that path too
        f"/{_resource}/{{{_parameter}:anything}}", _sub_resources(_resource, _parameter, _term),
        methods=["GET"], response_class=JSONResponse, responses=_SUB_RESOURCE_RESPONSES,
        openapi_extra={"parameters": [_path_parameter(_parameter, _what)]},
        summary="The sub-resources of one value (HATEOAS): `events`.",
    )  # fmt: skip

__all__ = ["RESOURCES", "router"]
