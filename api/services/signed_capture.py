"""RFC 9421-signed EPCIS capture: a signed request in, a ``signed_capture`` entry and its
derived events out (``POST /epcis/capture/signed``).

For a system that cannot run ``chemtrace epcis push``: it signs the whole request with its
registered device key (:mod:`ledger.http_signature`) instead of each event. The service

1. verifies the signature (the device's logged certificate, not revoked, of the caller's
   organisation), the ``Content-Digest`` and the signature's lifetime;
2. validates the document against the EPCIS 2.0 JSON Schema and refuses an event whose CBV
   hash ID was captured before;
3. derives the native events (:func:`ledger.signed_capture.derive`), recording the facts it
   looked up (each item's head, each EPC's code), so that an auditor re-derives them;
4. logs the ``signed_capture`` entry with the nonce (a replay is refused there, atomically)
   and keeps the document in erasable storage;
5. appends the derived events as one atomic group through the ingest path, so certificate
   validity at the log time, the custody policy, heads and rates apply as to any event.

A document is captured whole or not at all (``rollback``). Should step 5 fail (a head moved
between steps 3 and 5), the entry stays logged with no event citing it, and the job says why.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from api.deployment import Deployment
from api.problems import ProblemError, problem_of
from api.services.access import Principal
from api.services.epcis_capture import EpcisCaptureService, epcis_problem, validate_document
from api.services.epcis_lookup import RegistryLookup
from api.services.errors import ServiceError
from api.services.ingest import IngestService
from api.services.registry import RegistryService
from ledger.append import Accepted, Rejected
from ledger.canonical import format_hash
from ledger.certificates import Certificate
from ledger.commitments import disclose
from ledger.epcis.hash_id import document_events, namespaces_of
from ledger.epcis.mapping import event_id
from ledger.errors import LedgerError, UnknownKeyError
from ledger.events import body_to_json
from ledger.http_signature import Request, check_request
from ledger.signed_capture import (
    DOCUMENT_KIND,
    DerivationError,
    FactLookup,
    RecordingLookup,
    capture_context,
    derive,
    derived_envelope,
    new_capture,
)
from ledger.store.epcis_capture import CaptureJob, SqlCaptureJobs
from ledger.timefmt import format_utc

RETENTION: Final = timedelta(days=3 * 365)
"""How long a signed document's plaintext is kept before erasure (the crew-data rule)."""
_PLACEHOLDER: Final = b"\0" * 32


class HeadLookup(RegistryLookup):
    """The registry, and each item's current head (the server derives the chain links)."""

    def __init__(self, registry: RegistryService, jobs: SqlCaptureJobs, deployment: Deployment):
        super().__init__(registry, jobs)
        self._store = deployment.store

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        head = self._store.item_head(code)
        if head is None:
            return (0, None) if may_start else None
        return head.seq + 1, format_hash(head.head_hash)


class SignedCaptureService:
    """``POST /epcis/capture/signed``."""

    def __init__(
        self,
        deployment: Deployment,
        jobs: SqlCaptureJobs,
        registry: RegistryService,
        ingest: IngestService,
        capture: EpcisCaptureService,
    ) -> None:
        self._deployment, self._jobs, self._ingest = deployment, jobs, ingest
        self._capture = capture
        self._lookup = HeadLookup(registry, jobs, deployment)

    def _device(self, key_id: str, now: datetime) -> Certificate:
        keys = self._deployment.keys.root_signer()
        trust = self._deployment.store.key_trust(key_id, (keys.algorithm, keys.public_key))
        certs = [c for c in trust.certificates_for(key_id) if c.role == "device"]
        if not certs:
            raise UnknownKeyError("no device certificate for this key id", key_id=key_id)
        try:
            return trust.device_certificate(key_id, certs[0].org, now)
        except LedgerError as exc:  # revoked, or outside its validity: not a key to sign with
            raise UnknownKeyError(
                f"the key is not usable now ({exc.code}): {exc.message}", key_id=key_id
            ) from exc

    def capture(self, principal: Principal, request: Request, client: str | None) -> CaptureJob:
        """Verify, derive, log and append; the finished capture job."""
        now = datetime.now(UTC)
        device: list[Certificate] = []

        def public_key_of(key_id: str) -> bytes:
            device.append(self._device(key_id, now))
            return device[0].public_key

        verified = check_request(request, public_key_of, now)
        self._deployment.store.require_fresh_nonce(verified.key_id, verified.nonce)
        org = device[0].org
        if principal.org != org:
            detail = f"the signing key belongs to {org}, not to your organisation"
            raise ProblemError(403, "org_mismatch", detail)
        document = self._document(request.body)
        context = _context(request.url, org, verified.key_id)
        events = [dict(e) for e in document_events(document)]
        if len(events) > self._capture.capture_limit:
            raise epcis_problem(413, "epcis_capture_limit",
                                f"a capture holds at most {self._capture.capture_limit} events",
                                limit=self._capture.capture_limit)  # fmt: skip
        hash_ids = self._hash_ids(document, events)
        recording = RecordingLookup(self._lookup)
        try:
            derive(document, recording, context, _PLACEHOLDER)
        except DerivationError as exc:
            raise _derivation_problem(exc) from None
        stored = disclose(DOCUMENT_KIND, request.body.decode("utf-8"))
        entry = new_capture(verified, org, stored, recording)
        derived = derive(document, FactLookup(entry.facts), context, entry.entry_hash)
        job = CaptureJob(
            id=secrets.token_hex(16), org=org, user_id=principal.user_id, behaviour="rollback",
            state="running", events=len(derived), created_at=format_utc(now), finished_at=None,
            result=None,
        )  # fmt: skip
        self._jobs.start(job)
        receipt = self._deployment.store.append_signed_capture(
            entry, stored, retain_until=format_utc(now + RETENTION),
            log_signer=self._deployment.keys.log_signer(),
        )  # fmt: skip
        hashes = [event.event_hash for event in derived]
        envelopes = [derived_envelope(body_to_json(e.body), entry.entry_hash) for e in derived]
        ingestor = self._deployment.ingestor
        ingestor.vouch(entry.entry_hash, hashes)
        try:
            outcomes: list[Any] = self._ingest.submit(envelopes, principal, client, atomic=True)
        except (LedgerError, ServiceError) as exc:
            problem = problem_of(exc)
            outcomes = [problem] * len(derived)
        finally:
            ingestor.release(hashes)
        results, captured = [], []
        for index, (hash_id, outcome) in enumerate(zip(hash_ids, outcomes, strict=True)):
            entry_json: dict[str, Any] = {"index": index, "eventID": hash_id}
            if isinstance(outcome, Accepted) and not outcome.duplicate:
                entry_json.update(status="captured", receipt=dict(outcome.receipt.to_json()))
                captured.append((hash_id, outcome.receipt.entry_hash))
            else:
                problem = (
                    outcome if isinstance(outcome, ProblemError) else _outcome_problem(outcome)
                )
                entry_json.update(status="rejected", error=_describe(problem, index))
            results.append(entry_json)
        failed = len(captured) < len(derived)
        self._jobs.finish(
            job.id, "failed" if failed else "success", format_utc(datetime.now(UTC)),
            {"events": results, "signedCapture": dict(receipt.to_json())}, captured,
        )  # fmt: skip
        found = self._jobs.job(job.id)
        assert found is not None
        return found

    @staticmethod
    def _document(body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise epcis_problem(400, "malformed_json", "the body is not JSON", field="$") from None
        validate_document(document)
        if document.get("type") != "EPCISDocument":
            raise epcis_problem(400, "epcis_schema", "a signed capture is an EPCISDocument",
                                field="/type")  # fmt: skip
        return dict(document)

    def _hash_ids(self, document: dict[str, Any], events: Sequence[dict[str, Any]]) -> list[str]:
        namespaces = namespaces_of(document.get("@context", []))
        hash_ids: list[str] = []
        for index, event in enumerate(events):
            try:
                hash_id = event_id(event, namespaces)
            except (LedgerError, ValueError) as exc:
                raise epcis_problem(400, "epcis_malformed", str(exc), index=index) from None
            if hash_id in hash_ids:
                raise epcis_problem(409, "epcis_duplicate", "the same event twice in the document",
                                    index=index, eventID=hash_id)  # fmt: skip
            hash_ids.append(hash_id)
        for hash_id, event_hash in self._jobs.captured(hash_ids).items():
            raise epcis_problem(
                409, "epcis_duplicate", "an event with this hash ID was captured before",
                index=hash_ids.index(hash_id), eventID=hash_id, entry_hash=format_hash(event_hash),
            )  # fmt: skip
        return hash_ids


def _context(url: str, org: str, key_id: str) -> Any:
    try:
        return capture_context(url, org, key_id)
    except LedgerError as exc:
        field = str(exc.context.get("field", "$"))
        raise epcis_problem(400, "invalid_input", exc.message, field=field) from None


def _derivation_problem(exc: DerivationError) -> ProblemError:
    cause = str(exc.context.get("cause", exc.code))
    return epcis_problem(400, cause, exc.message, index=exc.context.get("index"),
                         field=str(exc.context.get("field", "$")))  # fmt: skip


def _outcome_problem(outcome: object) -> ProblemError:
    if isinstance(outcome, Rejected):
        return problem_of(outcome.error)
    return epcis_problem(409, "epcis_duplicate", "this event is on the ledger already")


def _describe(problem: ProblemError, index: int) -> dict[str, Any]:
    return {"status": problem.status, "code": problem.code, "detail": problem.detail,
            **{k: v for k, v in problem.extra.items() if k != "type"}, "index": index}  # fmt: skip
