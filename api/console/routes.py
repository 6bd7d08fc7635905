"""The console's routes under ``/console``: thin, each renders one page from
:mod:`api.console.views` (or serves an asset)."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console import views
from api.console.assets import INSTALL_HINT, AssetsMissingError
from api.console.geo import beijing_geojson
from api.console.i18n import beijing_input, from_beijing_input
from api.console.reads import ITEM_READERS
from api.console.sessions import COOKIE, LOGIN_COOKIE, Session, csrf_for
from api.console.web import CSP, ConsoleRoute, console_of, current_session, lang_of, render
from api.labels import render_svg
from api.problems import ProblemError
from api.routes._common import service_of
from api.routes.emergency import pack_answer
from api.services.findings import STATUSES, FindingFilter
from ledger.errors import LedgerError

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
Live = Annotated[Session, Depends(current_session)]
MOVES = ("acknowledged", "resolved", "false_positive")


def _cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


def _csp_with_tiles(request: Request) -> str:
    url = service_of(request).settings.console_tile_url
    if not url:
        return CSP
    origin = "/".join(url.split("/")[:3])
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


# -- login -------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ended: int = 0, failed: int = 0, next: str = "") -> Response:
    nonce = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        session=None,
        login_csrf=csrf_for(nonce),
        ended=ended,
        failed=failed,
        next=next,
    )
    _cookie(response, LOGIN_COOKIE, nonce, 600)
    return response


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = ""
) -> Response:
    opened = console_of(request).sessions.login(token)
    if opened is None:
        return RedirectResponse("/console/login?failed=1", status_code=303)
    session_id, _ = opened
    target = next if next.startswith("/console/") and not next.startswith("//") else ""
    response = RedirectResponse(target or "/console/dashboard", status_code=303)
    _cookie(response, COOKIE, session_id, None)
    response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    console_of(request).sessions.logout(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


# -- pages -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
@router.get("", response_class=HTMLResponse)
def home(session: Live) -> Response:
    return RedirectResponse("/console/dashboard", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: Live) -> Response:
    data = views.dashboard(service_of(request), console_of(request).insight, session.principal)
    return render(request, "dashboard.html", session=session, page="dashboard", d=data)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: Live, q: str = "") -> Response:
    console = console_of(request)
    results = views.search(service_of(request), console.insight, session.principal, q)
    if results.item:
        lang = "&lang=en" if lang_of(request) == "en" else ""
        return RedirectResponse(f"/console/items/{results.item}?from=search{lang}", 303)
    return render(
        request, "search.html", session=session, page="search", r=results, name=console.insight.name
    )


@router.get("/items/{code}", response_class=HTMLResponse)
def item(request: Request, session: Live, code: str, verify: int = 0) -> Response:
    console = console_of(request)
    page = views.item_page(
        service_of(request), console.insight, session.principal, code, bool(verify)
    )
    response = render(
        request,
        "item.html",
        session=session,
        page="search",
        p=page,
        tiles=service_of(request).settings.console_tile_url,
    )
    response.headers["Content-Security-Policy"] = _csp_with_tiles(request)
    return response


@router.get("/items/{code}/label.svg")
def label(request: Request, session: Live, code: str) -> Response:
    service = service_of(request)
    signed = service.queries.visible_code(session.principal, code)
    return Response(render_svg(service.registry.label_url(signed)), media_type="image/svg+xml")


@router.get("/sites/{site}", response_class=HTMLResponse)
def site(request: Request, session: Live, site: str, at: str = "") -> Response:
    when = None
    if at:
        try:
            when = from_beijing_input(at)
        except ValueError:
            raise ProblemError(422, "invalid_request", "at must be a date and time") from None
    console = console_of(request)
    page = views.site_page(service_of(request), console.insight, session.principal, site, when)
    return render(
        request,
        "site.html",
        session=session,
        page="map",
        p=page,
        at_value=beijing_input(when),
        name=console.insight.name,
    )


@router.get("/sites/{site}/bundle")
def site_bundle(request: Request, session: Live, site: str) -> Response:
    bundle = service_of(request).queries.site_bundle(session.principal, site)
    return Response(
        json.dumps(bundle, ensure_ascii=False, indent=1).encode(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="site-{site}-bundle.json"'},
    )


@router.get("/orgs/{org}", response_class=HTMLResponse)
def org(request: Request, session: Live, org: str) -> Response:
    console = console_of(request)
    page = views.org_page(service_of(request), console.insight, session.principal, org)
    return render(
        request, "org.html", session=session, page="map", p=page, name=console.insight.name
    )


@router.get("/findings", response_class=HTMLResponse)
def findings(
    request: Request,
    session: Live,
    status: str = "open",
    severity: str = "",
    rule: str = "",
    district: str = "",
    org: str = "",
    group: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    moved: int = -1,
    failed: int = 0,
) -> Response:
    principal = session.principal
    views.require_role(principal, ITEM_READERS)
    where = FindingFilter(
        status=status if status in STATUSES else None,
        severity=severity or None,
        rule=rule or None,
        district=district or None,
        org=org or None,
    )
    page, total = service_of(request).findings.search(principal, where, limit=100, offset=offset)
    groups: dict[str, list[Any]] = {}
    for stored in page:
        key = (
            str(getattr(stored.finding, group, ""))
            if group in ("rule", "severity", "district", "org")
            else ""
        )
        groups.setdefault(key, []).append(stored)
    kept = {k: v for k, v in request.query_params.items() if k not in ("moved", "failed")}

    def url(**changes: object) -> str:
        return "/console/findings?" + urlencode({**kept, **{k: str(v) for k, v in changes.items()}})

    return render(
        request,
        "findings.html",
        session=session,
        page="findings",
        groups=groups,
        back=url(),
        prev_url=url(offset=max(offset - 100, 0)) if offset else None,
        next_url=url(offset=offset + 100) if offset + len(page) < total else None,
        total=total,
        offset=offset,
        shown=len(page),
        group=group,
        can_move=principal.role in views.OVERSIGHT,
        moves=MOVES,
        statuses=STATUSES,
        f={"status": status, "severity": severity, "rule": rule, "district": district, "org": org},
        moved=moved,
        failed=failed,
    )


@router.post("/findings/transition")
async def transition(request: Request, session: Live) -> Response:
    form = await request.form()
    ids = [str(v) for v in form.getlist("ids")]
    status, comment = str(form.get("status", "")), str(form.get("comment", "")).strip()
    back = str(form.get("back", "/console/findings"))
    if not back.startswith("/console/"):
        back = "/console/findings"
    views.require_role(session.principal, views.OVERSIGHT)
    if status not in MOVES or not comment or not ids:
        raise ProblemError(400, "invalid_request", "choose findings, an action and a reason")
    moved = failed = 0
    for finding_id in ids[:500]:
        try:
            service_of(request).findings.transition(
                session.principal, finding_id, status, comment, None
            )
            moved += 1
        except LedgerError:  # e.g. an invalid transition for one of the selection
            failed += 1
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}moved={moved}&failed={failed}", status_code=303)


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding(request: Request, session: Live, finding_id: str) -> Response:
    views.require_role(session.principal, ITEM_READERS)
    service = service_of(request)
    stored, history = service.findings.visible(session.principal, finding_id)
    evidence: list[Any] = []
    wanted = set(stored.finding.evidence)
    if stored.finding.item and session.principal.role != "responder":
        try:
            view = service.queries.visible_item(session.principal, stored.finding.item)
        except Exception:  # the evidence item is outside the caller's view: show hashes only
            view = None
        if view is not None:
            from ledger.canonical import format_hash

            for logged, shown in zip(view.events, view.visible, strict=True):
                digest = format_hash(logged.event.event_hash)
                if shown and digest in wanted:
                    evidence.append(
                        (
                            digest,
                            logged,
                            json.dumps(logged.event.raw_body, ensure_ascii=False, indent=1),
                        )
                    )
    return render(
        request,
        "finding.html",
        session=session,
        page="findings",
        s=stored,
        history=history,
        evidence=evidence,
        can_move=session.principal.role in views.OVERSIGHT,
        moves=MOVES,
    )


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, session: Live) -> Response:
    settings = service_of(request).settings
    response = render(
        request,
        "map.html",
        session=session,
        page="map",
        tiles=settings.console_tile_url,
        datum=settings.console_tile_datum,
    )
    response.headers["Content-Security-Policy"] = _csp_with_tiles(request)
    return response


@router.get("/map/data.json")
def map_json(request: Request, session: Live) -> Response:
    data = views.map_data(service_of(request), console_of(request).insight, session.principal)
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


@router.get("/emergency", response_class=HTMLResponse)
def emergency(
    request: Request,
    session: Live,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = 500,
) -> Response:
    views.require_role(session.principal, views.EMERGENCY)
    answer: dict[str, Any] | None = None
    service = service_of(request)
    if lat is not None and lon is not None:
        found = service.emergency.nearby(session.principal, lat=lat, lon=lon, radius_m=radius_m)
        answer = found.model_dump(mode="json")
    settings = service.settings
    districts = views.site_districts(service).values()
    response = render(
        request,
        "emergency.html",
        session=session,
        page="emergency",
        answer=answer,
        pack_districts=service.emergency.packable(session.principal, districts),
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        tiles=settings.console_tile_url,
        datum=settings.console_tile_datum,
    )
    response.headers["Content-Security-Policy"] = _csp_with_tiles(request)
    return response


@router.get("/emergency/pack")
def emergency_pack(
    request: Request,
    session: Live,
    district: Annotated[str, Query(min_length=1, max_length=32)],
    format: Annotated[Literal["pdf", "html", "json"], Query()] = "pdf",
) -> Response:
    """The responder pack of a district, as the API answers it (its scope: another district
    is an unknown one)."""
    views.require_role(session.principal, views.EMERGENCY)
    document = service_of(request).emergency_pack.pack(session.principal, district)
    return pack_answer(document, format)


@router.get("/journal", response_class=HTMLResponse)
def journal(request: Request, session: Live) -> Response:
    views.require_role(session.principal, views.OVERSIGHT)
    entries, _ = service_of(request).journal.entries(session.principal, since=None, limit=200)
    return render(request, "journal.html", session=session, page="journal", entries=entries)


# -- assets ------------------------------------------------------------------------------------


def _asset_missing(request: Request) -> Response:
    return render(
        request,
        "error.html",
        session=None,
        status=503,
        key="assets_missing",
        detail=INSTALL_HINT,
        code=503,
    )


@router.get("/geo/beijing.geojson")
def geojson(request: Request) -> Response:
    try:
        source = console_of(request).assets.geojson_source()
    except AssetsMissingError:
        return _asset_missing(request)
    return Response(
        beijing_geojson(source),
        media_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/vendor/{name:path}")
def vendor(request: Request, name: str) -> Response:
    try:
        asset = console_of(request).assets.vendor(name)
    except AssetsMissingError:
        return _asset_missing(request)
    if asset is None:
        raise ProblemError(404, "not_found", f"no asset {name}")
    return Response(
        asset.path.read_bytes(),
        media_type=asset.media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/{name:path}")
def static(request: Request, name: str) -> Response:
    asset = console_of(request).assets.own(name)
    if asset is None:
        raise ProblemError(404, "not_found", f"no asset {name}")
    return Response(
        asset.path.read_bytes(), media_type=asset.media_type, headers={"Cache-Control": "no-cache"}
    )
