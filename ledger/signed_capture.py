"""Signed capture: an RFC 9421-signed EPCIS document as a log entry, and the events it derives.

A system that cannot sign each event (it does not know the chain heads) signs the whole
request instead (:mod:`ledger.http_signature`). The log then holds

* one ``signed_capture`` entry: the request's signature base and signature (which cover the
  document's ``Content-Digest``), the signer's key id and organisation, a salted commitment
  to the document, and the *facts* the server looked up to derive events from it (each
  item's head before the capture, each EPC's code). The document itself is personal data
  (it may name drivers) and sits in erasable storage, like crew data;
* the derived events: native bodies whose ``device_key`` is the signer's key, in envelopes
  whose ``signature`` is ``{"alg": "rfc9421-capture", "value": <the entry's hash>}``. Each
  event's hash covers that citation.

Derivation is a pure function of (document, facts, signer, entry hash), so an auditor with
the disclosed document re-derives exactly the same events and hashes
(:func:`verify_derivation`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.canonical import (
    JsonValue,
    b64decode,
    b64encode,
    canonical_bytes,
    domain_hash,
    format_hash,
)
from ledger.commitments import Disclosure
from ledger.envelope import CAPTURE_ALG, SignedEvent, open_envelope
from ledger.epcis.hash_id import document_events, namespaces_of
from ledger.epcis.identifiers import Lookup
from ledger.epcis.mapping import CaptureContext, from_epcis
from ledger.errors import InvalidInputError, LedgerError, SignatureInvalidError
from ledger.events import body_to_json
from ledger.http_signature import VerifiedRequest, content_digest, verify_signature_base

SIGNED_CAPTURE: Final = b"chemtrace/v1/signed-capture\n"
CAPTURE_VERSION: Final = 1
DOCUMENT_KIND: Final = "epcis_document"
"""The disclosure kind of a signed document kept in erasable storage."""
_FACT_KINDS: Final = ("item", "site", "party", "head", "ledger_event")


class DerivationError(InvalidInputError):
    """An event of a signed document does not derive (``index`` and ``field`` name it)."""

    code = "derivation_failed"


@dataclass(slots=True)
class RecordingLookup:
    """Answers the mapping's questions from ``source`` and records every answer."""

    source: Lookup
    facts: dict[str, dict[str, JsonValue]] = field(
        default_factory=lambda: {kind: {} for kind in _FACT_KINDS}
    )

    def item(self, epc: str) -> str | None:
        return self._keep("item", epc, self.source.item(epc))

    def site(self, location: str) -> str | None:
        return self._keep("site", location, self.source.site(location))

    def party(self, party: str) -> str | None:
        return self._keep("party", party, self.source.party(party))

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        if code not in self.facts["head"]:
            found = self.source.head(code, may_start=True)
            self.facts["head"][code] = None if found is None else [found[0], found[1]]
        return _head(self.facts["head"][code], may_start)

    def ledger_event(self, hash_id: str) -> str | None:
        return self._keep("ledger_event", hash_id, self.source.ledger_event(hash_id))

    def _keep(self, kind: str, key: str, value: str | None) -> str | None:
        self.facts[kind].setdefault(key, value)
        found = self.facts[kind][key]
        return found if isinstance(found, str) else None


def _head(fact: JsonValue, may_start: bool) -> tuple[int, str | None] | None:
    if fact is None:
        return None
    if not isinstance(fact, list) or not isinstance(fact[0], int):
        raise InvalidInputError("a recorded head is [seq, prev]", field="facts.head")
    seq, prev = fact[0], fact[1]
    if seq == 0 and not may_start:
        return None
    return seq, prev if isinstance(prev, str) else None


@dataclass(slots=True)
class FactLookup:
    """Answers from recorded facts only (:func:`derive` moves the heads as events chain)."""

    facts: Mapping[str, Mapping[str, JsonValue]]

    def _fact(self, kind: str, key: str) -> str | None:
        found = self.facts.get(kind, {}).get(key)
        return found if isinstance(found, str) else None

    def item(self, epc: str) -> str | None:
        return self._fact("item", epc)

    def site(self, location: str) -> str | None:
        return self._fact("site", location)

    def party(self, party: str) -> str | None:
        return self._fact("party", party)

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        return _head(self.facts.get("head", {}).get(code), may_start)

    def ledger_event(self, hash_id: str) -> str | None:
        return self._fact("ledger_event", hash_id)


@dataclass(frozen=True, slots=True)
class SignedCapture:
    """The ``signed_capture`` log entry."""

    key_id: str
    org: str
    nonce: str
    signature_base: str
    signature: bytes
    document: str
    """A salted commitment to the document (:data:`DOCUMENT_KIND`)."""
    facts: Mapping[str, Mapping[str, JsonValue]]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "document": self.document, "facts": {k: dict(v) for k, v in self.facts.items()},
            "key_id": self.key_id, "nonce": self.nonce, "org": self.org,
            "signature": b64encode(self.signature), "signature_base": self.signature_base,
            "v": CAPTURE_VERSION,
        }  # fmt: skip

    def encode(self) -> bytes:
        return canonical_bytes(self.to_json())

    @property
    def entry_hash(self) -> bytes:
        return domain_hash(SIGNED_CAPTURE, self.to_json())

    def component(self, name: str) -> str:
        """A covered component's value, from the signature base (``@target-uri``, …)."""
        prefix = f'"{name}": '
        for line in self.signature_base.split("\n"):
            if line.startswith(prefix):
                return line[len(prefix) :]
        raise InvalidInputError(f"the signature base covers no {name}", component=name)

    def context(self) -> CaptureContext:
        """The signer as the signed ``@target-uri`` names it (``actor``, ``catalog``)."""
        return capture_context(self.component("@target-uri"), self.org, self.key_id)


def capture_context(target_uri: str, org: str, key_id: str) -> CaptureContext:
    """The capture context a signed target URI names: ``?actor=…&catalog=…`` are signed.

    Raises:
        InvalidInputError: a parameter is missing (``field`` names it).
    """
    query = _query(target_uri)
    values = {}
    for name in ("actor", "catalog"):
        found = query.get(name, [])
        if len(found) != 1:
            raise InvalidInputError(f"the signed URI needs exactly one {name}=", field=name)
        values[name] = found[0]
    return CaptureContext(org=org, device_key=key_id, actor=values["actor"],
                          catalog_version=values["catalog"])  # fmt: skip


def _query(uri: str) -> dict[str, list[str]]:
    """The form-encoded query of ``uri`` (RFC 3986 percent-decoding, ``+`` for a space)."""
    found: dict[str, list[str]] = {}
    query = uri.partition("#")[0].partition("?")[2]
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        found.setdefault(_unquote(name), []).append(_unquote(value))
    return found


def _unquote(text: str) -> str:
    parts = text.replace("+", " ").split("%")
    out = bytearray(parts[0].encode())
    for part in parts[1:]:
        try:
            if len(part) < 2 or not all(c in "0123456789abcdefABCDEF" for c in part[:2]):
                raise ValueError(part)
            out += bytes.fromhex(part[:2]) + part[2:].encode()
        except ValueError:
            raise InvalidInputError(
                "a malformed percent escape in the URI", field="@target-uri"
            ) from None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("the URI's query is not UTF-8", field="@target-uri") from None


def capture_from_bytes(data: bytes) -> SignedCapture:
    """Parse a stored entry strictly; it must re-encode to the same bytes.

    Raises:
        InvalidInputError: the bytes are not a canonical entry.
    """
    try:
        raw = json.loads(data)
        if set(raw) != {"document", "facts", "key_id", "nonce", "org", "signature",
                        "signature_base", "v"} or raw["v"] != CAPTURE_VERSION:  # fmt: skip
            raise InvalidInputError("signed capture has missing or unexpected fields")
        capture = SignedCapture(
            key_id=str(raw["key_id"]), org=str(raw["org"]), nonce=str(raw["nonce"]),
            signature_base=str(raw["signature_base"]), signature=b64decode(raw["signature"]),
            document=str(raw["document"]), facts=dict(raw["facts"]),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed signed capture: {exc!r}") from exc
    if capture.encode() != data:
        raise InvalidInputError("signed capture is not in canonical form")
    return capture


def new_capture(
    verified: VerifiedRequest, org: str, document: Disclosure, facts: RecordingLookup
) -> SignedCapture:
    return SignedCapture(
        key_id=verified.key_id, org=org, nonce=verified.nonce,
        signature_base=verified.signature_base.decode("ascii"), signature=verified.signature,
        document=document.commitment, facts=facts.facts,
    )  # fmt: skip


def derive(
    document: Mapping[str, Any],
    lookup: Lookup,
    context: CaptureContext,
    authority: bytes,
) -> list[SignedEvent]:
    """The events ``document`` derives, in document order, each citing ``authority``.

    Events of one item chain on each other in document order (``lookup`` answers the head
    before the capture; the derived events move it).

    Raises:
        DerivationError: an event does not map (``index``, ``field``, and the mapping's code).
    """
    namespaces = namespaces_of(document.get("@context", []))
    moved: dict[str, tuple[int, str]] = {}
    chained = _Chained(lookup, moved)
    derived: list[SignedEvent] = []
    for index, event in enumerate(document_events(document)):
        try:
            body = from_epcis(event, chained, context, namespaces)
            if body.type == "correct":
                raise DerivationError("a signed capture derives no corrections",
                                      field="errorDeclaration")  # fmt: skip
            signed = open_envelope(derived_envelope(body_to_json(body), authority))
        except LedgerError as exc:
            raise DerivationError(
                f"event {index} does not derive ({exc.code}): {exc.message}",
                index=index, field=exc.context.get("field", "$"), cause=exc.code,
            ) from exc  # fmt: skip
        except ValueError as exc:
            raise DerivationError(f"event {index} does not derive: {exc}", index=index) from exc
        for link in signed.body.items:
            moved[link.code] = (link.seq, format_hash(signed.event_hash))
        derived.append(signed)
    return derived


@dataclass(slots=True)
class _Chained:
    source: Lookup
    moved: dict[str, tuple[int, str]]

    def item(self, epc: str) -> str | None:
        return self.source.item(epc)

    def site(self, location: str) -> str | None:
        return self.source.site(location)

    def party(self, party: str) -> str | None:
        return self.source.party(party)

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        if code in self.moved:
            seq, head = self.moved[code]
            return seq + 1, head
        return self.source.head(code, may_start=may_start)

    def ledger_event(self, hash_id: str) -> str | None:
        return self.source.ledger_event(hash_id)


def derived_envelope(body: Mapping[str, JsonValue], authority: bytes) -> dict[str, JsonValue]:
    """A derived event: its body, and in place of a signature the capture entry it cites."""
    return {"body": dict(body), "signature": {"alg": CAPTURE_ALG, "value": b64encode(authority)}}


def authority_of(event: SignedEvent) -> bytes | None:
    """The signed-capture entry a derived event cites (None for a device-signed event)."""
    return event.signature if event.algorithm == CAPTURE_ALG else None


def verify_capture(capture: SignedCapture, public_key: bytes) -> None:
    """The device key signed the recorded request, which names this capture's context.

    Raises:
        SignatureInvalidError: the signature base does not verify under ``public_key``.
        InvalidInputError: the base lacks a component the context needs.
    """
    verify_signature_base(capture.signature_base.encode("ascii"), capture.signature, public_key)
    if f'keyid="{capture.key_id}"' not in capture.component("@signature-params"):
        raise SignatureInvalidError("the recorded signature names another key")
    capture.context()


def verify_derivation(
    capture: SignedCapture,
    document_bytes: bytes,
    disclosure: Disclosure | None,
    logged: Sequence[bytes],
) -> list[bytes]:
    """An auditor's check of a disclosed document against its entry and the logged events.

    ``logged`` are the hashes of the events that cite the entry, in log order. Returns the
    re-derived hashes.

    Raises:
        SignatureInvalidError: the document is not the one signed (digest or commitment).
        DerivationError: it does not derive, or derives other events than those logged.
    """
    if content_digest(document_bytes) != capture.component("content-digest"):
        raise SignatureInvalidError("the document's Content-Digest is not the one signed")
    if disclosure is not None and (
        disclosure.commitment != capture.document or disclosure.value.encode() != document_bytes
    ):
        raise SignatureInvalidError("the disclosure does not open the entry's commitment")
    document = json.loads(document_bytes)
    events = derive(document, FactLookup(capture.facts), capture.context(), capture.entry_hash)
    hashes = [event.event_hash for event in events]
    if hashes != list(logged):
        raise DerivationError(
            f"the document derives {len(hashes)} events; {len(logged)} cite the entry, "
            "and they differ", derived=[format_hash(h) for h in hashes],
        )  # fmt: skip
    return hashes
