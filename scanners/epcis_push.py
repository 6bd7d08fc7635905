"""``chemtrace epcis push``: an ERP's EPCIS 2.0 document, signed by this device, captured.

The server holds no enterprise key, and the chain links (``seq``, ``prev``) are part of what
a device signs, which an ERP does not know. So the client does what the handheld does:

1. validates the document against the official EPCIS 2.0 JSON Schema;
2. maps each event to its native body (:func:`ledger.epcis.mapping.from_epcis`) with this
   device as the signer, asking the server for each item's head (``GET /v1/items/{code}``;
   an item not on the ledger yet starts its chain where the event may start one). Events of
   one item in one document chain on each other, in document order;
3. signs each body with the device key and writes it back as EPCIS
   (:func:`ledger.epcis.mapping.to_epcis`, plus ``chemtrace:signature``);
4. submits the signed document to ``POST /epcis/capture`` (the EPCIS route, so the capture
   job, the hash-ID duplicate check and ``GS1-Capture-Error-Behaviour`` apply);
5. on ``stale_head`` (another device moved a chain meanwhile) it rebases: asks for the heads
   again and re-maps and re-signs every event not captured yet, a few times at most.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from ledger.canonical import format_hash
from ledger.envelope import open_envelope, sign_body
from ledger.epcis.gs1_keys import gs1_item_key
from ledger.epcis.hash_id import document_events, namespaces_of
from ledger.epcis.mapping import CaptureContext, epcis_document, from_epcis, to_epcis
from ledger.epcis.table import PREFIX
from ledger.errors import LedgerError
from ledger.events import body_to_json
from ledger.signing import Signer
from ledger.store.epcis_schema import first_error
from ledger.timefmt import format_utc
from scanners.client import ApiError, ChemtraceClient
from scanners.errors import ScannerError

SIGNATURE: Final = f"{PREFIX}:signature"
REBASE_CODES: Final = frozenset({"stale_head", "group_rejected", "epcis_rolled_back"})
"""Refusals a rebase may cure: a moved head, or an event refused only because another was."""


class PushError(ScannerError):
    """The document cannot be pushed as it is (invalid, or an event does not map)."""

    def __init__(self, message: str, *, code: str, index: int | None = None) -> None:
        super().__init__(message)
        self.code, self.index = code, index


@dataclass(slots=True)
class ServerLookup:
    """The registry as the server answers it, and the heads this push signed so far."""

    client: ChemtraceClient
    signed: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Items' heads after the events signed in this push: ``(seq, sha256:…)``."""

    def item(self, epc: str) -> str | None:
        key = gs1_item_key(epc)
        if key is None:
            return None
        try:
            return self.client.resolve_gs1_key(key)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def site(self, location: str) -> str | None:
        return None  # the registry records no GLNs: sites travel as urn:chemtrace:site:

    def party(self, party: str) -> str | None:
        return None

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        if code in self.signed:
            seq, signed_head = self.signed[code]
            return seq + 1, signed_head
        head: dict[str, Any] | None = None
        try:
            head = self.client.item(code)["head"]
        except ApiError as exc:
            if exc.status != 404:
                raise
        if head is None:
            return (0, None) if may_start else None
        return int(head["seq"]) + 1, str(head["hash"])

    def ledger_event(self, hash_id: str) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class PushReport:
    captured: int
    rejected: list[dict[str, Any]]
    """The events not captured, each ``{"index", "eventID", "error": problem}``."""
    jobs: list[str]
    rebases: int

    def to_json(self) -> dict[str, Any]:
        return {"captured": self.captured, "rejected": self.rejected, "jobs": self.jobs,
                "rebases": self.rebases}  # fmt: skip


def sign_document(
    document: Mapping[str, Any],
    lookup: ServerLookup,
    signer: Signer,
    context: CaptureContext,
    only: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """The signed EPCIS form of each event (of those at ``only``), in document order."""
    namespaces = namespaces_of(document.get("@context", []))
    events = document_events(document)
    wanted = range(len(events)) if only is None else only
    signed: list[dict[str, Any]] = []
    for index in wanted:
        try:
            body = from_epcis(events[index], lookup, context, namespaces)
        except LedgerError as exc:  # EpcisError, and IdentifierError naming the GS1 rule
            field_name = exc.context.get("field", "$")
            raise PushError(
                f"event {index} does not map ({exc.code}, {field_name}): {exc.message}",
                code=exc.code, index=index,
            ) from exc  # fmt: skip
        if body.type == "correct":
            raise PushError(
                f"event {index}: push an errorDeclaration through chemtrace scan, not EPCIS",
                code="epcis_no_counterpart", index=index,
            )  # fmt: skip
        envelope = sign_body(body_to_json(body), signer)
        entry_hash = format_hash(open_envelope(envelope).event_hash)
        for link in body.items:
            lookup.signed[link.code] = (link.seq, entry_hash)
        rendered = to_epcis(body)
        rendered[SIGNATURE] = envelope["signature"]
        signed.append(rendered)
    return signed


def push(
    document: Mapping[str, Any],
    client: ChemtraceClient,
    signer: Signer,
    context: CaptureContext,
    *,
    behaviour: str = "rollback",
    rebases: int = 3,
) -> PushReport:
    """Validate, map, sign and capture ``document``; rebase on moved heads."""
    found = first_error(document)
    if found is not None:
        raise PushError(f"not a valid EPCIS 2.0 document at {found[0]}: {found[1]}",
                        code="epcis_schema")  # fmt: skip
    total = len(document_events(document))
    pending = list(range(total))
    captured, jobs, rounds = 0, [], 0
    rejected: dict[int, dict[str, Any]] = {}
    while pending:
        lookup = ServerLookup(client)
        signed = sign_document(document, lookup, signer, context, pending)
        created = format_utc(datetime.now(UTC))
        job = client.capture(epcis_document(signed, created=created), behaviour=behaviour)
        jobs.append(str(job["captureID"]))
        retry: list[int] = []
        for outcome in job["events"]:
            original = pending[int(outcome["index"])]
            if outcome["status"] == "captured":
                captured += 1
                rejected.pop(original, None)
                continue
            rejected[original] = {"index": original, "eventID": outcome.get("eventID"),
                                  "error": outcome["error"]}  # fmt: skip
            if outcome["error"].get("code") in REBASE_CODES:
                retry.append(original)
        stale = any(rejected[i]["error"].get("code") == "stale_head" for i in retry)
        if not stale or rounds >= rebases:
            break
        rounds += 1
        pending = retry
        time.sleep(0.05 * rounds)
    return PushReport(captured, [rejected[i] for i in sorted(rejected)], jobs, rounds)
