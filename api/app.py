"""The FastAPI application: routes under ``/v1``, problem+json errors, background workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from api import console, openapi_schema, problems
from api.limits import RequestLimits
from api.logs import RequestContext
from api.metrics import RequestTiming
from api.replicas import ReadAfter
from api.routes import (
    catalog,
    codes,
    digital_link,
    emergency,
    epcis,
    epcis_capture,
    epcis_queries,
    epcis_resources,
    event_lookup,
    events,
    findings,
    items,
    log,
    ops,
    public,
    registry,
    risk,
    tlog,
)
from api.routes._common import client_of
from api.routes._strict import strict_query
from api.services.root import Service
from api.settings import Settings

DESCRIPTION = """A tamper-evident traceability ledger for hazardous chemicals.

Enterprises submit device-signed events; every event lands in an RFC 9162 Merkle log
with a signed receipt, and checkpoints are C2SP signed notes. Errors are
`application/problem+json` with a stable `code`. Authenticate with
`Authorization: Bearer <token>`; the audit API (`/v1/log/*`) and `/c/{code}` are public.
"""


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """Build the app; it opens (and later closes) its own service unless one is given."""
    settings = settings or (service.settings if service is not None else Settings())
    owned = service is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = service or Service.open(settings)
        app.state.service = running
        running.start()
        try:
            yield
        finally:
            if owned:
                running.close()

    app = FastAPI(title="chemtrace", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # served offline by api.console
                  dependencies=[Depends(strict_query)])  # fmt: skip
    if service is not None:
        app.state.service = service
    problems.install(app)
    for module in (events, items, codes, registry, findings, log, ops, public, epcis):
        app.include_router(module.router)
    app.include_router(epcis_capture.router)  # EPCIS capture (POST), beside the EPCIS query
    app.include_router(epcis_resources.router)  # EPCIS events by ID, top-level resources
    app.include_router(epcis_queries.router)  # EPCIS named queries (/epcis/queries)
    app.include_router(catalog.router)
    app.include_router(event_lookup.router)
    app.include_router(emergency.router)  # the emergency view (/v1/emergency)
    app.include_router(risk.router)  # the enterprise risk grade (/v1/orgs/{id}/risk-grade)
    app.include_router(tlog.router)  # the log as C2SP tlog-tiles, public like /v1/log
    console.install(app)  # /console, /docs and /redoc from local assets, and / (its login)
    app.include_router(digital_link.router)  # last: its compressed-link route takes one segment

    app.add_middleware(RequestTiming)
    app.add_middleware(ReadAfter)  # replica reads that must see a given log entry
    # Outermost but for the request id: before authentication, routing and body parsing.
    app.add_middleware(
        RequestLimits,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    # Added last, so around the limits: their refusals get a request id and an access line
    # too. It reads one header and passes the body on unread (``api.logs``).
    app.add_middleware(RequestContext, client_of=client_of)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)  # fmt: skip
            _, extra = models_json_schema(
                [(events.SignedEventIn, "validation"), (events.BatchIn, "validation")],
                ref_template="#/components/schemas/{model}",
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(extra.get("$defs", {}))
            components["ProblemBody"] = problems.ProblemBody.model_json_schema()
            openapi_schema.complete(schema, max_batch_events=settings.max_batch_events)
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
