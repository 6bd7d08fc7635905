"""The GS1 Digital Link resolver: ``/01/{gtin}/21/{serial}``, ``/00/{sscc}`` and ``/8003/{grai}``.

A Digital Link on a drum resolves through the GS1-key-to-code link the registry made when it
issued the code. By default the answer is a 307 to the code's signed label page (what the QR
of the label opens); with ``Accept: application/linkset+json`` or ``?linkType=all`` it is an
RFC 9264 linkset with the GS1 link types ``pip``, ``certificationInfo`` and ``traceability``.

Public like the label page: it says nothing about custody. The traceability link points at
the EPCIS query of the item, which requires a token and answers within the caller's scope.
Parameters that are not GS1 AIs (``utm_source``, ``linkType``, a messaging app's tracking
tag) are ignored, as the Digital Link syntax says.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from api.problems import ProblemError, responses
from api.routes._common import service_of
from ledger.codes import SignedCode
from ledger.epcis.digital_link import DigitalLink, parse_digital_link, to_digital_link
from ledger.epcis.errors import IdentifierError

router = APIRouter(tags=["digital link"])
LINKSET: Final = "application/linkset+json"
GS1_VOC: Final = "https://gs1.org/voc/"
ITEM_KEYS: Final = {"01": "21", "00": None, "8003": None}
"""The primary keys the registry issues codes with, and the qualifier that makes a GTIN name
one container (a GTIN alone names a product, which no code is)."""


class _CompressedConvertor(Convertor[str]):
    """One path segment that can only be a compressed Digital Link (base64url, long)."""

    regex = r"[A-Za-z0-9_-]{20,}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("dl_compressed", _CompressedConvertor())

LINKSET_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "The item's RFC 9264 linkset (with `Accept: application/linkset+json` "
        "or `?linkType=all`)",
        "content": {LINKSET: {"schema": {"type": "object"}}},
    },
    307: {"description": "A redirect to the code's signed label page"},
    **responses(400, 404),
}


def _key_of(link: DigitalLink) -> str:
    """The registry's bracketed GS1 key (``(01)…(21)…``) of a parsed item link."""
    key = link.elements[0]
    if key.ai not in ITEM_KEYS:
        raise ProblemError(404, "unknown_code", f"no code is issued with AI ({key.ai})", ai=key.ai)
    qualifier = ITEM_KEYS[key.ai]
    if qualifier is None:
        return f"({key.ai}){key.value}"
    serial = next((e for e in link.elements[: link.path_length] if e.ai == qualifier), None)
    if serial is None:
        raise ProblemError(
            404,
            "unknown_code",
            f"a GTIN without a serial ({qualifier}) names a product, not one container",
            ai=qualifier,
        )
    return f"({key.ai}){key.value}({qualifier}){serial.value}"


def _parsed(request: Request) -> DigitalLink:
    query = request.url.query
    # The raw path: a serial may hold an escaped "/" (%2F), which the decoded path splits.
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    uri = f"https://{request.url.netloc or 'localhost'}{path}"
    try:
        return parse_digital_link(uri + ("?" + query if query else ""))
    except IdentifierError as exc:
        ai = exc.context.get("ai")
        detail = exc.message if ai is None else f"AI ({ai}): {exc.message}"
        raise ProblemError(400, exc.code, detail, ai=ai) from exc


def _wants_linkset(request: Request) -> bool:
    if request.query_params.get("linkType") == "all":
        return True
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == LINKSET for part in accept.split(","))


def _linkset(request: Request, link: DigitalLink, signed: SignedCode) -> dict[str, Any]:
    service = service_of(request)
    base = service.settings.base_url.rstrip("/")
    label = service.registry.label_url(signed)
    anchor = to_digital_link(link.elements[: link.path_length], stem=base)
    return {
        "linkset": [
            {
                "anchor": anchor,
                GS1_VOC + "pip": [
                    {
                        "href": f"{base}/c/{signed.code}",
                        "title": "Product information page",
                        "type": "text/html",
                        "hreflang": ["zh", "en"],
                    }
                ],
                GS1_VOC + "certificationInfo": [
                    {
                        "href": label,
                        "type": "text/html",
                        "title": "The registry-signed label: the page checks its signature",
                    }
                ],
                GS1_VOC + "traceability": [
                    {
                        "href": f"{base}/epcis/items/{signed.code}/events",
                        "type": "application/ld+json",
                        "title": "The custody chain as EPCIS 2.0 (a token; within its scope)",
                    }
                ],
                GS1_VOC + "defaultLink": [{"href": label, "type": "text/html"}],
            }
        ]
    }


def resolve(
    request: Request,
    rest: Annotated[
        str, Path(description="the key's value, then its qualifiers: `/21/<serial>`, …")
    ],
) -> Response:
    link = _parsed(request)
    gs1_key = _key_of(link)
    registry = service_of(request).registry
    signed = registry.signed_code(registry.code_for_gs1_key(gs1_key))
    if signed is None:  # a link to a code the registry no longer holds
        raise ProblemError(404, "unknown_code", f"no code issued with GS1 key {gs1_key}")
    if _wants_linkset(request):
        return JSONResponse(
            _linkset(request, link, signed),
            media_type=LINKSET,
            headers={"Vary": "Accept"},
        )
    return RedirectResponse(registry.label_url(signed), status_code=307, headers={"Vary": "Accept"})


for _ai in ITEM_KEYS:
    router.add_api_route(
        f"/{_ai}/{{rest:path}}",
        resolve,
        methods=["GET"],
        response_class=Response,
        responses=LINKSET_RESPONSES,
        summary=f"Resolve a GS1 Digital Link with primary key ({_ai}): a redirect or a linkset.",
        name=f"resolve_{_ai}",
    )

_COMPRESSED_RESPONSES: Final = responses(400, 404)


@router.get(
    "/{compressed:dl_compressed}",
    response_class=Response,
    responses=_COMPRESSED_RESPONSES,
    summary="A compressed GS1 Digital Link: refused, compression is not supported.",
)
def compressed(
    compressed: Annotated[
        str,
        Path(
            description="a compressed Digital Link (base64url, 20 characters or more); a "
            "shorter segment is no route (404)",
            pattern=f"^{_CompressedConvertor.regex}$",
        ),
    ],
) -> Response:
    raise ProblemError(
        400,
        "compressed_digital_link",
        "compressed GS1 Digital Link URIs are not supported; use the uncompressed form "
        "(/01/<GTIN>/21/<serial>, /00/<SSCC>, /8003/<GRAI>)",
        segment=compressed[:40],
    )
