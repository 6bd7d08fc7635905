"""Helpers shared by the routes: strict JSON bodies and the service handle."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from api.problems import ProblemError
from api.service import Service


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ProblemError(422, "malformed_json", f"duplicate key {key!r}", field=key)
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ProblemError(422, "malformed_json", f"{name} is not JSON")


async def read_json(request: Request) -> Any:
    """The request body as JSON: size-limited, no duplicate keys, no NaN, no floats coerced.

    Raises:
        ProblemError: 413 ``payload_too_large``, 415 ``unsupported_media_type``,
            422 ``malformed_json``.
    """
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media not in ("application/json", "application/ld+json"):
        raise ProblemError(415, "unsupported_media_type", "send application/json")
    limit = service_of(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "payload_too_large", f"the body is over {limit} bytes", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProblemError(
                413, "payload_too_large", f"the body is over {limit} bytes", limit=limit
            )
        chunks.append(chunk)
    try:
        return json.loads(
            b"".join(chunks), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProblemError(
            422, "malformed_json", f"the body is not JSON: {exc}", field="$"
        ) from None


def json_body_schema(schema_ref: str) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body read with :func:`read_json`."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": schema_ref}}},
        }
    }


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None
