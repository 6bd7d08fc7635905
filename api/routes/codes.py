"""Issuing trace codes to an enterprise, and their labels (PNG, SVG, printable sheets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller, Principal, require
from api.labels import render_png, render_sheet_png, render_svg, sheet_capacity
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.routes._params import LabelCode
from api.services.root import Service
from ledger.codes import (
    CODE_PATTERN,
    GS1_KEY,
    MAX_BATCH_COUNT,
    MAX_ORG_CHARS,
    Packaging,
    SignedCode,
)

router = APIRouter(prefix="/v1", tags=["codes"])
ISSUER = Depends(require("admin", "enterprise"))


class IssueIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    org: str | None = Field(
        None,
        description="admins must name the organisation (a 422 `forbidden_org` if they do "
        "not); enterprises get their own (a 403 for another); an unknown one is a 422 "
        "`unknown_org`",
        json_schema_extra={"pattern": rf"^[a-z0-9][a-z0-9._-]{{1,{MAX_ORG_CHARS - 1}}}$"},
    )
    form: str = Field(
        description="the catalog chemical form id, e.g. '26' or '26.3' (one the current "
        "catalog does not have is a 422)",
        json_schema_extra={"pattern": r"^[0-9]{1,3}(\.[0-9]{1,3})?$"},
    )
    packaging: Packaging
    batch: Annotated[str, Field(pattern=r"^[0-9A-Z][0-9A-Z-]{0,11}$")]
    count: Annotated[int, Field(ge=1, le=MAX_BATCH_COUNT)]
    gs1_keys: list[str] | None = Field(
        None,
        description="one GS1 key per code, in order: (01)GTIN(21)serial, (8003)GRAI or (00)SSCC",
        json_schema_extra={"items": {"type": "string", "pattern": GS1_KEY.pattern}},
    )


def _image(media_type: str) -> dict[str, object]:
    return {
        "description": "The image",
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
    }


class IssuedCode(BaseModel):
    code: str
    label_url: str
    record: dict[str, object]


class Issued(BaseModel):
    org: str
    count: int
    codes: list[IssuedCode]


@router.post(
    "/codes:issue",
    response_model=Issued,
    status_code=201,
    responses=responses(401, 403, 409, 422),
    summary="Issue a batch of registry-signed trace codes for one chemical form.",
)
def issue(
    request: Request,
    payload: IssueIn,
    principal: Principal = ISSUER,
) -> Issued:
    org = payload.org if principal.role == "admin" else principal.org
    if org is None or (principal.role == "enterprise" and payload.org not in (None, org)):
        raise ProblemError(
            403 if principal.role == "enterprise" else 422,
            "forbidden_org",
            "enterprises issue codes for their own organisation",
            field="org",
        )
    service = service_of(request)
    codes = service.registry.issue_codes(
        org, payload.form, payload.packaging, payload.batch, payload.count, payload.gs1_keys
    )
    return Issued(org=org, count=len(codes), codes=[_issued(service, c) for c in codes])


def _issued(service: Service, signed: SignedCode) -> IssuedCode:
    return IssuedCode(
        code=signed.code,
        label_url=service.registry.label_url(signed),
        record=dict(signed.to_json()),
    )


class Resolved(BaseModel):
    gs1_key: str
    code: str


@router.get(
    "/codes:resolve",
    response_model=Resolved,
    responses=responses(401, 404, 422),
    summary="The trace code issued with a GS1 key: (01)GTIN(21)serial, (8003)GRAI or (00)SSCC.",
)
def resolve_gs1_key(
    request: Request,
    principal: Caller,
    gs1_key: Annotated[
        str,
        Query(
            pattern=GS1_KEY.pattern,
            description="canonical bracketed form, as `chemtrace scan parse` prints it",
        ),
    ],
) -> Resolved:
    service = service_of(request)
    code = service.registry.code_for_gs1_key(gs1_key)
    return Resolved(gs1_key=gs1_key, code=service.queries.visible_code(principal, code).code)


@router.get(
    "/codes/{code}/label.png",
    response_class=Response,
    responses={200: _image("image/png"), **responses(401, 404, 422)},
    summary="One 25 mm label as PNG (QR + printed code).",
)
def label_png(
    request: Request,
    code: LabelCode,
    principal: Caller,
    dpi: Annotated[int, Query(ge=150, le=1200)] = 300,
) -> Response:
    service = service_of(request)
    signed = service.queries.visible_code(principal, code)
    return Response(render_png(service.registry.label_url(signed), dpi=dpi), media_type="image/png")


@router.get(
    "/codes/{code}/label.svg",
    response_class=Response,
    responses={200: _image("image/svg+xml"), **responses(401, 404, 422)},
    summary="One 25 mm label as SVG.",
)
def label_svg(request: Request, code: LabelCode, principal: Caller) -> Response:
    service = service_of(request)
    signed = service.queries.visible_code(principal, code)
    return Response(render_svg(service.registry.label_url(signed)), media_type="image/svg+xml")


@router.get(
    "/codes:sheet",
    response_class=Response,
    responses={200: _image("image/png"), **responses(401, 404, 422)},
    summary="A printable A4 sheet (PNG) of labels for the given codes.",
)
def sheet(
    request: Request,
    principal: Caller,
    code: Annotated[
        list[str],
        Query(
            min_length=1,
            description=f"the codes, at most {sheet_capacity(7)} (more is a 422 "
            "`too_many_labels`); a malformed one is a 422 `invalid_code`, one not issued or "
            "not in your scope a 404",
            json_schema_extra={
                "maxItems": sheet_capacity(7),
                "items": {"type": "string", "pattern": CODE_PATTERN.pattern},
            },
        ),
    ],
) -> Response:
    if len(code) > sheet_capacity(7):
        raise ProblemError(
            422, "too_many_labels", f"a sheet holds {sheet_capacity(7)} labels", field="code"
        )
    service = service_of(request)
    urls = [service.registry.label_url(service.queries.visible_code(principal, c)) for c in code]
    return Response(render_sheet_png(urls), media_type="image/png")
