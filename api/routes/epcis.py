"""EPCIS 2.0 REST query: ``GET /epcis/events`` and ``GET /epcis/items/{code}/events``.

The SimpleEventQuery parameters travel as query parameters (EPCIS 2.0 §12.5); a list-valued
one takes several values separated by commas or repeated (any one matches). Pages are
``perPage`` long; the next one is named by an opaque ``nextPageToken``, in a ``Link`` header
with ``rel="next"``. ``GS1-EPC-Format`` chooses how EPCs are written. A parameter this
repository does not answer is a 400 ``QueryParameterException``, never silently ignored:
a filter left out would widen the answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Final, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from api.auth import Caller, Principal
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.routes._params import Code
from api.services.epcis import (
    EPC_FORMATS,
    EpcFormat,
    EpcisQueryError,
    EventQuery,
    open_page_token,
    page_token,
)
from ledger.epcis.epc_uri import canonical_identifier
from ledger.epcis.vocabulary import Vocabulary

router = APIRouter(prefix="/epcis", tags=["epcis"])
LD_JSON: Final = "application/ld+json"
MAX_PER_PAGE: Final = 1000
DEFAULT_PER_PAGE: Final = 100
EVENT_TYPES: Final = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent",
     "TransactionEvent"}
)  # fmt: skip
_IDENTIFIERS: Final = (
    "MATCH_epc", "MATCH_parentID", "MATCH_inputEPC", "MATCH_outputEPC", "MATCH_anyEPC",
    "EQ_bizLocation", "EQ_readPoint",
)  # fmt: skip
_TERMS: Final = (
    "eventType", "EQ_bizStep", "EQ_disposition", "EQ_action", "EQ_eventID", *_IDENTIFIERS,
)  # fmt: skip
_TIMES: Final = ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime")
_PAGING: Final = ("perPage", "nextPageToken")
_ACTIONS: Final = frozenset({"ADD", "OBSERVE", "DELETE"})
HEADERS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
QUERY_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "An EPCISQueryDocument (JSON-LD); each event with `chemtrace:log`",
        "content": {LD_JSON: {"schema": {"type": "object"}}},
    },
    **responses(400, 401, 403),
}
EpcFormatHeader = Annotated[
    str,
    Header(
        alias="GS1-EPC-Format",
        description="`No_Preference` (the default: as the ledger states them), "
        "`Always_GS1_Digital_Link`, `Always_EPC_URN` or `Never_Translates`",
        json_schema_extra={"enum": list(EPC_FORMATS)},
    ),
]


_DESCRIPTIONS: Final = {
    "eventType": "ObjectEvent, AggregationEvent, TransformationEvent, AssociationEvent or "
    "TransactionEvent",
    "EQ_bizStep": "CBV bizStep: a bare term (`shipping`), its URN or its web URI",
    "EQ_disposition": "CBV disposition: a bare term, its URN or its web URI",
    "EQ_action": "ADD, OBSERVE or DELETE",
    "MATCH_epc": "an EPC in epcList or childEPCs (any GS1 spelling: Digital Link, EPC URN, "
    "or the `urn:chemtrace:code:` URN); no patterns",
    "MATCH_parentID": "the parentID of an AggregationEvent",
    "MATCH_inputEPC": "an EPC in inputEPCList",
    "MATCH_outputEPC": "an EPC in outputEPCList",
    "MATCH_anyEPC": "an EPC anywhere: epcList, childEPCs, parentID, inputs or outputs",
    "EQ_bizLocation": "the bizLocation id (`urn:chemtrace:site:…`, an SGLN)",
    "EQ_readPoint": "the readPoint id",
    "EQ_eventID": "the eventID: the CBV 2.0 hash ID the event was exported with, or the one "
    "it was captured under",
    "GE_eventTime": "eventTime at or after (RFC 3339 with a zone)",
    "LT_eventTime": "eventTime before",
    "GE_recordTime": "recordTime (the log time) at or after",
    "LT_recordTime": "recordTime before",
    "perPage": f"events per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})",
    "nextPageToken": "the opaque token of the next page (from the `Link` header)",
}
QUERY_PARAMETERS: Final = [
    {"name": name, "in": "query", "required": False, "description": text,
     "schema": {"type": "string"}}
    for name, text in _DESCRIPTIONS.items()
]  # fmt: skip
"""The SimpleEventQuery parameters, for the OpenAPI document (the route reads them itself, so
that one it does not know is refused rather than ignored)."""


def refusal(parameter: str, detail: str) -> ProblemError:
    return ProblemError(
        400, "query_parameter_exception", detail, field=parameter,
        type="epcisException:QueryParameterException",
    )  # fmt: skip


def epc_format_of(value: str) -> EpcFormat:
    if value not in EPC_FORMATS:
        raise refusal("GS1-EPC-Format", f"GS1-EPC-Format is one of {', '.join(EPC_FORMATS)}")
    return cast("EpcFormat", value)


def _values(parameter: str, raw: list[str]) -> frozenset[str]:
    return checked_values(parameter, [value for text in raw for value in text.split(",")])


def checked_values(parameter: str, values: list[str]) -> frozenset[str]:
    """The values of one term, checked and in the form events are matched in."""
    if not values or any(not value for value in values):
        raise refusal(parameter, f"{parameter} has an empty value")
    if parameter == "eventType" and (unknown := set(values) - EVENT_TYPES):
        raise refusal(parameter, f"eventType {sorted(unknown)[0]!r} is not an EPCIS event type")
    if parameter == "EQ_action" and (unknown := set(values) - _ACTIONS):
        raise refusal(parameter, f"action {sorted(unknown)[0]!r} is not ADD, OBSERVE or DELETE")
    if parameter in ("EQ_bizStep", "EQ_disposition"):
        vocabulary = Vocabulary.BIZ_STEP if parameter == "EQ_bizStep" else Vocabulary.DISPOSITION
        return frozenset(vocabulary.expand(value) for value in values)
    if parameter in _IDENTIFIERS:
        if any("*" in value for value in values):
            raise refusal(parameter, f"{parameter}: EPC patterns (with *) are not supported")
        try:
            return frozenset(canonical_identifier(value) for value in values)
        except ValueError as exc:
            raise refusal(parameter, f"{parameter}: {exc}") from exc
    return frozenset(values)


def _time(parameter: str, raw: list[str]) -> datetime:
    if len(raw) != 1:
        raise refusal(parameter, f"{parameter} is given {len(raw)} times")
    try:
        stamp = datetime.fromisoformat(raw[0].replace("Z", "+00:00"))
    except ValueError as exc:
        raise refusal(parameter, f"{parameter} is not an RFC 3339 time: {raw[0]!r}") from exc
    if stamp.tzinfo is None:
        raise refusal(parameter, f"{parameter} needs a time zone (Z or ±hh:mm)")
    return stamp


def per_page_of(raw: list[str]) -> int:
    text = raw[-1] if raw else str(DEFAULT_PER_PAGE)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PER_PAGE:
        raise refusal("perPage", f"perPage is a whole number from 1 to {MAX_PER_PAGE}")
    return int(text)


def fingerprint(principal: Principal, request: Request, bound: str = "") -> str:
    """What a page token is bound to: the caller, the resource, every filter, and ``bound``
    (what else chose the events: a named query's definition)."""
    kept = sorted((k, v) for k, v in request.query_params.multi_items() if k not in _PAGING)
    text = "\n".join([principal.user_id, request.url.path, *(f"{k}={v}" for k, v in kept)])
    if bound:
        text += "\n\n" + bound
    return hashlib.sha256(text.encode()).hexdigest()


def given_parameters(request: Request, known: tuple[str, ...]) -> dict[str, list[str]]:
    """The query string by parameter; one this route does not answer is refused."""
    given: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        given.setdefault(key, []).append(value)
    for key in given:
        if key not in known:
            raise refusal(key, f"{key} is not a query parameter this repository answers")
    return given


def resume_after(
    request: Request, principal: Principal, secret: bytes, kind: type[Any], bound: str = ""
) -> Any:
    """Where the ``nextPageToken`` given resumes (None without one)."""
    token = request.query_params.getlist("nextPageToken")
    if not token:
        return None
    try:
        after = open_page_token(secret, fingerprint(principal, request, bound), token[-1])
    except EpcisQueryError as exc:
        raise refusal(exc.parameter, exc.detail) from exc
    if not isinstance(after, kind):
        raise refusal("nextPageToken", "the page token belongs to another query")
    return after


def parse_query(request: Request, principal: Principal, secret: bytes) -> EventQuery:
    """The query's parameters, checked; an unknown, repeated or malformed one is refused."""
    given = given_parameters(request, (*_TERMS, *_TIMES, *_PAGING))
    after = resume_after(request, principal, secret, int)
    filters = {k: v for k, v in given.items() if k not in _PAGING}
    return replace(
        checked_filters(filters, split=True),
        per_page=per_page_of(given.get("perPage", [])),
        after=-1 if after is None else after,
    )


def checked_filters(given: Mapping[str, list[str]], *, split: bool) -> EventQuery:
    """The filters of a SimpleEventQuery (each parameter's raw values), checked; an unknown,
    repeated or malformed one is refused. ``split``: a value may list several, comma-separated
    (the query string's syntax; a JSON list says so itself)."""
    for key in given:
        if key not in (*_TERMS, *_TIMES):
            raise refusal(key, f"{key} is not a query parameter this repository answers")
    check = _values if split else checked_values
    return EventQuery(
        terms={k: check(k, v) for k, v in given.items() if k in _TERMS},
        times={k: _time(k, v) for k, v in given.items() if k in _TIMES},
    )


def filters_of_json(query: object) -> EventQuery:
    """A query object (a named query's ``query``, as EPCIS's query schema writes it: a list
    of strings per term, one RFC 3339 string per time), checked like a query string."""
    if not isinstance(query, dict):
        raise refusal("query", "query is an object of SimpleEventQuery parameters")
    given: dict[str, list[str]] = {}
    for key, value in query.items():
        if key in _PAGING:
            raise refusal(key, f"{key} pages a run of the query; it is not part of one")
        if key in _TIMES:
            if not isinstance(value, str):
                raise refusal(key, f"{key} is one RFC 3339 time, as a string")
            given[key] = [value]
        elif key in _TERMS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise refusal(key, f"{key} is a list of strings")
            given[key] = value
        else:
            given[key] = []  # refused by name below, as the query string's would be
    return checked_filters(given, split=False)


def next_link(
    request: Request, principal: Principal, secret: bytes, after: int | str, bound: str = ""
) -> str:
    """The URL of the next page: this request's, with a token resuming after ``after``."""
    token = page_token(secret, fingerprint(principal, request, bound), after)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    return f"{path}?{urlencode([*kept, ('nextPageToken', token)])}"  # raw: a path may hold %3F


def path_values(request: Request, parameter: str, term: str) -> frozenset[str]:
    """A resource's path value as the values of ``term``; a malformed one is refused, naming
    the path parameter."""
    try:
        return checked_values(term, [request.path_params[parameter]])
    except ProblemError as exc:
        raise refusal(parameter, exc.detail) from exc


def answer(document: dict[str, Any], epc_format: str, link: str | None = None) -> JSONResponse:
    headers = {**HEADERS, "GS1-EPC-Format": epc_format}
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    return JSONResponse(document, media_type=LD_JSON, headers=headers)


@router.get(
    "/events",
    response_class=JSONResponse,
    responses=QUERY_RESPONSES,
    summary="EPCIS 2.0 SimpleEventQuery over the events in your scope, with log proofs.",
    openapi_extra={"parameters": QUERY_PARAMETERS},
)
def query_events(
    request: Request, principal: Caller, gs1_epc_format: EpcFormatHeader = "No_Preference"
) -> JSONResponse:
    return events_answer(request, principal, gs1_epc_format)


def events_answer(
    request: Request, principal: Principal, gs1_epc_format: str,
    narrowed: tuple[str, str] | None = None,
) -> JSONResponse:  # fmt: skip
    """A SimpleEventQuery's page; ``narrowed``: a resource's filter (its path parameter and
    the term it sets), which must hold beside the query string's."""
    epc_format = epc_format_of(gs1_epc_format)
    query = parse_query(request, principal, service_of(request).epcis.secret())
    if narrowed is not None:
        query = query.narrowed(narrowed[1], path_values(request, *narrowed))
    return page_answer(request, principal, query, epc_format)


def page_answer(
    request: Request, principal: Principal, query: EventQuery, epc_format: EpcFormat,
    bound: str = "",
) -> JSONResponse:  # fmt: skip
    """One page of ``query``'s events, with the next page's link (its token bound to this
    request and ``bound``)."""
    service = service_of(request).epcis
    page = service.query(principal, query, epc_format)
    link = None if page.after is None else next_link(request, principal, service.secret(),
                                                     page.after, bound)  # fmt: skip
    return answer(page.document, epc_format, link)


@router.get(
    "/items/{code}/events",
    response_class=JSONResponse,
    responses={**QUERY_RESPONSES, **responses(404)},
    summary="One item's custody chain (what you may see of it) as one EPCIS 2.0 document.",
)
def item_events(
    request: Request, code: Code, principal: Caller,
    gs1_epc_format: EpcFormatHeader = "No_Preference",
) -> JSONResponse:  # fmt: skip
    epc_format = epc_format_of(gs1_epc_format)
    document = service_of(request).epcis.item_chain(principal, code, epc_format)
    return answer(document, epc_format)


PAGING_PARAMETERS: Final = [
    {"name": "perPage", "in": "query", "required": False, "schema": {"type": "string"},
     "description": f"per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})"},
    {"name": "nextPageToken", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "the opaque token of the next page (from the `Link` header)"},
]  # fmt: skip
"""The paging parameters of the EPCIS lists (their OpenAPI; the routes read them raw)."""
