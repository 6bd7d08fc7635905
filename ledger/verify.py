"""Full integrity audit of a ledger, trusting only pinned public keys.

The auditor streams the log in index order and re-derives everything an
insider could alter in the database:

* every leaf from its entry (event, certificate, revocation, licence, registry record or code batch)
  and every entry hash from the stored bytes; every denormalised column against the
  signed bytes;
* every device signature, against certificates that were *logged earlier*
  and chain to the pinned root, judged at the entry's log time;
* every receipt signature, item chain link and sequence number, and the
  item-head index against the chains;
* the Merkle tree: every stored node, every stored checkpoint (signature and
  root), consistency between successive checkpoints, and every item-head
  statement;
* with a trusted checkpoint from outside the database, truncation, rollback
  and forks.

It judges integrity only: an authentic event that breaks a rule is intact.
Keys come from the caller (keystore or flags), never from the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ledger.canonical import format_hash
from ledger.certificates import TrustStore, certificate_from_json
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.checkpoint import claimed_size as size_of_note
from ledger.codes import SignedCode
from ledger.commitments import Disclosure
from ledger.envelope import SignedEvent, open_envelope
from ledger.errors import LedgerError
from ledger.http_signature import content_digest
from ledger.leaf import LeafRecord, decode_leaf
from ledger.licences import licence_from_json
from ledger.merkle import Frontier, NodeId, consistency_proof, leaf_hash, verify_consistency
from ledger.note import NoteVerifier
from ledger.records import record_from_bytes
from ledger.registry import batch_entry_hash, check_batch
from ledger.revocations import revocation_from_json
from ledger.signed_capture import (
    SignedCapture,
    authority_of,
    capture_from_bytes,
    verify_capture,
    verify_derivation,
)
from ledger.statements import ItemHeadStatement, Receipt
from ledger.timefmt import parse_utc


@dataclass(frozen=True, slots=True)
class StoredLink:
    item_code: str
    seq: int
    role: str
    log_index: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_hash: bytes
    log_index: int
    envelope: bytes
    type: str
    org: str
    site: str | None
    event_time: str
    log_time: str
    receipt_signature: bytes
    links: tuple[StoredLink, ...]


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    cert_hash: bytes
    log_index: int
    key_id: str
    role: str
    org: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredRevocation:
    revocation_hash: bytes
    log_index: int
    key_id: str
    org: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredLicence:
    licence_hash: bytes
    log_index: int
    licence_no: str
    org: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredRecord:
    record_hash: bytes
    log_index: int
    kind: str
    record_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredSignedCapture:
    capture_hash: bytes
    log_index: int
    key_id: str
    org: str
    nonce: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredCode:
    code: str
    batch_index: int
    org: str
    form: str
    record: bytes


@dataclass(frozen=True, slots=True)
class StoredEntry:
    index: int
    kind: str
    entry_hash: bytes
    log_time: str
    leaf_input: bytes
    event: StoredEvent | None
    certificate: StoredCertificate | None
    revocation: StoredRevocation | None = None
    codes: tuple[StoredCode, ...] = ()
    licence: StoredLicence | None = None
    record: StoredRecord | None = None
    capture: StoredSignedCapture | None = None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str


@dataclass(frozen=True, slots=True)
class StoredHeadStatement:
    item_code: str
    checkpoint_size: int
    seq: int
    head_hash: bytes
    signature: bytes


class AuditSource(Protocol):
    """Read-only, streaming access to everything the auditor checks."""

    def state(self) -> tuple[str, int, int]:
        """``(origin, size, checkpoint_size)`` as the database claims them."""
        ...

    def entries(self) -> Iterator[StoredEntry]:
        """Log entries in index order, each joined with its event or certificate."""
        ...

    def unlogged(self) -> Iterator[tuple[str, int, bytes | None, str | None]]:
        """Rows no log entry accounts for: ``(table, claimed log index, row hash, item code)``."""
        ...

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """Stored Merkle nodes by id."""
        ...

    def node_count(self) -> int:
        """How many Merkle nodes are stored."""
        ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Stored checkpoints, smallest first."""
        ...

    def head_statements(self) -> Iterator[StoredHeadStatement]:
        """Item-head statements ordered by checkpoint size."""
        ...

    def item_heads(self) -> Iterator[tuple[str, int, bytes, int]]:
        """The item table: ``(code, head_seq, head_hash, head_index)``."""
        ...

    def disclosure(self, commitment: str) -> Disclosure | None:
        """The erasable plaintext behind a commitment (a signed document), unless erased; as
        stored, whether or not it opens the commitment (the auditor checks)."""
        ...


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """The public keys an auditor pins, from outside the audited database.

    ``retired_logs`` are earlier log keys, each with the last tree size it signed for: after
    a rotation, entries and checkpoints up to that size may carry its signature instead of
    the current key's, and nothing beyond it may.
    """

    log: NoteVerifier
    root_algorithm: str
    root_public_key: bytes
    log_algorithm: str = "ed25519"
    retired_logs: tuple[tuple[NoteVerifier, int], ...] = ()

    def log_keys_at(self, size: int) -> list[NoteVerifier]:
        """The log keys that may have signed for tree size ``size`` (the current key first)."""
        return [self.log, *(key for key, last in self.retired_logs if size <= last)]

    def verify_log_signed(self, size: int, verify: Callable[[str, bytes], None]) -> None:
        """Run ``verify(algorithm, public key)`` with each log key valid at ``size``.

        Raises:
            LedgerError: no key valid at ``size`` verifies (the current key's error).
        """
        first: LedgerError | None = None
        for key in self.log_keys_at(size):
            try:
                verify(self.log_algorithm, key.public_key)
                return
            except LedgerError as exc:
                first = first or exc
        assert first is not None
        raise first


@dataclass(frozen=True, slots=True)
class Fault:
    """One integrity failure and the entry, event or item at fault."""

    code: str
    message: str
    index: int | None = None
    event: str | None = None
    item: str | None = None

    def to_json(self) -> dict[str, object]:
        """The fault as report JSON (absent fields omitted)."""
        fields = {
            "code": self.code,
            "message": self.message,
            "index": self.index,
            "event": self.event,
            "item": self.item,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(slots=True)
class AuditReport:
    """The outcome of an audit."""

    faults: list[Fault] = field(default_factory=list)
    entries: int = 0
    events: int = 0
    certificates: int = 0
    revocations: int = 0
    code_batches: int = 0
    licences: int = 0
    records: int = 0
    signed_captures: int = 0
    rederived: int = 0
    """Signed captures whose disclosed document re-derived exactly their logged events."""
    items: int = 0
    checkpoints: int = 0
    head_statements: int = 0
    root_hash: bytes = b""
    witnessed_size: int | None = None
    """With a witness policy: the largest stored checkpoint that meets its quorum."""

    @property
    def intact(self) -> bool:
        """True when no fault was found."""
        return not self.faults

    def to_json(self) -> dict[str, object]:
        """The report as JSON for ``verify-log --json``."""
        return {
            "intact": self.intact,
            "entries": self.entries,
            "events": self.events,
            "certificates": self.certificates,
            "revocations": self.revocations,
            "code_batches": self.code_batches,
            "licences": self.licences,
            "records": self.records,
            "signed_captures": self.signed_captures,
            "rederived": self.rederived,
            "items": self.items,
            "checkpoints": self.checkpoints,
            "head_statements": self.head_statements,
            "root_hash": format_hash(self.root_hash) if self.root_hash else None,
            "witnessed_size": self.witnessed_size,
            "faults": [fault.to_json() for fault in self.faults],
        }


@dataclass(slots=True)
class _ChainTip:
    seq: int
    head_hash: bytes
    index: int


class _Auditor:
    def __init__(self, source: AuditSource, keys: TrustedKeys, origin: str) -> None:
        self.source = source
        self.keys = keys
        self.origin = origin
        self.report = AuditReport()
        self.trust = TrustStore(keys.root_algorithm, keys.root_public_key)
        self.chains: dict[str, _ChainTip] = {}
        self.frontier = Frontier.empty()
        self.roots: dict[int, bytes] = {0: Frontier.empty().root()}
        self.nodes_expected = 0
        self.touched: set[str] = set()
        """Items whose chain moved since the previous stored checkpoint."""
        self.captures: dict[bytes, tuple[int, SignedCapture]] = {}
        """Signed captures whose request signature verified, by entry hash."""
        self.derived: dict[bytes, list[bytes]] = {}
        """The hashes of the events citing each signed capture, in log order."""

    def fault(self, code: str, message: str, **where: object) -> None:
        self.report.faults.append(Fault(code, message, **where))  # type: ignore[arg-type]

    # -- entries ---------------------------------------------------------------------------

    def entry(self, entry: StoredEntry, expected_index: int) -> list[tuple[NodeId, bytes]]:
        if entry.index != expected_index:
            self.fault(
                "log_gap",
                f"expected entry {expected_index}, found {entry.index}",
                index=entry.index,
            )
        try:
            leaf = decode_leaf(entry.leaf_input)
        except LedgerError as exc:
            self.fault("leaf_malformed", exc.message, index=entry.index)
            leaf = LeafRecord("event", entry.entry_hash, entry.log_time)
        if (leaf.kind, leaf.entry_hash, leaf.log_time) != (
            entry.kind,
            entry.entry_hash,
            entry.log_time,
        ):
            self.fault(
                "leaf_mismatch", "leaf input disagrees with the entry's columns", index=entry.index
            )
        if leaf.kind == "event":
            self.event_entry(entry, leaf)
        elif leaf.kind == "certificate":
            self.certificate_entry(entry, leaf)
        elif leaf.kind == "revocation":
            self.revocation_entry(entry, leaf)
        elif leaf.kind == "licence":
            self.licence_entry(entry, leaf)
        elif leaf.kind == "record":
            self.record_entry(entry, leaf)
        elif leaf.kind == "signed_capture":
            self.signed_capture_entry(entry, leaf)
        else:
            self.code_batch_entry(entry, leaf)
        appended = self.frontier.append(leaf_hash(entry.leaf_input))
        self.nodes_expected += len(appended)
        return appended

    def event_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        stored = entry.event
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        if stored is None:
            self.fault("event_missing", "the log commits to an event that is not stored", **where)
            return
        self.report.events += 1
        try:
            raw = json.loads(stored.envelope)
            event = open_envelope(raw)
        except (LedgerError, ValueError) as exc:
            self.fault("event_malformed", f"stored event does not parse: {exc}", **where)
            return
        if event.event_hash != leaf.entry_hash or stored.event_hash != leaf.entry_hash:
            self.fault(
                "event_hash_mismatch",
                "stored event does not hash to what the log committed",
                **where,
            )
            return
        if event.canonical != stored.envelope:
            self.fault("event_not_canonical", "stored envelope bytes are not canonical", **where)
        self.event_columns(stored, event, leaf, where)
        self.event_signature(event, leaf, where)
        self.receipt(stored, leaf, entry, where)
        self.chain(stored, event, entry.index, where)

    def event_columns(
        self, stored: StoredEvent, event: SignedEvent, leaf: LeafRecord, where: dict[str, object]
    ) -> None:
        body = event.body
        claimed = (
            stored.type,
            stored.org,
            stored.site,
            stored.event_time,
            stored.log_time,
            stored.log_index,
        )
        actual = (body.type, body.org, body.site, body.time, leaf.log_time, where["index"])
        if claimed != actual:
            self.fault(
                "event_column_mismatch", "an event column disagrees with the signed event", **where
            )
        links = tuple(
            StoredLink(link.code, link.seq, link.role, stored.log_index) for link in body.items
        )
        if tuple(sorted(stored.links, key=_link_key)) != tuple(sorted(links, key=_link_key)):
            self.fault(
                "event_item_mismatch", "chain index rows disagree with the signed event", **where
            )

    def event_signature(
        self, event: SignedEvent, leaf: LeafRecord, where: dict[str, object]
    ) -> None:
        try:
            cert = self.trust.device_certificate(
                event.key_id, event.body.org, parse_utc(leaf.log_time)
            )
            authority = authority_of(event)
            if authority is None:
                event.verify(cert.public_key)
                return
        except LedgerError as exc:
            self.fault(f"event_{exc.code}", exc.diagnostics(), **where)
            return
        # A derived event is the signer's through the capture it cites: that request, logged
        # earlier, verified under the same device key, and (where the document is disclosed)
        # re-derives exactly this event (checked at the end).
        found = self.captures.get(authority)
        if found is None:
            self.fault(
                "event_capture_missing",
                "a derived event cites no earlier verified signed capture",
                **where,
            )
            return
        capture = found[1]
        if (capture.key_id, capture.org) != (event.key_id, event.body.org):
            self.fault(
                "event_capture_mismatch",
                "a derived event names another signer than its signed capture",
                **where,
            )
            return
        self.derived.setdefault(authority, []).append(event.event_hash)

    def signed_capture_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        stored = entry.capture
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        self.report.signed_captures += 1
        if stored is None:
            self.fault(
                "capture_missing", "the log commits to a signed capture that is not stored", **where
            )
            return
        try:
            capture = capture_from_bytes(stored.body)
        except LedgerError as exc:
            self.fault("capture_malformed", f"stored signed capture does not parse: {exc}", **where)
            return
        if capture.entry_hash != leaf.entry_hash or stored.capture_hash != leaf.entry_hash:
            self.fault(
                "capture_hash_mismatch", "stored signed capture does not match the log", **where
            )
            return
        columns = (stored.key_id, stored.org, stored.nonce, stored.log_index)
        if columns != (capture.key_id, capture.org, capture.nonce, entry.index):
            self.fault(
                "capture_column_mismatch", "a signed capture column disagrees with it", **where
            )
        try:
            cert = self.trust.device_certificate(
                capture.key_id, capture.org, parse_utc(leaf.log_time)
            )
            verify_capture(capture, cert.public_key)
        except LedgerError as exc:
            self.fault(f"capture_{exc.code}", exc.diagnostics(), **where)
            return
        self.captures[leaf.entry_hash] = (entry.index, capture)

    def rederive(self, documents: Sequence[bytes]) -> None:
        """Re-derive each signed capture whose document is still disclosed, or was handed to
        the auditor (``documents``, matched by their ``Content-Digest``)."""
        supplied = {content_digest(document): document for document in documents}
        matched: set[str] = set()
        for entry_hash, (index, capture) in self.captures.items():
            where = {"index": index, "event": format_hash(entry_hash)}
            try:
                digest = capture.component("content-digest")
                if digest in supplied:
                    matched.add(digest)
                    document, disclosure = supplied[digest], None
                else:
                    disclosure = self.source.disclosure(capture.document)
                    if disclosure is None:
                        continue  # erased: the signature binds the digest; not re-derivable
                    document = disclosure.value.encode()
                verify_derivation(capture, document, disclosure, self.derived.get(entry_hash, []))
            except LedgerError as exc:
                self.fault(f"capture_{exc.code}", exc.diagnostics(), **where)
                continue
            self.report.rederived += 1
        for digest in sorted(set(supplied) - matched):
            self.fault("document_unmatched",
                       f"no verified signed capture signs the document with {digest}")  # fmt: skip

    def receipt(
        self, stored: StoredEvent, leaf: LeafRecord, entry: StoredEntry, where: dict[str, object]
    ) -> None:
        receipt = Receipt(
            origin=self.origin,
            entry_hash=leaf.entry_hash,
            leaf_hash=leaf_hash(entry.leaf_input),
            index=entry.index,
            log_time=leaf.log_time,
            signature=stored.receipt_signature,
        )
        try:
            self.keys.verify_log_signed(entry.index + 1, receipt.verify)
        except LedgerError:
            self.fault(
                "receipt_signature_invalid",
                "the stored receipt was not signed by the log key",
                **where,
            )

    def chain(
        self, stored: StoredEvent, event: SignedEvent, index: int, where: dict[str, object]
    ) -> None:
        for link in event.body.items:
            tip = self.chains.get(link.code)
            expected_seq = 0 if tip is None else tip.seq + 1
            expected_prev = None if tip is None else format_hash(tip.head_hash)
            if (link.seq, link.prev) != (expected_seq, expected_prev):
                self.fault(
                    "chain_broken",
                    f"item {link.code}: expected seq {expected_seq} after {expected_prev}, "
                    f"found seq {link.seq} after {link.prev}",
                    item=link.code,
                    **where,
                )
            self.chains[link.code] = _ChainTip(link.seq, stored.event_hash, index)
            self.touched.add(link.code)

    def certificate_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        stored = entry.certificate
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        if stored is None:
            self.fault(
                "certificate_missing",
                "the log commits to a certificate that is not stored",
                **where,
            )
            return
        self.report.certificates += 1
        try:
            cert = certificate_from_json(json.loads(stored.body))
        except (LedgerError, ValueError) as exc:
            self.fault(
                "certificate_malformed", f"stored certificate does not parse: {exc}", **where
            )
            return
        if cert.entry_hash != leaf.entry_hash or stored.cert_hash != leaf.entry_hash:
            self.fault(
                "certificate_hash_mismatch", "stored certificate does not match the log", **where
            )
            return
        if (stored.key_id, stored.role, stored.org, stored.log_index) != (
            cert.key_id,
            cert.role,
            cert.org,
            entry.index,
        ):
            self.fault(
                "certificate_column_mismatch", "a certificate column disagrees with it", **where
            )
        try:
            self.trust.add(cert)
        except LedgerError as exc:
            self.fault("certificate_invalid", exc.diagnostics(), **where)

    def revocation_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        stored = entry.revocation
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        if stored is None:
            self.fault(
                "revocation_missing", "the log commits to a revocation that is not stored", **where
            )
            return
        self.report.revocations += 1
        try:
            revocation = revocation_from_json(json.loads(stored.body))
        except (LedgerError, ValueError) as exc:
            self.fault("revocation_malformed", f"stored revocation does not parse: {exc}", **where)
            return
        if revocation.entry_hash != leaf.entry_hash or stored.revocation_hash != leaf.entry_hash:
            self.fault(
                "revocation_hash_mismatch", "stored revocation does not match the log", **where
            )
            return
        if (stored.key_id, stored.org, stored.log_index) != (
            revocation.key_id, revocation.org, entry.index,
        ):  # fmt: skip
            self.fault(
                "revocation_column_mismatch", "a revocation column disagrees with it", **where
            )
        try:
            self.trust.add_revocation(revocation)
        except LedgerError as exc:
            self.fault("revocation_invalid", exc.diagnostics(), **where)

    def licence_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        stored = entry.licence
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        self.report.licences += 1
        if stored is None:
            self.fault(
                "licence_missing", "the log commits to a licence that is not stored", **where
            )
            return
        try:
            licence = licence_from_json(json.loads(stored.body))
        except (LedgerError, ValueError) as exc:
            self.fault("licence_malformed", f"stored licence does not parse: {exc}", **where)
            return
        if licence.entry_hash != leaf.entry_hash or stored.licence_hash != leaf.entry_hash:
            self.fault("licence_hash_mismatch", "stored licence does not match the log", **where)
            return
        columns = (stored.licence_no, stored.org, stored.log_index)
        if columns != (licence.licence_no, licence.org, entry.index):
            self.fault("licence_column_mismatch", "a licence column disagrees with it", **where)
        try:
            licence.verify(self.keys.root_algorithm, self.keys.root_public_key)
        except LedgerError:
            self.fault(
                "licence_signature_invalid", "the registry did not sign this licence", **where
            )

    def record_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        stored = entry.record
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        self.report.records += 1
        if stored is None:
            self.fault("record_missing", "the log commits to a record that is not stored", **where)
            return
        try:
            record = record_from_bytes(stored.body)
        except LedgerError as exc:
            self.fault("record_malformed", f"stored record does not parse: {exc}", **where)
            return
        if record.entry_hash != leaf.entry_hash or stored.record_hash != leaf.entry_hash:
            self.fault("record_hash_mismatch", "stored record does not match the log", **where)
            return
        if (stored.kind, stored.record_id, stored.log_index) != (
            record.kind, record.record_id, entry.index
        ):  # fmt: skip
            self.fault("record_column_mismatch", "a record column disagrees with it", **where)
        try:
            record.verify(self.keys.root_algorithm, self.keys.root_public_key)
        except LedgerError:
            self.fault("record_signature_invalid", "the registry did not sign this record", **where)

    def code_batch_entry(self, entry: StoredEntry, leaf: LeafRecord) -> None:
        where = {"index": entry.index, "event": format_hash(leaf.entry_hash)}
        self.report.code_batches += 1
        if not entry.codes:
            self.fault(
                "code_batch_missing", "the log commits to codes that are not stored", **where
            )
            return
        try:
            codes = [SignedCode.from_json(json.loads(row.record)) for row in entry.codes]
        except (LedgerError, ValueError) as exc:
            self.fault("code_malformed", f"a stored code record does not parse: {exc}", **where)
            return
        if batch_entry_hash(codes) != leaf.entry_hash:
            self.fault("code_batch_mismatch", "stored codes do not match the logged batch", **where)
            return
        for row, signed in zip(entry.codes, codes, strict=True):
            if (row.code, row.org, row.form) != (signed.code, signed.facts.org, signed.facts.form):
                self.fault(
                    "code_column_mismatch",
                    f"code {row.code}: a column disagrees",
                    item=row.code,
                    **where,
                )
        try:
            check_batch(
                codes,
                root_algorithm=self.keys.root_algorithm,
                root_public_key=self.keys.root_public_key,
            )
        except LedgerError as exc:
            self.fault("code_batch_invalid", exc.diagnostics(), **where)

    # -- tree, checkpoints, statements ----------------------------------------------------

    def stored_nodes_match(self, appended: list[tuple[NodeId, bytes]]) -> None:
        stored = self.source.get_nodes([node for node, _ in appended])
        for node, digest in appended:
            if stored.get(node) != digest:
                self.fault(
                    "node_mismatch",
                    f"stored Merkle node {node} is wrong or missing",
                    index=node[1] << node[0],
                )

    def checkpoint(self, stored: StoredCheckpoint, previous: StoredCheckpoint | None) -> None:
        self.report.checkpoints += 1
        where = {"index": stored.size}
        try:
            opened = open_checkpoint(
                stored.note, self.keys.log_keys_at(stored.size), expected_origin=self.origin
            )
        except LedgerError as exc:
            self.fault("checkpoint_signature_invalid", exc.diagnostics(), **where)
            return
        rebuilt = self.roots.get(stored.size)
        if (opened.size, opened.root_hash) != (stored.size, stored.root_hash):
            self.fault(
                "checkpoint_column_mismatch",
                "checkpoint row disagrees with its signed note",
                **where,
            )
        if rebuilt is None:
            self.fault(
                "checkpoint_beyond_log",
                f"checkpoint of size {opened.size} exceeds the log",
                **where,
            )
        elif rebuilt != opened.root_hash:
            self.fault(
                "checkpoint_root_mismatch",
                "the rebuilt tree does not match the signed root",
                **where,
            )
        if previous is not None and previous.size > 0 and rebuilt is not None:
            self.consistency(previous, opened)

    def consistency(self, previous: StoredCheckpoint, current: Checkpoint) -> None:
        try:
            proof = consistency_proof(self.source, previous.size, current.size)
            verify_consistency(
                previous.size, current.size, proof, previous.root_hash, current.root_hash
            )
        except LedgerError as exc:
            self.fault("checkpoint_inconsistent", exc.diagnostics(), index=current.size)

    def head_statement(self, stored: StoredHeadStatement, root: bytes | None) -> None:
        self.report.head_statements += 1
        where = {"index": stored.checkpoint_size, "item": stored.item_code}
        statement = ItemHeadStatement(
            self.origin,
            stored.checkpoint_size,
            root or b"",
            stored.item_code,
            stored.seq,
            stored.head_hash,
            stored.signature,
        )
        try:
            self.keys.verify_log_signed(stored.checkpoint_size, statement.verify)
        except LedgerError:
            self.fault(
                "head_statement_invalid", "item-head statement is not signed by the log", **where
            )
        tip = self.chains.get(stored.item_code)
        if tip is None or (tip.seq, tip.head_hash) != (stored.seq, stored.head_hash):
            self.fault(
                "head_statement_mismatch", "item-head statement disagrees with the chain", **where
            )


def audit(
    source: AuditSource,
    keys: TrustedKeys,
    *,
    trusted_checkpoint: str | None = None,
    documents: Sequence[bytes] = (),
) -> AuditReport:
    """Audit the whole ledger behind ``source`` and return a report naming each fault.

    ``documents``: signed-capture documents disclosed to the auditor outside the database;
    each must re-derive exactly the events of the capture that signed it."""
    claimed_origin, claimed_size, claimed_checkpoint = source.state()
    origin = keys.log.name  # the pinned log key names the log; the database only claims it
    auditor = _Auditor(source, keys, origin)
    if claimed_origin != origin:
        auditor.fault(
            "origin_mismatch", f"the database claims log {claimed_origin!r}, not {origin!r}"
        )
    checkpoints = source.checkpoints()
    wanted_roots = {cp.size for cp in checkpoints}
    trusted = _open_trusted(trusted_checkpoint, keys, origin, auditor)
    if trusted is not None:
        wanted_roots.add(trusted.size)
    statements = _grouped(source.head_statements())
    next_statement = next(statements, None)
    pending_nodes: list[tuple[NodeId, bytes]] = []
    roots_by_size = {cp.size: cp.root_hash for cp in checkpoints}
    for position, entry in enumerate(source.entries()):
        pending_nodes.extend(auditor.entry(entry, position))
        auditor.report.entries += 1
        index = position + 1
        if len(pending_nodes) >= 4096:
            auditor.stored_nodes_match(pending_nodes)
            pending_nodes = []
        if index in wanted_roots:
            auditor.roots[index] = auditor.frontier.root()
        stated: set[str] = set()
        while next_statement is not None and next_statement[0] == index:
            for stored in next_statement[1]:
                auditor.head_statement(stored, roots_by_size.get(index))
                stated.add(stored.item_code)
            next_statement = next(statements, None)
        if index in roots_by_size:
            for code in sorted(auditor.touched - stated):
                auditor.fault(
                    "head_statement_missing",
                    "the item moved before this checkpoint but its head statement is missing",
                    index=index,
                    item=code,
                )
            auditor.touched = set()
    auditor.stored_nodes_match(pending_nodes)
    auditor.rederive(documents)
    _finish(
        auditor,
        source,
        checkpoints,
        trusted,
        claimed_size,
        claimed_checkpoint,
        next_statement,
        statements,
    )
    return auditor.report


def _finish(
    auditor: _Auditor,
    source: AuditSource,
    checkpoints: list[StoredCheckpoint],
    trusted: Checkpoint | None,
    claimed_size: int,
    claimed_checkpoint: int,
    next_statement: tuple[int, list[StoredHeadStatement]] | None,
    statements: Iterator[tuple[int, list[StoredHeadStatement]]],
) -> None:
    report = auditor.report
    size = auditor.frontier.size
    report.root_hash = auditor.frontier.root()
    if claimed_size != size:
        auditor.fault("log_size_mismatch", f"log state claims {claimed_size} entries, found {size}")
    if source.node_count() != auditor.nodes_expected:
        auditor.fault(
            "node_count_mismatch",
            f"expected {auditor.nodes_expected} Merkle nodes, found {source.node_count()}",
        )
    previous: StoredCheckpoint | None = None
    for stored in checkpoints:
        auditor.checkpoint(stored, previous)
        previous = stored
    if checkpoints and checkpoints[-1].size != claimed_checkpoint:
        auditor.fault(
            "checkpoint_state_mismatch", "log state names a checkpoint that is not stored"
        )
    while next_statement is not None:
        for orphan in next_statement[1]:
            auditor.fault(
                "head_statement_orphan", "item-head statement beyond the log", item=orphan.item_code
            )
        next_statement = next(statements, None)
    if trusted is not None:
        _check_trusted(auditor, trusted)
        newest = checkpoints[-1].size if checkpoints else -1
        if trusted.size > max(newest, claimed_checkpoint):
            auditor.fault(
                "checkpoint_rolled_back",
                f"the trusted checkpoint covers {trusted.size} entries, "
                f"but the newest stored checkpoint covers only {max(newest, 0)}",
                index=trusted.size,
            )
    for table, index, digest, code in source.unlogged():
        auditor.fault(
            f"unlogged_{table}",
            f"a {table} row is not accounted for by the log entry it claims",
            index=index,
            event=None if digest is None else format_hash(digest),
            item=code,
        )
    for code, seq, head_hash, head_index in source.item_heads():
        report.items += 1
        tip = auditor.chains.pop(code, None)
        if tip is None or (tip.seq, tip.head_hash, tip.index) != (seq, head_hash, head_index):
            auditor.fault(
                "item_head_mismatch", "stored chain head disagrees with the chain", item=code
            )
    for code in auditor.chains:
        auditor.fault("item_head_missing", "an item with events has no stored head", item=code)


def _check_trusted(auditor: _Auditor, trusted: Checkpoint) -> None:
    rebuilt = auditor.roots.get(trusted.size)
    if rebuilt is None:
        auditor.fault(
            "log_truncated",
            f"the trusted checkpoint has {trusted.size} entries, "
            f"but the log has only {auditor.frontier.size}",
            index=trusted.size,
        )
    elif rebuilt != trusted.root_hash:
        auditor.fault(
            "log_forked", "the log disagrees with the trusted checkpoint", index=trusted.size
        )


def _open_trusted(
    note: str | None, keys: TrustedKeys, origin: str, auditor: _Auditor
) -> Checkpoint | None:
    if note is None:
        return None
    try:
        return open_checkpoint(note, keys.log_keys_at(size_of_note(note)), expected_origin=origin)
    except LedgerError as exc:
        auditor.fault("trusted_checkpoint_invalid", exc.diagnostics())
        return None


def _grouped(
    statements: Iterable[StoredHeadStatement],
) -> Iterator[tuple[int, list[StoredHeadStatement]]]:
    group: list[StoredHeadStatement] = []
    for statement in statements:
        if group and group[0].checkpoint_size != statement.checkpoint_size:
            yield group[0].checkpoint_size, group
            group = []
        group.append(statement)
    if group:
        yield group[0].checkpoint_size, group


def _link_key(link: StoredLink) -> tuple[str, int]:
    return link.item_code, link.seq
