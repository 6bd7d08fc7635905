"""EPCIS 2.0 queries over the ledger: scoped like the native API, each event with its log proof.

An event is exported when the caller may see it through at least one of its items, exactly
as ``GET /v1/items/{code}/events`` shows it (:meth:`QueryService.item_view`): an enterprise
the span of its own involvement, a regulator or inspector every event of an item in its
districts, an admin everything. Each exported event carries, under ``chemtrace:log``, what a
recipient needs to check it without trusting this server: its log index and log time, the
entry hash the log committed to, the device signature, the leaf hash and an RFC 9162
inclusion proof against the checkpoint the document names (``chemtrace:checkpoint``).

Events match on their EPCIS form (:func:`ledger.epcis.mapping.to_epcis`), so the filters
mean what the EPCIS standard says, not what the native fields happen to be called.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal, get_args

from api.deployment import Deployment
from api.services.access import Principal
from api.services.epcis_lookup import RegistryLookup
from api.services.log import LogService
from api.services.queries import LoggedEvent, QueryService
from api.services.registry import RegistryService
from ledger.canonical import b64encode, format_hash
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.epcis.digital_link import to_digital_link
from ledger.epcis.epc_uri import canonical_identifier
from ledger.epcis.hash_id import EPCIS_CONTEXT_PREFIXES
from ledger.epcis.identifiers import private_id
from ledger.epcis.mapping import Event, epcis_document, event_id, to_epcis
from ledger.epcis.table import NAMESPACE, PREFIX
from ledger.epcis.vocabulary import Vocabulary
from ledger.leaf import LeafRecord
from ledger.merkle import leaf_hash
from ledger.store.epcis_capture import SqlCaptureJobs
from ledger.store.service import ServiceStore

EpcFormat = Literal[
    "No_Preference", "Always_GS1_Digital_Link", "Always_EPC_URN", "Never_Translates"
]
EPC_FORMATS: Final[tuple[str, ...]] = get_args(EpcFormat)
LOG: Final = f"{PREFIX}:log"
CHECKPOINT: Final = f"{PREFIX}:checkpoint"
QUERY_NAME: Final = "SimpleEventQuery"
_NAMESPACES: Final = {**EPCIS_CONTEXT_PREFIXES, PREFIX: NAMESPACE}
_EPC_FIELDS: Final = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_MATCH_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "MATCH_epc": ("epcList", "childEPCs"),
    "MATCH_parentID": ("parentID",),
    "MATCH_inputEPC": ("inputEPCList",),
    "MATCH_outputEPC": ("outputEPCList",),
    "MATCH_anyEPC": ("epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList"),
}
_VOCABULARIES: Final = {"EQ_bizStep": Vocabulary.BIZ_STEP, "EQ_disposition": Vocabulary.DISPOSITION}
EVENT_TYPES: Final = (
    "AggregationEvent", "AssociationEvent", "ObjectEvent", "TransactionEvent",
    "TransformationEvent",
)  # fmt: skip
Resource = Literal["eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions"]
_NO_EVENT: Final = bytes(32)
_SCAN_PAGE: Final = 500
_TOKEN_DOMAIN: Final = b"chemtrace epcis page token v1"


class EpcisQueryError(Exception):
    """A query the EPCIS binding refuses: a ``QueryParameterException`` naming the parameter."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter, self.detail = parameter, detail


@dataclass(frozen=True, slots=True)
class EventQuery:
    """The standard SimpleEventQuery parameters this repository answers (EPCIS 2.0 §8.2.7.1).

    ``terms`` maps a parameter to its accepted values (any one matches); ``times`` to a bound.
    """

    terms: Mapping[str, frozenset[str]] = field(default_factory=dict)
    times: Mapping[str, datetime] = field(default_factory=dict)
    per_page: int = 100
    after: int = -1
    """Resume after this log index (from a next-page token)."""

    def narrowed(self, parameter: str, values: frozenset[str]) -> EventQuery:
        """This query and ``parameter`` in ``values`` too (a path's filter: both must hold)."""
        given = self.terms.get(parameter)
        both = values if given is None else values & given
        return replace(self, terms={**self.terms, parameter: both})


@dataclass(frozen=True, slots=True)
class QueryPage:
    document: dict[str, Any]
    after: int | None
    """The log index to resume after, when more events may match."""


@dataclass(frozen=True, slots=True)
class CollectionPage:
    members: list[str]
    after: str | None
    """The last member given, when more follow."""


def page_token(secret: bytes, fingerprint: str, after: int | str) -> str:
    """An opaque token: where to resume (a log index, or a collection's last member), bound
    to one query and one caller by an HMAC."""
    payload = json.dumps({"after": after, "q": fingerprint}, separators=(",", ":")).encode()
    tag = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return _b64url(payload) + "." + _b64url(tag)


def open_page_token(secret: bytes, fingerprint: str, token: str) -> int | str:
    """Where a token resumes; a forged, altered or foreign token is refused."""
    payload_text, dot, tag_text = token.partition(".")
    try:
        payload, tag = _unb64url(payload_text), _unb64url(tag_text)
    except ValueError:
        payload, tag = b"", b""
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    if not dot or not hmac.compare_digest(tag, expected):
        raise EpcisQueryError("nextPageToken", "the page token is not one this query was given")
    opened = json.loads(payload)
    after = opened.get("after")
    if opened.get("q") != fingerprint or not isinstance(after, int | str):
        raise EpcisQueryError("nextPageToken", "the page token belongs to another query")
    return after


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


class _Visibility:
    """Which events one caller may see, item by item, each item's chain read once."""

    def __init__(self, queries: QueryService, principal: Principal) -> None:
        self._queries, self._principal = queries, principal
        self._seen: dict[str, frozenset[bytes]] = {}

    def _visible_hashes(self, code: str) -> frozenset[bytes]:
        if code not in self._seen:
            if self._principal.role == "enterprise":
                view = self._queries.item_view(self._principal, code)
                self._seen[code] = frozenset(e.event.event_hash for e in view.seen)
            elif self._queries.may_see(self._principal, code):
                self._seen[code] = frozenset(
                    e.event.event_hash for e in self._queries.item_events(code)
                )
            else:
                self._seen[code] = frozenset()
        return self._seen[code]

    def sees(self, logged: LoggedEvent) -> bool:
        return any(
            logged.event.event_hash in self._visible_hashes(link.code)
            for link in logged.event.body.items
        )


class EpcisService:
    """EPCIS documents of the events a caller may see, with their proofs."""

    def __init__(
        self, deployment: Deployment, store: ServiceStore, queries: QueryService,
        registry: RegistryService, log: LogService, jobs: SqlCaptureJobs,
    ) -> None:  # fmt: skip
        self._deployment, self._store, self._queries = deployment, store, queries
        self._registry, self._log, self._jobs = registry, log, jobs
        self._secret: bytes | None = None

    # -- page tokens ---------------------------------------------------------------------------

    def secret(self) -> bytes:
        """The page-token key: the log key's (deterministic Ed25519) signature of a fixed
        string, so every worker and every restart derives the same key and nobody else can."""
        if self._secret is None:
            signature = self._deployment.keys.log_signer().sign(_TOKEN_DOMAIN)
            self._secret = hashlib.sha256(_TOKEN_DOMAIN + signature).digest()
        return self._secret

    # -- queries -------------------------------------------------------------------------------

    def require_reader(self, principal: Principal) -> None:
        """Refuse a caller who may read no custody (a 403), as every query does."""
        self._queries.require_custody_reader(principal)

    def query(self, principal: Principal, query: EventQuery, epc_format: EpcFormat) -> QueryPage:
        """One page of the events in scope that match ``query``, in log order."""
        self._queries.require_custody_reader(principal)
        visibility = _Visibility(self._queries, principal)
        exporter = _Exporter(self, epc_format, visibility.sees)
        query = self._captured_ids(query, visibility, exporter)
        chosen: list[tuple[LoggedEvent, Event]] = []
        more = False
        for logged, event in self._matching(query, visibility, exporter):
            if len(chosen) == query.per_page:
                more = True
                break
            chosen.append((logged, event))
        document = exporter.document(chosen)
        return QueryPage(document, chosen[-1][0].index if more and chosen else None)

    def event(
        self, principal: Principal, event_id: str, epc_format: EpcFormat
    ) -> dict[str, Any] | None:
        """The event with this ID, as captured or as exported, with its error declarations
        (they repeat its ID); None when there is none in the caller's scope."""
        query = EventQuery(terms={"EQ_eventID": frozenset({event_id})}, per_page=_SCAN_PAGE)
        document = self.query(principal, query, epc_format).document
        found = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return document if found else None

    def collection(
        self, principal: Principal, resource: Resource, epc_format: EpcFormat, *,
        after: str | None, per_page: int,
    ) -> CollectionPage:  # fmt: skip
        """One page of the values of ``resource`` named by the events in scope, sorted.

        Event types are the five the standard defines, as the binding says: every one of them
        can be queried, and naming them tells nothing about anyone's events.
        """
        self._queries.require_custody_reader(principal)
        values = set(EVENT_TYPES) if resource == "eventTypes" else set()
        if resource != "eventTypes":
            visibility = _Visibility(self._queries, principal)
            exporter = _Exporter(self, epc_format, visibility.sees)
            for _, event in self._matching(EventQuery(), visibility, exporter):
                named = _values_of(resource, event)
                values.update(map(exporter.translated, named) if resource == "epcs" else named)
        ordered = sorted(values)
        start = 0 if after is None else bisect_right(ordered, after)
        members = ordered[start : start + per_page]
        more = start + per_page < len(ordered)
        return CollectionPage(members, members[-1] if more and members else None)

    def _matching(
        self, query: EventQuery, visibility: _Visibility, exporter: _Exporter
    ) -> Iterator[tuple[LoggedEvent, Event]]:
        for logged in self._scan(query.after, self._candidates(query)):
            if not visibility.sees(logged):
                continue
            event = exporter.standard(logged)
            if event is not None and _matches(event, logged, query, exporter):
                yield logged, event

    def _captured_ids(
        self, query: EventQuery, visibility: _Visibility, exporter: _Exporter
    ) -> EventQuery:
        """``EQ_eventID`` also matching the events captured under those hash IDs (computed on
        the document as sent, so a GS1 spelling of an EPC gives another ID than the export's).

        An ID captured by an organisation out of scope costs what an unknown one costs: one
        look-up of the captures and one of the log, the event then judged like any other.
        """
        ids = query.terms.get("EQ_eventID")
        if not ids:
            return query
        captured = self._jobs.captured(sorted(ids))
        also: set[str] = set()
        for hash_id in sorted(ids):
            logged = self._store.event_by_hash(captured.get(hash_id, _NO_EVENT))
            if logged is not None and visibility.sees(logged):
                event = exporter.standard(logged)
                if event is not None:
                    also.add(str(event["eventID"]))
        return replace(query, terms={**query.terms, "EQ_eventID": ids | also})

    def item_chain(self, principal: Principal, code: str, epc_format: EpcFormat) -> dict[str, Any]:
        """The events of one item the caller may see, in chain order, as one document (an item
        out of scope answers exactly like a missing one)."""
        self._queries.require_custody_reader(principal)
        view = self._queries.visible_item(principal, code)
        seen = {logged.event.event_hash for logged in view.seen}
        exporter = _Exporter(self, epc_format, lambda logged: logged.event.event_hash in seen)
        exported = [(logged, exporter.standard(logged)) for logged in view.seen]
        return exporter.document([(logged, e) for logged, e in exported if e is not None])

    def _candidates(self, query: EventQuery) -> frozenset[str] | None:
        """Item codes one of which every event matching ``query`` names (from its tightest
        ``MATCH_*`` term), or None when no term narrows the scan.

        An exported event's EPCs are its items' ``urn:chemtrace:code:`` URNs, and each
        answers also to the Digital Link of the GS1 key its code was issued with
        (:meth:`_Exporter.identities`), so a value names at most the code in its URN or the
        code issued with its key. A code named by nothing matches nothing.
        """
        tightest: frozenset[str] | None = None
        for parameter in _MATCH_FIELDS:
            values = query.terms.get(parameter)
            if values is None:
                continue
            codes = frozenset(code for value in values if (code := self._code_named(value)))
            if tightest is None or len(codes) < len(tightest):
                tightest = codes
        return tightest

    def _code_named(self, epc: str) -> str | None:
        return private_id(epc, "code") or RegistryLookup(self._registry, self._jobs).item(epc)

    def _scan(self, after: int, codes: frozenset[str] | None = None) -> Iterator[LoggedEvent]:
        """The events after log index ``after``, in log order: all, or those naming one of
        ``codes`` and every correction (whose export repeats the event it corrects)."""
        while True:
            if codes is None:
                page = self._store.events_since(after, limit=_SCAN_PAGE)
            else:
                page = self._store.events_naming(codes, after, limit=_SCAN_PAGE,
                                                 also_types=("correct",))  # fmt: skip
            if not page:
                return
            yield from page
            after = page[-1].index

    # -- what the exporter needs ---------------------------------------------------------------

    def gs1_key(self, code: str) -> str | None:
        signed = self._registry.signed_code(code)
        return None if signed is None else signed.facts.gs1_key

    def corrected(self, logged: LoggedEvent) -> LoggedEvent | None:
        target = getattr(logged.event.body.data, "corrects", None)
        for link in logged.event.body.items:
            for earlier in self._queries.item_events(link.code):
                if format_hash(earlier.event.event_hash) == target:
                    return earlier
        return None

    def checkpoint(self) -> tuple[Checkpoint, str] | None:
        size = self._log.size()
        if size == 0:
            return None
        note = self._log.checkpoint()
        return open_checkpoint(note, self._deployment.trusted_keys().log), note

    def proof(self, index: int, size: int) -> list[bytes]:
        return self._log.inclusion_proof(index, size)


class _Exporter:
    """One request's EPCIS rendering: the standard form, the EPC format, the proofs."""

    def __init__(
        self, service: EpcisService, epc_format: EpcFormat, sees: Callable[[LoggedEvent], bool]
    ) -> None:
        self._service, self._format, self._sees = service, epc_format, sees
        self._keys: dict[str, str | None] = {}

    def gs1_identity(self, code: str) -> str | None:
        """The canonical Digital Link of a code issued with a GS1 key."""
        if code not in self._keys:
            key = self._service.gs1_key(code)
            self._keys[code] = None if key is None else to_digital_link(key)
        return self._keys[code]

    def standard(self, logged: LoggedEvent) -> Event | None:
        """The event as the ledger states it (chemtrace URNs), with its CBV hash ID.

        None for a correction the caller may not see in full: an EPCIS errorDeclaration
        repeats the corrected event (§7.4.1.2), so it is exported only to a caller who may see
        that event too, and only when that event is not itself a correction.
        """
        body = logged.event.body
        corrected = None
        if body.type == "correct":
            earlier = self._service.corrected(logged)
            if earlier is None or earlier.event.body.type == "correct" or not self._sees(earlier):
                return None
            corrected = to_epcis(earlier.event.body)
        event = to_epcis(body, corrected=corrected)
        event["eventID"] = event_id(event, _NAMESPACES)
        event["recordTime"] = logged.log_time
        return event

    def identities(self, epc: str) -> set[str]:
        """Every identifier one EPC answers to: its URN, and its GS1 key's Digital Link."""
        found = {epc}
        code = private_id(epc, "code")
        if code is not None and (gs1 := self.gs1_identity(code)) is not None:
            found.add(gs1)
        return found

    def translated(self, epc: str) -> str:
        code = private_id(epc, "code")
        if self._format != "Always_GS1_Digital_Link" or code is None:
            return epc
        return self.gs1_identity(code) or epc

    def exported(self, logged: LoggedEvent, event: Event, checkpoint: Checkpoint | None) -> Event:
        out = dict(event)
        for name in _EPC_FIELDS:
            if name in out:
                out[name] = [self.translated(epc) for epc in out[name]]
        if "parentID" in out:
            out["parentID"] = self.translated(out["parentID"])
        out[LOG] = self._log_entry(logged, checkpoint)
        return out

    def _log_entry(self, logged: LoggedEvent, checkpoint: Checkpoint | None) -> dict[str, Any]:
        signed = logged.event
        leaf = LeafRecord("event", signed.event_hash, logged.log_time).encode()
        entry: dict[str, Any] = {
            "index": logged.index,
            "logTime": logged.log_time,
            "hash": format_hash(signed.event_hash),
            "signature": {"alg": signed.algorithm, "value": b64encode(signed.signature)},
            "leafHash": b64encode(leaf_hash(leaf)),
        }
        if checkpoint is not None and logged.index < checkpoint.size:
            entry["checkpointSize"] = checkpoint.size
            entry["inclusion"] = [
                b64encode(h) for h in self._service.proof(logged.index, checkpoint.size)
            ]
        return entry

    def document(self, events: Sequence[tuple[LoggedEvent, Event]]) -> dict[str, Any]:
        opened = self._service.checkpoint() if events else None
        checkpoint = None if opened is None else opened[0]
        exported = [self.exported(logged, event, checkpoint) for logged, event in events]
        document = epcis_document(exported, created=QueryService.now())
        body = document.pop("epcisBody")
        document["type"] = "EPCISQueryDocument"
        document["epcisBody"] = {"queryResults": {"queryName": QUERY_NAME, "resultsBody": body}}
        if opened is not None:
            document[CHECKPOINT] = opened[1]
        return document


def _term_matches(values: frozenset[str], actual: object) -> bool:
    return isinstance(actual, str) and actual in values


def _matches(event: Event, logged: LoggedEvent, query: EventQuery, exporter: _Exporter) -> bool:
    for parameter, values in query.terms.items():
        if parameter == "eventType":
            if not _term_matches(values, event["type"]):
                return False
        elif parameter in _VOCABULARIES:
            actual = event.get(parameter.removeprefix("EQ_"))
            term = _VOCABULARIES[parameter].expand(actual) if isinstance(actual, str) else None
            if not _term_matches(values, term):
                return False
        elif parameter == "EQ_action":
            if not _term_matches(values, event.get("action")):
                return False
        elif parameter == "EQ_eventID":
            if not _term_matches(values, event.get("eventID")):
                return False
        elif parameter in ("EQ_bizLocation", "EQ_readPoint"):
            location = (event.get(parameter.removeprefix("EQ_")) or {}).get("id")
            if not isinstance(location, str) or canonical_identifier(location) not in values:
                return False
        elif parameter in _MATCH_FIELDS:
            epcs: list[str] = []
            for name in _MATCH_FIELDS[parameter]:
                value = event.get(name)
                epcs += [value] if isinstance(value, str) else list(value or ())
            if not any(exporter.identities(epc) & values for epc in epcs):
                return False
    for parameter, bound in query.times.items():
        stamp = datetime.fromisoformat(
            (event["eventTime"] if "eventTime" in parameter else logged.log_time).replace(
                "Z", "+00:00"
            )
        )
        if (stamp < bound) if parameter.startswith("GE_") else (stamp >= bound):
            return False
    return True


def _values_of(resource: Resource, event: Event) -> set[str]:
    """What an exported event names of ``resource`` (each value a member of its collection)."""
    if resource == "epcs":
        epcs: set[str] = set()
        for name in _MATCH_FIELDS["MATCH_anyEPC"]:
            value = event.get(name)
            epcs.update([value] if isinstance(value, str) else value or ())
        return epcs
    if resource in ("bizLocations", "readPoints"):
        location = event.get(resource.removesuffix("s"))
        named = location.get("id") if isinstance(location, dict) else None
        return {named} if isinstance(named, str) else set()
    value = event.get(resource.removesuffix("s"))  # bizStep, disposition
    return {value} if isinstance(value, str) else set()


__all__ = [
    "EPC_FORMATS",
    "EVENT_TYPES",
    "CollectionPage",
    "EpcFormat",
    "EpcisQueryError",
    "EpcisService",
    "EventQuery",
    "QueryPage",
    "Resource",
    "open_page_token",
    "page_token",
]
