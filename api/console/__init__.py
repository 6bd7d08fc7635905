"""The regulators' and responders' web console (``/console``), the offline API docs
(``/docs``, ``/redoc``) and ``/`` (the console's login). See docs/console.md."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.routes import router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Mount the console, the docs served from the app's own assets, and ``/``."""
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/console/login", status_code=307)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/console/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/console/static/vendor/swagger-ui.css",
            swagger_favicon_url="/console/static/favicon.svg",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            redoc_js_url="/console/static/vendor/redoc.standalone.js",
            redoc_favicon_url="/console/static/favicon.svg",
            with_google_fonts=False,
        )
