"""Checks on a bundle's log entries: events, certificates and revocations.

Each entry's hash is re-derived from its body and its leaf is proven against the
checkpoint; then, walking the entries in log order, certificates and revocations
build the trust store that judges each event's device signature at its log time.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ledger.bundle.report import BundleReport, item_noun
from ledger.bundle.wire import WireBundle, WireEntry, WireItem
from ledger.canonical import CERTIFICATE, canonical_bytes, domain_hash
from ledger.certificates import Certificate, TrustStore, certificate_from_json
from ledger.checkpoint import Checkpoint
from ledger.codes import CodeFacts
from ledger.envelope import SignedEvent, open_envelope
from ledger.errors import (
    KeyNotValidAtLogTimeError,
    KeyRevokedError,
    LedgerError,
    ProofError,
    SignatureInvalidError,
    UnknownKeyError,
)
from ledger.leaf import EntryKind, LeafRecord
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.revocations import Revocation, revocation_from_json
from ledger.signed_capture import SignedCapture, authority_of, capture_from_bytes, verify_capture
from ledger.timefmt import parse_utc


@dataclass(slots=True)
class CheckedEvent:
    """One bundled event and what the checks learned about it."""

    entry: WireEntry
    signed: SignedEvent | None = None
    links: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    intact: bool = False
    """Parsed, hashing to what the log committed, and included in the checkpoint."""


@dataclass(slots=True)
class CheckedRecord:
    """One bundled certificate or revocation and what the checks learned about it."""

    kind: EntryKind
    entry: WireEntry
    parsed: Certificate | Revocation | None = None
    intact: bool = False


_ALTERED: Final = "its bytes do not match the hash the log committed to"


class EntryChecks:
    """The entry checks, sharing what they learn with the item checks."""

    def __init__(
        self,
        wire: WireBundle,
        checkpoint: Checkpoint,
        report: BundleReport,
        trust: TrustStore,
        log_keys: tuple[bytes, ...],
        focus: str | None = None,
    ) -> None:
        self.wire = wire
        self.focus = focus
        self.log_keys = log_keys
        """The log keys trusted for this bundle's head statements (several during a rotation)."""
        self.checkpoint = checkpoint
        self.report = report
        self.trust = trust
        self.codes = {item.code for item in wire.items}
        self.nouns = {item.code: item_noun(_packaging(item)) for item in wire.items}
        self.events = [CheckedEvent(entry) for entry in wire.events]
        self.by_index = {event.entry.index: event for event in self.events}
        self.records = [CheckedRecord("certificate", entry) for entry in wire.certificates]
        self.records += [CheckedRecord("revocation", entry) for entry in wire.revocations]
        self.rejected_keys: set[str] = set()
        self.captures: dict[bytes, tuple[WireEntry, SignedCapture]] = {}
        """Intact signed-capture entries, by entry hash."""

    def check_entries(self) -> None:
        """Layout, every entry's hash and inclusion, then signatures in log order."""
        self.layout()
        for event in self.events:
            self.open_event(event)
        for record in self.records:
            self.open_record(record)
        for entry in self.wire.captures:
            self.open_capture(entry)
        self.walk_trust()

    def open_capture(self, entry: WireEntry) -> None:
        where = f"the signed capture at log index {entry.index}"
        try:
            capture = capture_from_bytes(canonical_bytes(dict(entry.body)))
        except LedgerError as exc:
            self.report.fault("capture_malformed", f"{where} is malformed ({exc.message})",
                              index=entry.index)  # fmt: skip
            return
        if capture.entry_hash != entry.entry_hash:
            self.report.fault("capture_altered", f"{where} was altered ({_ALTERED})",
                              index=entry.index)  # fmt: skip
            return
        problem = self.included("signed_capture", entry)
        if problem is not None:
            self.report.fault("capture_not_in_log", f"{where} {problem}", index=entry.index)
            return
        self.captures[entry.entry_hash] = (entry, capture)

    def called(self, code: str) -> str:
        """How a message names an item: ``this cylinder`` (the focus) or ``cylinder CT-…``."""
        noun = self.nouns.get(code, "item")
        return f"this {noun}" if code == self.focus else f"{noun} {code}"

    def name(self, event: CheckedEvent) -> tuple[str, str | None, int | None]:
        """``("event 7 of cylinder X", X, 7)``, preferring the focus, then a bundled item."""
        bundled = [code for code in event.links if code in self.codes]
        candidates = sorted(bundled, key=lambda code: code != self.focus) or list(event.links)
        if not candidates:
            return f"the event at log index {event.entry.index}", None, None
        code = candidates[0]
        seq = event.links[code][0]
        return f"event {seq} of {self.called(code)}", code, seq

    def event_fault(self, event: CheckedEvent, code: str, predicate: str) -> None:
        """A fault about one event: ``predicate`` completes "event 7 of this cylinder …"."""
        name, item, seq = self.name(event)
        self.report.fault(code, f"{name} {predicate}", item=item, seq=seq, index=event.entry.index)

    # -- structure --------------------------------------------------------------------------------

    def layout(self) -> None:
        seen: set[int] = set()
        for entry in (*self.wire.certificates, *self.wire.revocations, *self.wire.events):
            if entry.index in seen:
                self.report.fault(
                    "entry_duplicated",
                    f"two entries in this bundle claim log index {entry.index} "
                    "(an event or certificate was duplicated)",
                    index=entry.index,
                )
            seen.add(entry.index)
        indices = [entry.index for entry in self.wire.events]
        for before, after in itertools.pairwise(indices):
            if after < before:
                self.report.fault(
                    "events_out_of_order",
                    f"the events are not in log order (log index {after} comes after {before}): "
                    "they were reordered",
                    index=after,
                )
                break
        codes = [item.code for item in self.wire.items]
        for code in sorted({code for code in codes if codes.count(code) > 1}):
            self.report.fault("item_duplicated", f"item {code} appears twice", item=code)
        if self.wire.subject_kind == "item" and codes != [self.wire.subject]:
            self.report.fault(
                "bundle_subject_mismatch",
                f"this bundle says it is about item {self.wire.subject}, but it holds {codes}",
            )

    # -- entries ----------------------------------------------------------------------------------

    def included(self, kind: EntryKind, entry: WireEntry) -> str | None:
        """Check the entry's leaf against the checkpoint; return what is wrong, if anything
        (a predicate: "… is not in the log at index 7 (…)")."""
        size = self.checkpoint.size
        if entry.index >= size:
            return (
                f"claims log index {entry.index}, beyond the bundle's checkpoint ({size} entries)"
            )
        try:
            leaf = LeafRecord(kind, entry.entry_hash, entry.log_time).encode()
            verify_inclusion(
                leaf_hash(leaf), entry.index, size, entry.inclusion, self.checkpoint.root_hash
            )
        except ProofError:
            return (
                f"is not in the log at index {entry.index} "
                "(its inclusion proof does not lead to the checkpoint)"
            )
        except LedgerError as exc:
            return f"has a malformed log entry ({exc.message})"
        return None

    def open_event(self, event: CheckedEvent) -> None:
        entry = event.entry
        try:
            signed = open_envelope(entry.body)
        except LedgerError as exc:
            self.event_fault(event, "event_malformed", f"is not a valid event ({exc.message})")
            return
        event.signed = signed
        event.links = {link.code: (link.seq, link.prev) for link in signed.body.items}
        if signed.event_hash != entry.entry_hash:
            self.event_fault(event, "event_altered", f"was altered ({_ALTERED})")
            return
        problem = self.included("event", entry)
        if problem is not None:
            self.event_fault(event, "event_not_in_log", problem)
            return
        event.intact = True

    def open_record(self, record: CheckedRecord) -> None:
        entry, kind = record.entry, record.kind
        where = f"the {kind} at log index {entry.index}"
        try:
            parsed: Certificate | Revocation
            if kind == "certificate":
                parsed = certificate_from_json(entry.body)
                digest = domain_hash(CERTIFICATE, parsed.to_json())
            else:
                parsed = revocation_from_json(entry.body)
                digest = parsed.entry_hash
        except LedgerError as exc:
            self.report.fault(
                f"{kind}_malformed", f"{where} is malformed ({exc.message})", index=entry.index
            )
            if kind == "certificate":
                self.rejected_keys.add(_claimed_key_id(entry.body))
            return
        record.parsed = parsed
        where = describe_record(parsed, entry.index)
        if digest != entry.entry_hash:
            self.report.fault(
                f"{kind}_altered",
                f"{where} was altered ({_ALTERED})",
                index=entry.index,
            )
            return
        problem = self.included(kind, entry)
        if problem is not None:
            self.report.fault(f"{kind}_not_in_log", f"{where} {problem}", index=entry.index)
            return
        record.intact = True

    # -- keys, in log order -----------------------------------------------------------------------

    def walk_trust(self) -> None:
        records = sorted(self.records, key=lambda record: record.entry.index)
        position = 0
        for event in sorted(self.events, key=lambda event: event.entry.index):
            while position < len(records) and records[position].entry.index < event.entry.index:
                self.apply(records[position])
                position += 1
            if event.intact:
                self.event_signature(event)
        for record in records[position:]:
            self.apply(record)

    def apply(self, record: CheckedRecord) -> None:
        parsed = record.parsed
        if parsed is None:
            return
        if not record.intact:
            if isinstance(parsed, Certificate):
                self.rejected_keys.add(parsed.key_id)
            return
        try:
            if isinstance(parsed, Certificate):
                self.trust.add(parsed)
            else:
                self.trust.add_revocation(parsed)
        except LedgerError as exc:
            where = describe_record(parsed, record.entry.index)
            if isinstance(parsed, Certificate):
                self.rejected_keys.add(parsed.key_id)
                message = "is not signed by a key that chains to the registry root"
            else:
                message = "is not signed by a key allowed to revoke that key"
            self.report.fault(
                f"{record.kind}_untrusted",
                f"{where} {message} ({exc.message})",
                index=record.entry.index,
            )

    def event_signature(self, event: CheckedEvent) -> None:
        signed = event.signed
        assert signed is not None
        log_time = event.entry.log_time
        try:
            cert = self.trust.device_certificate(
                signed.key_id, signed.body.org, parse_utc(log_time)
            )
            authority = authority_of(signed)
            if authority is not None:
                self.derived_signature(event, signed, authority)
                return
            signed.verify(cert.public_key)
        except UnknownKeyError:
            self.unknown_key(event, signed)
        except KeyRevokedError:
            self.event_fault(
                event,
                "event_key_revoked",
                "was signed with a revoked key: its device key (or its organisation's key) was "
                "revoked before the event was logged",
            )
        except KeyNotValidAtLogTimeError:
            self.event_fault(
                event,
                "event_key_not_valid",
                f"was signed with a key not certified for {signed.body.org} when the event was "
                f"logged ({log_time})",
            )
        except SignatureInvalidError:
            self.event_fault(
                event,
                "event_signature_invalid",
                "has a device signature that does not match (the event was altered or forged)",
            )
        except LedgerError as exc:
            self.event_fault(
                event,
                "event_signature_invalid",
                f"has a device signature that cannot be checked ({exc})",
            )

    def derived_signature(self, event: CheckedEvent, signed: SignedEvent, authority: bytes) -> None:
        """A derived event is the signer's through the earlier signed capture it cites.

        Raises:
            LedgerError: the key was not valid when the capture was logged, or the recorded
                request does not verify under it.
        """
        found = self.captures.get(authority)
        if found is None or found[0].index >= event.entry.index:
            missing = "cites a signed capture that is not in this bundle before it"
            self.event_fault(event, "event_capture_missing", missing)
            return
        entry, capture = found
        if (capture.key_id, capture.org) != (signed.key_id, signed.body.org):
            other = "names another signer than the signed capture it cites"
            self.event_fault(event, "event_capture_mismatch", other)
            return
        cert = self.trust.device_certificate(capture.key_id, capture.org, parse_utc(entry.log_time))
        verify_capture(capture, cert.public_key)

    def unknown_key(self, event: CheckedEvent, signed: SignedEvent) -> None:
        key = signed.key_id
        if key in self.rejected_keys:
            self.event_fault(
                event,
                "event_key_untrusted",
                f"is signed by device key {key}, whose certificate failed the checks above, "
                "so its signature cannot be trusted",
            )
            return
        later = [
            record.entry.index
            for record in self.records
            if isinstance(record.parsed, Certificate)
            and record.parsed.key_id == key
            and record.entry.index > event.entry.index
        ]
        if later:
            self.event_fault(
                event,
                "event_key_not_yet_certified",
                "is signed by a device key certified only after the event was logged "
                f"(certificate at log index {min(later)}, event at {event.entry.index})",
            )
            return
        self.event_fault(
            event,
            "event_key_unknown",
            f"is signed by device key {key}, which no certificate in this bundle vouches for "
            "(an uncertified key)",
        )


def describe_record(parsed: Certificate | Revocation, index: int) -> str:
    """Name a certificate or revocation for people: whose key, which org, where in the log."""
    if isinstance(parsed, Certificate):
        return (
            f"the {parsed.role} key certificate of {parsed.key_id} "
            f"({parsed.org}, log index {index})"
        )
    return f"the revocation of key {parsed.key_id} ({parsed.org}, log index {index})"


def _packaging(item: WireItem) -> str | None:
    """The packaging the item's label record states, for naming it; not a verified fact."""
    facts = item.label.get("facts") if item.label is not None else None
    try:
        return CodeFacts.from_json(facts).packaging
    except LedgerError:
        return None


def _claimed_key_id(body: object) -> str:
    """The key id a malformed certificate claims to certify, if it names one."""
    cert = body.get("cert") if isinstance(body, Mapping) else None
    subject = cert.get("subject") if isinstance(cert, Mapping) else None
    key_id = subject.get("key_id") if isinstance(subject, Mapping) else None
    return key_id if isinstance(key_id, str) else ""
