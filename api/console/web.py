"""The console's HTTP edge: templates, security headers, sessions, CSRF and error pages.

Every console response carries the strict Content-Security-Policy (no inline script or
style, nothing from another origin, no framing). Every state-changing request must carry
the session's synchronizer token, else 403. Errors become HTML pages with the status of
the API's problem for the same refusal, never a 500 from a refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.catalogs import load_risk_weights, load_rules
from api.console.assets import Assets
from api.console.geo import district_name
from api.console.i18n import LANG_COOKIE, Lang, beijing, reason_text, text
from api.console.insight import Insight
from api.console.sessions import COOKIE, LOGIN_COOKIE, Session, SessionService, csrf_ok
from api.problems import ProblemError, problem_of
from api.routes._common import service_of
from api.services.access import Principal
from api.services.errors import ServiceError
from ledger.errors import LedgerError
from ledger.store.sessions import SessionStore

log = logging.getLogger("chemtrace.console")
R = TypeVar("R", bound=Response)
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Console:
    """The console's parts, made once per app on first use."""

    sessions: SessionService
    insight: Insight
    assets: Assets


def console_of(request: Request) -> Console:
    found: Console | None = getattr(request.app.state, "console", None)
    if found is None:
        service = service_of(request)
        settings = service.settings
        found = Console(
            sessions=SessionService(
                SessionStore(service.deployment.store.engine),
                service.access,
                idle_s=settings.console_idle_timeout_s,
                max_s=settings.console_session_max_s,
            ),
            insight=Insight(
                service.deployment.catalogs,
                load_rules(settings.rules) if settings.rules else None,
                load_risk_weights(settings.risk_weights) if settings.risk_weights else None,
            ),
            assets=Assets(settings.console_assets),
        )
        request.app.state.console = found
    return found


def lang_of(request: Request) -> Lang:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if wanted == "en" else "zh"


def secure(response: R) -> R:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def render(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = lang_of(request)
    query = dict(request.query_params)
    query["lang"] = "zh" if lang == "en" else "en"
    switch = request.url.path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    page = _env.get_template(template).render(
        request=request,
        lang=lang,
        t=lambda key, **kw: text(lang, key, **kw),
        reason=lambda r: reason_text(lang, r),
        bj=beijing,
        district=lambda d: district_name(d, lang),
        session=session,
        principal=session.principal if session else None,
        csrf=session.csrf if session else "",
        switch_url=switch,
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )
    return secure(response)


class LoginRequiredError(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class CsrfError(Exception):
    pass


def current_session(request: Request) -> Session:
    """The request's live session (else a redirect to the login page); a state-changing
    request must also carry its CSRF token (checked by the route class)."""
    resolved = console_of(request).sessions.resolve(request.cookies.get(COOKIE))
    if not isinstance(resolved, Session):
        raise LoginRequiredError(resolved)
    request.state.principal = resolved.principal
    return resolved


def principal_of(session: Session) -> Principal:
    return session.principal


async def check_csrf(request: Request) -> None:
    """A state-changing request must carry the token of its session (form field ``csrf``
    or header ``X-CSRF-Token``)."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    secret = request.cookies.get(COOKIE)
    if request.url.path == "/console/login":
        secret = request.cookies.get(LOGIN_COOKIE)
    if not csrf_ok(secret, sent):
        raise CsrfError


class ConsoleRoute(APIRoute):
    """Console routes: CSRF on unsafe methods, HTML errors, security headers always."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    await check_csrf(request)
                return secure(await handler(request))
            except LoginRequiredError as exc:
                target = "/console/login?next=" + quote(request.url.path)
                if exc.why in ("idle", "expired", "revoked"):
                    target += "&ended=1"
                if request.method != "GET":
                    target = "/console/login?ended=1"
                return secure(RedirectResponse(target, status_code=303))
            except CsrfError:
                log.info("console: refused a request without a valid CSRF token")
                return _error(request, 403, "csrf")
            except ProblemError as exc:
                return _error(request, exc.status, exc.detail)
            except (LedgerError, ServiceError) as exc:
                problem = problem_of(exc)
                return _error(request, problem.status, problem.detail)

        return guarded


def _error(request: Request, status: int, detail: str) -> HTMLResponse:
    key = {403: "forbidden", 404: "not_found"}.get(status, "page_error")
    if detail == "csrf":
        key, detail = "csrf", ""
    session = None
    try:
        resolved = console_of(request).sessions.resolve(request.cookies.get(COOKIE))
        session = resolved if isinstance(resolved, Session) else None
    except Exception:  # an error page must render even when the session store is down
        log.exception("console: session lookup failed while rendering an error page")
    return render(
        request, "error.html", session=session, status=status, key=key, detail=detail, code=status
    )
