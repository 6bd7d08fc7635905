"""EPCIS 2.0 REST capture: ``POST /epcis/capture``, ``POST /epcis/events``, the capture jobs.

A document is validated (size, event count, the official JSON Schema) before a job exists:
a refusal then is a problem+json with the binding's exception ``type`` (400
``ValidationException``, 413 ``CaptureLimitExceededException``, …). Otherwise the answer is
202 with ``Location: /epcis/capture/{captureID}``; the job (finished when the answer is sent:
capture runs within the request) says ``success`` and the outcome of each event.
``POST /epcis/events`` captures one event synchronously: 201, or that event's own problem
(a 409 ``ResourceAlreadyExistsException`` for a hash ID captured before).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, cast

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.auth import Principal, require
from api.problems import PROBLEM_JSON, ProblemError, problem_of, responses
from api.routes._common import client_of, read_json, service_of
from api.services.epcis_capture import (
    BEHAVIOURS,
    Behaviour,
    as_document,
    epcis_problem,
    job_json,
    validate_document,
)
from ledger.errors import LedgerError
from ledger.http_signature import Request as SignedRequest
from ledger.store.epcis_capture import CaptureJob

router = APIRouter(prefix="/epcis", tags=["epcis"])
Capturer = Depends(require("enterprise", "inspector"))
JobReader = Depends(require("enterprise", "inspector", "admin"))
VERSIONS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
ErrorBehaviour = Annotated[
    str,
    Header(
        alias="GS1-Capture-Error-Behaviour",
        description="`rollback` (the default: nothing is captured if any event fails) or "
        "`proceed` (each good event is captured, each bad one reported)",
        json_schema_extra={"enum": list(BEHAVIOURS)},
    ),
]
EpcisVersion = Annotated[
    str | None,
    Header(alias="GS1-EPCIS-Version", description="2.0.0 (any 2.0.x is accepted)"),
]
CbvVersion = Annotated[
    str | None, Header(alias="GS1-CBV-Version", description="2.0.0 (any 2.0.x is accepted)")
]
_DOCUMENT_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "An EPCIS 2.0 JSON-LD document whose events each carry "
        "`chemtrace:envelope` and `chemtrace:signature` (see `chemtrace epcis push`)",
        "content": {"application/ld+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}}},
    }
}  # fmt: skip
_JOB: Final[dict[str, Any]] = {"content": {"application/json": {"schema": {"type": "object"}}}}


_JOBS: Final[dict[str, Any]] = {
    "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}
}


def limits_headers(request: Request) -> dict[str, str]:
    capture = service_of(request).epcis_capture
    return {
        **VERSIONS,
        "GS1-EPCIS-Capture-Limit": str(capture.capture_limit),
        "GS1-EPCIS-Capture-File-Size-Limit": str(capture.file_size_limit),
    }


def _behaviour(value: str) -> Behaviour:
    if value not in BEHAVIOURS:
        raise epcis_problem(
            400, "epcis_capture_error_behaviour",
            "GS1-Capture-Error-Behaviour is rollback or proceed",
            field="GS1-Capture-Error-Behaviour",
        )  # fmt: skip
    return cast("Behaviour", value)


def _versions(epcis: str | None, cbv: str | None) -> None:
    for name, value in (("GS1-EPCIS-Version", epcis), ("GS1-CBV-Version", cbv)):
        if value is not None and not (value == "2.0" or value.startswith("2.0.")):
            raise epcis_problem(
                400, "epcis_version",
                f"{name} {value} is not supported; this repository speaks 2.0", field=name,
            )  # fmt: skip


async def _body(request: Request) -> bytes:
    """The request body, within the capture file-size limit (else 413)."""
    limit = service_of(request).epcis_capture.file_size_limit
    body = await request.body()
    if len(body) > limit:
        raise epcis_problem(
            413, "epcis_capture_file_size",
            f"a capture body holds at most {limit} bytes, this one {len(body)}", limit=limit,
        )  # fmt: skip
    return body


def _accepted(request: Request, job: CaptureJob) -> JSONResponse:
    """202 with the capture job, also at ``Location``."""
    location = f"/epcis/capture/{job.id}"
    return JSONResponse(
        job_json(job), status_code=202, headers={**limits_headers(request), "Location": location}
    )


async def _read(request: Request) -> Any:
    await _body(request)
    try:
        return await read_json(request)
    except ProblemError as exc:
        raise epcis_problem(exc.status, exc.code, exc.detail, **exc.extra) from None


@router.options(
    "/capture",
    status_code=204,
    summary="The capture interface's limits and versions, in headers.",
    response_class=Response,
)
def capture_options(request: Request) -> Response:
    headers = {**limits_headers(request), "Allow": "GET, POST, OPTIONS"}
    return Response(status_code=204, headers=headers)


@router.post(
    "/capture",
    status_code=202,
    responses={
        202: {"description": "The capture job (also at `Location`)", **_JOB},
        **responses(400, 401, 403, 413, 415),
    },
    openapi_extra=_DOCUMENT_BODY,
    summary="Capture an EPCIS 2.0 document of device-signed events, as a capture job.",
)
async def capture(
    request: Request,
    principal: Principal = Capturer,
    behaviour: ErrorBehaviour = "rollback",
    epcis_version: EpcisVersion = None,
    cbv_version: CbvVersion = None,
) -> JSONResponse:
    chosen = _behaviour(behaviour)
    _versions(epcis_version, cbv_version)
    document = await _read(request)
    await run_in_threadpool(validate_document, document)  # ~1 ms an event: not on the loop
    if document.get("type") != "EPCISDocument":
        raise epcis_problem(400, "epcis_schema", "POST /epcis/capture takes an EPCISDocument",
                            field="/type")  # fmt: skip
    service = service_of(request).epcis_capture
    job = await run_in_threadpool(service.capture, principal, document, chosen, client_of(request))
    return _accepted(request, job)


_SIGNED_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "A plain EPCIS 2.0 JSON-LD document (no chemtrace:envelope or "
        "signature), the whole request signed with RFC 9421 HTTP Message Signatures: Ed25519 "
        "by a registered device key (`keyid`), covering `@method`, `@target-uri`, "
        "`content-type` and `content-digest` (RFC 9530), with `created`, `expires` and "
        "`nonce`. The signed URI names the actor and catalog: `?actor=sha256:…&catalog=…`",
        "content": {"application/ld+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}}},
    }
}  # fmt: skip


@router.post(
    "/capture/signed",
    status_code=202,
    responses={
        202: {"description": "The capture job (also at `Location`)", **_JOB},
        **responses(400, 401, 403, 409, 413, 415, 422),
    },
    openapi_extra=_SIGNED_BODY,
    summary="Capture an RFC 9421-signed EPCIS 2.0 document; the server derives the events.",
)
async def capture_signed(
    request: Request,
    principal: Principal = Capturer,
    epcis_version: EpcisVersion = None,
    cbv_version: CbvVersion = None,
) -> JSONResponse:
    _versions(epcis_version, cbv_version)
    body = await _body(request)
    signed = SignedRequest(
        request.method, str(request.url),
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw), body,
    )  # fmt: skip
    service = service_of(request).signed_capture
    try:
        job = await run_in_threadpool(service.capture, principal, signed, client_of(request))
    except LedgerError as exc:
        problem = problem_of(exc)
        raise epcis_problem(problem.status, problem.code, problem.detail, **problem.extra) from exc
    return _accepted(request, job)


@router.post(
    "/events",
    status_code=201,
    responses={
        201: {"description": "Captured (the job is at `Location`)", **_JOB},
        **responses(400, 401, 403, 409, 413, 415, 422),
    },
    openapi_extra=_DOCUMENT_BODY,
    summary="Capture one device-signed EPCIS 2.0 event, synchronously.",
)
async def capture_event(
    request: Request,
    principal: Principal = Capturer,
    epcis_version: EpcisVersion = None,
    cbv_version: CbvVersion = None,
) -> JSONResponse:
    _versions(epcis_version, cbv_version)
    event = await _read(request)
    if not isinstance(event, dict) or event.get("type") == "EPCISDocument":
        raise epcis_problem(400, "epcis_schema", "POST /epcis/events takes one event",
                            field="/type")  # fmt: skip
    document = as_document(event)
    await run_in_threadpool(validate_document, document)  # ~1 ms an event: not on the loop
    service = service_of(request).epcis_capture
    job = await run_in_threadpool(
        service.capture, principal, document, "rollback", client_of(request)
    )
    body = job_json(job)
    headers = {**VERSIONS, "Location": f"/epcis/capture/{job.id}"}
    if not body["success"]:
        error = dict(body["errors"][0])
        error.pop("instance", None)
        status = int(error["status"])
        problem = {"title": "Conflict" if status == 409 else "Refused", **error,
                   "captureID": job.id}  # fmt: skip
        return JSONResponse(problem, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    return JSONResponse(body, status_code=201, headers=headers)


@router.get(
    "/capture",
    responses={200: {"description": "Capture jobs, newest first", **_JOBS}, **responses(401, 403)},
    summary="Your organisation's capture jobs (an admin's: everyone's), newest first.",
)
def capture_jobs(
    request: Request,
    principal: Principal = JobReader,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 100,
) -> JSONResponse:
    jobs = service_of(request).epcis_capture.jobs(principal, per_page)
    return JSONResponse([job_json(j) for j in jobs], headers=limits_headers(request))


@router.get(
    "/capture/{capture_id}",
    responses={200: {"description": "The capture job", **_JOB}, **responses(401, 403, 404)},
    summary="One capture job: running, success, and each event's outcome.",
)
def capture_job(
    request: Request,
    capture_id: str,
    principal: Principal = JobReader,
) -> JSONResponse:
    job = service_of(request).epcis_capture.job(principal, capture_id)
    return JSONResponse(job_json(job), headers=VERSIONS)
