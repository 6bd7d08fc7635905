"""The served OpenAPI document: FastAPI's, completed with what it cannot see in the routes.

FastAPI derives the document from the route declarations; part of the truth lives elsewhere,
and is written in here, once, for every operation:

* the request limits (:mod:`api.limits`) answer before any route, on every path: 400
  ``invalid_header`` or ``invalid_content_length``, 413 ``payload_too_large``, 422
  ``malformed_json`` (nesting) and 431 ``headers_too_large``; and anything may fail with
  500 ``internal_error``;
* an operation that takes a token answers 401 without a valid one;
* every error body is problem+json (:mod:`api.problems`), FastAPI's own 422 entries
  included, except the pages the public HTML routes answer (``text/html``) and the report
  ``/readyz`` answers when it is not ready;
* a 429 says when to come back, in ``Retry-After``; every answer carries the request's id,
  in ``X-Request-ID`` (:mod:`api.logs`);
* a query or path parameter is either absent or a string: FastAPI writes an optional one
  as ``anyOf: [T, null]``, but no URL can carry a JSON null;
* the largest batch of events is the deployment's setting.
"""

from __future__ import annotations

from typing import Any, Final

from api.logs import REQUEST_ID_HEADER
from api.problems import PROBLEM_JSON, TITLES

ALWAYS: Final = (400, 413, 422, 431, 500)
"""What every operation may answer: the request limits' refusals, and an unexpected error."""
_PROBLEM: Final = {"schema": {"$ref": "#/components/schemas/ProblemBody"}}
_RETRY_AFTER: Final = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_REQUEST_ID: Final = {
    "description": "The request's id: the client's own if it sent a short safe token, else a "
    "fresh one; the server's log lines for the request carry it too.",
    "required": True,
    "schema": {"type": "string"},
}
_NULL: Final = {"type": "null"}


def complete(schema: dict[str, Any], *, max_batch_events: int) -> None:
    """Complete FastAPI's ``schema`` in place (see the module's docstring)."""
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in ALWAYS:
                responses.setdefault(str(status), {})
            if operation.get("security"):
                responses.setdefault("401", {})
            for status, response in responses.items():
                if status[0] in "45":
                    _error(path, int(status), response)
                headers = response.setdefault("headers", {})
                headers[REQUEST_ID_HEADER] = {"$ref": "#/components/headers/RequestId"}
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter["schema"])
            operation["responses"] = dict(sorted(responses.items()))
    schema["components"].setdefault("headers", {})["RequestId"] = _REQUEST_ID
    batch = schema["components"]["schemas"].get("BatchIn")
    if batch is not None:
        batch["properties"]["events"]["maxItems"] = max_batch_events


def _error(path: str, status: int, response: dict[str, Any]) -> None:
    """An error response: problem+json, unless it is an HTML page or /readyz's report."""
    content = response.get("content", {})
    own = "text/html" in content or (path == "/readyz" and status == 503)
    if not own:
        response["content"] = {PROBLEM_JSON: _PROBLEM}
    if not own or not response.get("description"):
        response["description"] = TITLES.get(status, response.get("description", "Error"))
    if status == 429:
        response.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [T, null]`` (and its siblings: description, pattern...) as ``T``."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or _NULL not in options:
        return schema
    rest = [option for option in options if option != _NULL]
    siblings = {key: value for key, value in schema.items()
                if key != "anyOf" and not (key == "default" and value is None)}  # fmt: skip
    if len(rest) == 1:
        return {**rest[0], **siblings}
    return {"anyOf": rest, **siblings}
