"""EPCIS 2.0 capture: a document (or one event) in, signed ledger events out, as a capture job.

The server holds no enterprise key, so every captured event arrives signed: it is the EPCIS
form of a native body (:func:`ledger.epcis.mapping.to_epcis`, with ``chemtrace:envelope``
naming the device and the chain links) plus ``chemtrace:signature``, the device's Ed25519
signature of that body. ``chemtrace epcis push`` (:mod:`scanners.epcis_push`) produces such
documents from an ERP's. The service

1. validates the document against the official EPCIS 2.0 JSON Schema (a 400
   ``ValidationException`` naming the failing path), and checks the capture limits (413);
2. computes each event's CBV 2.0 hash ID (without ``chemtrace:signature``, which is how it
   was signed, not what happened) and refuses one captured before (409), or repeated;
3. maps each event back to its native body (strictly: a field with no counterpart is a
   ``ValidationException`` naming it) and puts the signature back on it;
4. appends through :class:`api.services.ingest.IngestService`, so the device certificate,
   the custody policy, chain heads, rates and the journal apply as to any other write.
   ``rollback`` (the default) appends the events as one atomic group, and appends nothing
   if any event failed steps 2-3; ``proceed`` appends each good event once and reports each
   bad one.

The job, with one outcome per event, is kept in ``epcis_capture_job``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from api.problems import ProblemError, problem_of
from api.services.access import Principal
from api.services.epcis_lookup import RegistryLookup
from api.services.errors import ServiceError
from api.services.ingest import IngestService
from api.services.queries import QueryService
from api.services.registry import RegistryService
from api.settings import Settings
from ledger.append import Accepted, Rejected
from ledger.canonical import format_hash
from ledger.epcis.errors import EpcisError
from ledger.epcis.hash_id import document_events, namespaces_of
from ledger.epcis.mapping import event_id, from_epcis
from ledger.epcis.table import NAMESPACE, PREFIX
from ledger.errors import LedgerError, StaleHeadError
from ledger.events import body_to_json
from ledger.store.epcis_capture import CaptureJob, SqlCaptureJobs
from ledger.store.epcis_schema import first_error
from ledger.timefmt import format_utc

Behaviour = Literal["rollback", "proceed"]
BEHAVIOURS: Final = ("rollback", "proceed")
SIGNATURE: Final = f"{PREFIX}:signature"
EXCEPTIONS: Final = "https://ns.gs1.org/epcis/"
"""The EPCIS 2.0 REST binding's exception types (``epcisException:`` in its context)."""


def exception_type(status: int, code: str) -> str:
    """The EPCIS exception a problem stands for."""
    if code in ("epcis_duplicate", "epcis_query_exists"):
        name = "ResourceAlreadyExistsException"
    elif code == "epcis_query_not_found":  # the binding's 404 for a query name
        name = "NoSuchNameException"
    elif code == "epcis_query_too_complex":
        name = "QueryTooComplexException"
    elif status == 413:
        name = "CaptureLimitExceededException"
    elif status in (401, 403):
        name = "SecurityException"
    elif status == 404:
        name = "NoSuchResourceException"
    elif status >= 500:
        name = "ImplementationException"
    else:
        name = "ValidationException"
    return EXCEPTIONS + name


def epcis_problem(status: int, code: str, detail: str, **extra: Any) -> ProblemError:
    return ProblemError(status, code, detail, type=exception_type(status, code), **extra)


def as_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """One event (``POST /events``) as the document the schema describes."""
    return {
        "@context": event.get("@context", []),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": format_utc(datetime.now(UTC)),
        "epcisBody": {"eventList": [{k: v for k, v in event.items() if k != "@context"}]},
    }


def validate_document(document: object) -> None:
    """Raise a 400 ``ValidationException`` naming the first path the schema refuses."""
    if not isinstance(document, dict):
        raise epcis_problem(400, "epcis_schema", "the body is not an EPCIS document", field="$")
    found = first_error(document)
    if found is not None:
        path, message = found
        detail = f"the EPCIS 2.0 JSON Schema refuses {path}: {message}"
        raise epcis_problem(400, "epcis_schema", detail[:600], field=path)


def _signature_key(event: Mapping[str, Any], namespaces: Mapping[str, str]) -> str | None:
    for key in event:
        if key == "{" + NAMESPACE + "}signature":
            return key
        prefix, sep, local = key.partition(":")
        if sep and local == "signature" and namespaces.get(prefix, "") == NAMESPACE:
            return key
    return SIGNATURE if SIGNATURE in event else None


@dataclass(slots=True)
class _Event:
    index: int
    hash_id: str | None = None
    envelope: dict[str, Any] | None = None
    error: ProblemError | None = None
    entry_hash: bytes | None = None
    receipt: dict[str, Any] | None = None


def _describe(problem: ProblemError) -> dict[str, Any]:
    return {
        "type": problem.extra.get("type", exception_type(problem.status, problem.code)),
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **{k: v for k, v in problem.extra.items() if k != "type"},
    }


class EpcisCaptureService:
    """``POST /epcis/capture`` and ``POST /epcis/events``, and the capture jobs."""

    def __init__(
        self,
        settings: Settings,
        jobs: SqlCaptureJobs,
        registry: RegistryService,
        queries: QueryService,
        ingest: IngestService,
    ) -> None:
        self._settings, self._jobs, self._queries = settings, jobs, queries
        self._ingest = ingest
        self._lookup = RegistryLookup(registry, jobs)

    @property
    def capture_limit(self) -> int:
        return self._settings.epcis_capture_limit

    @property
    def file_size_limit(self) -> int:
        return min(self._settings.epcis_capture_file_size_limit, self._settings.max_body_bytes)

    def capture(
        self,
        principal: Principal,
        document: dict[str, Any],
        behaviour: Behaviour,
        client: str | None,
    ) -> CaptureJob:
        """Judge and append a validated document's events; the finished job."""
        events = [dict(e) for e in document_events(document)]
        if len(events) > self.capture_limit:
            raise epcis_problem(
                413, "epcis_capture_limit",
                f"a capture holds at most {self.capture_limit} events, this one {len(events)}",
                limit=self.capture_limit,
            )  # fmt: skip
        job = CaptureJob(
            id=secrets.token_hex(16), org=principal.org or "", user_id=principal.user_id,
            behaviour=behaviour, state="running", events=len(events),
            created_at=format_utc(datetime.now(UTC)), finished_at=None, result=None,
        )  # fmt: skip
        self._jobs.start(job)
        judged = self._prepare(principal, events, namespaces_of(document.get("@context", [])))
        good = [e for e in judged if e.error is None]
        if behaviour == "rollback" and len(good) < len(judged):
            cause = next(e.error for e in judged if e.error is not None)
            assert cause is not None
            for event in good:
                event.error = epcis_problem(
                    409, "epcis_rolled_back",
                    f"not captured: event {next(e.index for e in judged if e.error is cause)} "
                    f"failed ({cause.code}) and the capture rolls back",
                )  # fmt: skip
            good = []
        refusal = None
        if good:
            refusal = self._append(principal, good, client, atomic=behaviour == "rollback")
        finished = self._finish(job, judged)
        if refusal is not None:  # over a rate: the job says so, and the answer is the 429
            raise refusal
        return finished

    def _prepare(
        self, principal: Principal, events: list[dict[str, Any]], namespaces: dict[str, str]
    ) -> list[_Event]:
        judged = [_Event(index) for index in range(len(events))]
        first_of: dict[str, int] = {}
        for event, raw in zip(judged, events, strict=True):
            key = _signature_key(raw, namespaces)
            signature = raw.pop(key) if key is not None else None
            try:
                event.hash_id = event_id(raw, namespaces)
            except (EpcisError, ValueError) as exc:
                event.error = epcis_problem(400, "epcis_malformed", str(exc), index=event.index)
                continue
            if event.hash_id in first_of:
                event.error = epcis_problem(
                    409, "epcis_duplicate",
                    f"the same event (hash ID) as event {first_of[event.hash_id]} of this capture",
                    index=event.index, eventID=event.hash_id,
                )  # fmt: skip
                continue
            first_of[event.hash_id] = event.index
            event.error = self._map(principal, event, raw, signature, namespaces)
        known = self._jobs.captured([e.hash_id for e in judged if e.hash_id and not e.error])
        for event in judged:
            if event.error is None and event.hash_id in known:
                event.error = self._duplicate(event, known[event.hash_id])
        return judged

    def _map(
        self,
        principal: Principal,
        event: _Event,
        raw: dict[str, Any],
        signature: object,
        namespaces: dict[str, str],
    ) -> ProblemError | None:
        try:
            body = from_epcis(raw, self._lookup, None, namespaces)
        except ValueError as exc:  # an identifier's own syntax (the mapping names the rest)
            return epcis_problem(400, "epcis_malformed", str(exc), index=event.index)
        except LedgerError as exc:  # EpcisError, and IdentifierError naming the GS1 rule
            field = str(exc.context.get("field", "$"))
            if exc.code == "epcis_no_counterpart" and field == "chemtrace:envelope":
                return epcis_problem(
                    400, "epcis_unsigned",
                    "a captured event must be signed by a device of the capturing organisation: "
                    "send chemtrace:envelope and chemtrace:signature (chemtrace epcis push)",
                    index=event.index, field=field,
                )  # fmt: skip
            return epcis_problem(400, exc.code, exc.message, index=event.index, field=field)
        if not isinstance(signature, dict):
            return epcis_problem(
                400, "epcis_unsigned",
                "the event has no chemtrace:signature (the device's Ed25519 signature of its body)",
                index=event.index, field=SIGNATURE,
            )  # fmt: skip
        event.envelope = {"body": body_to_json(body), "signature": signature}
        return None

    @staticmethod
    def _duplicate(event: _Event, entry_hash: bytes) -> ProblemError:
        return epcis_problem(
            409, "epcis_duplicate", "an event with this hash ID was captured before",
            index=event.index, eventID=event.hash_id, entry_hash=format_hash(entry_hash),
        )  # fmt: skip

    def _append(
        self, principal: Principal, good: Sequence[_Event], client: str | None, *, atomic: bool
    ) -> ProblemError | None:
        """Append the good events; a refusal of the whole request (429) is returned."""
        envelopes = [e.envelope for e in good]
        try:
            outcomes = self._ingest.submit(envelopes, principal, client, atomic=atomic)
        except (LedgerError, ServiceError) as exc:  # the request's own refusal (org_mismatch,
            problem = problem_of(exc)  # journalled by the ingest service; rates): every event
            for event in good:
                event.error = epcis_problem(problem.status, problem.code, problem.detail,
                                            index=event.index)  # fmt: skip
            return problem if problem.status == 429 else None
        for event, outcome in zip(good, outcomes, strict=True):
            if isinstance(outcome, Accepted) and outcome.duplicate:
                event.error = self._duplicate(event, outcome.receipt.entry_hash)
            elif isinstance(outcome, Accepted):
                event.entry_hash = outcome.receipt.entry_hash
                event.receipt = dict(outcome.receipt.to_json())
            else:
                assert isinstance(outcome, Rejected)
                event.error = self._refusal(principal, event, outcome.error)
        return None

    def _refusal(self, principal: Principal, event: _Event, error: LedgerError) -> ProblemError:
        if isinstance(error, StaleHeadError):
            item = str(error.context.get("item", ""))
            if not self._queries.may_see(principal, item):
                return epcis_problem(409, error.code, f"event does not extend item {item}'s head",
                                     index=event.index, item=item)  # fmt: skip
        problem = problem_of(error)
        return epcis_problem(problem.status, problem.code, problem.detail,
                             **{**problem.extra, "index": event.index})  # fmt: skip

    def _finish(self, job: CaptureJob, judged: Sequence[_Event]) -> CaptureJob:
        outcomes: list[dict[str, Any]] = []
        for event in judged:
            entry: dict[str, Any] = {"index": event.index, "eventID": event.hash_id}
            if event.error is None:
                assert event.receipt is not None
                entry.update(status="captured", receipt=event.receipt)
            else:
                entry.update(status="rejected", error=_describe(event.error))
            outcomes.append(entry)
        captured = [
            (e.hash_id, e.entry_hash) for e in judged if e.hash_id is not None and e.entry_hash
        ]
        failed = any(e.error is not None for e in judged)
        finished = format_utc(datetime.now(UTC))
        raced = set(self._jobs.finish(
            job.id, "failed" if failed else "success", finished, {"events": outcomes}, captured,
        ))  # fmt: skip
        if raced:  # a concurrent job captured the same event first: it is that job's
            for entry in outcomes:
                if entry["eventID"] in raced:
                    entry.update(status="rejected", error=_describe(
                        epcis_problem(409, "epcis_duplicate", "captured first by another job",
                                      index=entry["index"], eventID=entry["eventID"])
                    ))  # fmt: skip
            self._jobs.finish(job.id, "failed", finished, {"events": outcomes}, [])
        found = self._jobs.job(job.id)
        assert found is not None
        return found

    def job(self, principal: Principal, job_id: str) -> CaptureJob:
        """A job its organisation's users (or an admin) may read; else 404, like a missing one."""
        job = self._jobs.job(job_id)
        if job is None or not self._may_read(principal, job):
            raise epcis_problem(404, "capture_job_not_found", f"no capture job {job_id}")
        return job

    def jobs(self, principal: Principal, limit: int) -> list[CaptureJob]:
        org = None if principal.role == "admin" else principal.org or "-"
        return self._jobs.jobs(org, limit=limit)

    @staticmethod
    def _may_read(principal: Principal, job: CaptureJob) -> bool:
        return principal.role == "admin" or (principal.org is not None and job.org == principal.org)


def job_json(job: CaptureJob) -> dict[str, Any]:
    """A capture job as the REST binding shows it, with chemtrace's per-event outcomes."""
    outcomes = (job.result or {}).get("events", [])
    return {
        "captureID": job.id,
        "createdAt": job.created_at,
        "finishedAt": job.finished_at,
        "running": job.state == "running",
        "success": job.state == "success",
        "captureErrorBehaviour": job.behaviour,
        "eventCount": job.events,
        "errors": [
            {**o["error"], "instance": f"/epcis/capture/{job.id}#event-{o['index']}"}
            for o in outcomes
            if o["status"] == "rejected"
        ],
        "events": outcomes,
    }
