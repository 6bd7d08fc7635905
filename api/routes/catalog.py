"""The catalog of key-supervised chemicals, every version, for any signed-in user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller
from api.problems import responses
from api.routes._common import service_of
from api.routes._lists import Cursor, PageInfo, paged
from api.routes._params import pattern
from ledger.catalog.model import VERSION_PATTERN

router = APIRouter(prefix="/v1", tags=["catalog"])
Version = Annotated[
    str | None,
    Query(description="a catalog version (e.g. 2026-draft.1); default: the one in force "
          "today; an unknown one is a 404", json_schema_extra=pattern(
              "^" + VERSION_PATTERN.pattern + "$")),
]  # fmt: skip


class CatalogEntry(BaseModel):
    """One chemical: names, CAS, categories, GHS classes, its forms (UN number, transport
    class, the GB 18218 threshold Q in tonnes, densities, first-response advice), and the
    provenance of each row (``provenance`` and ``source`` of the list entry;
    ``threshold_basis``, ``threshold_verified`` and ``density_source`` of a form;
    ``unverified`` names the fields that rest on recollection)."""

    model_config = ConfigDict(extra="allow")
    chemical: str = Field(description="the id events name it by")
    name: str = Field(description="the Chinese name (as `name_cn`)")
    name_en: str
    cas: str
    un: list[str]
    categories: list[str]
    ghs_classes: list[str]
    forms: list[dict[str, Any]]
    provenance: str
    source: str
    catalog_version: str


class CatalogOut(PageInfo):
    version: str
    effective_from: str
    versions: list[str] = Field(description="every version, oldest first")
    chemicals: list[CatalogEntry]


@router.get(
    "/catalog",
    response_model=CatalogOut,
    responses=responses(401, 404, 422),
    summary="The catalog of key-supervised chemicals (a version, default the one in force).",
)
def catalog(
    request: Request, principal: Caller, version: Version = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500, cursor: Cursor = None,
) -> CatalogOut:  # fmt: skip
    """Errors: 404 `catalog_version_not_found`."""
    service = service_of(request).catalog
    chosen = service.version(version)
    entries = service.entries(chosen)
    page, following = paged(request, principal, entries, lambda e: (int(str(e["seq"])),),
                            (int,), cursor=cursor, limit=limit)  # fmt: skip
    return CatalogOut(
        version=chosen.version, effective_from=chosen.effective_from.isoformat(),
        versions=list(service.versions), chemicals=[CatalogEntry(**e) for e in page.rows],
        total=page.total, total_kind=page.total_kind, next_cursor=following,
    )  # fmt: skip


@router.get(
    "/catalog/{chemical}",
    response_model=CatalogEntry,
    responses=responses(401, 404, 422),
    summary="One chemical of the catalog, by id, CAS number, UN number or name.",
)
def catalog_entry(
    request: Request,
    chemical: Annotated[str, Path(description="an id (`26`, `26.3`), a CAS number "
                        "(`7697-37-2`), a UN number (`UN2032`, `2032`) or a name in Chinese "
                        "or English (`硝酸`, `Nitric acid`, `液氯`)")],
    principal: Caller,
    version: Version = None,
) -> CatalogEntry:  # fmt: skip
    """Errors: 404 `chemical_not_found` (no chemical of this version), 404
    `catalog_version_not_found`; 422 `ambiguous_chemical` (it names several chemicals:
    `candidates` lists them with their ids, names, CAS and UN numbers)."""
    service = service_of(request).catalog
    return CatalogEntry(**service.entry(service.version(version), chemical))
