"""The SQL ledger store: atomic appends, checkpoints, proofs and audit reads.

One append transaction writes the event rows, the chain heads, the log leaves,
the new Merkle nodes and the outbox rows, or none of them. Locks are taken in
one global order: item rows sorted by code, then the single ``log_state`` row
that hands out gapless indices. On SQLite the whole transaction runs under
``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from ledger.append import AppendContext, AppendPlan, ItemHead, LogEntryRow, plan_append
from ledger.canonical import canonical_bytes
from ledger.certificates import Certificate, TrustStore, certificate_from_json
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.codes import DuplicateCodeError, SignedCode
from ledger.commitments import Disclosure, opens
from ledger.custody import DEFAULT_POLICY, WRITER_KINDS, Custody, CustodyPolicy, WriterKind
from ledger.custody import fold as fold_custody
from ledger.envelope import SignedEvent, open_envelope
from ledger.errors import CheckpointConflictError, LedgerError, StorageError
from ledger.events import EventBody
from ledger.http_signature import SignatureReplayedError
from ledger.leaf import EntryKind, LeafRecord
from ledger.licences import Licence, licence_from_json
from ledger.merkle import (
    Frontier,
    NodeId,
    consistency_proof,
    frontier_ids,
    inclusion_proof,
    leaf_hash,
    root_at,
)
from ledger.note import NoteVerifier, note_key_id, sign_note, split_note
from ledger.records import RegistryRecord, record_from_bytes
from ledger.registry import batch_entry_hash, check_batch
from ledger.revocations import Revocation, revocation_from_json
from ledger.signed_capture import SignedCapture, capture_from_bytes
from ledger.signing import Signer
from ledger.statements import ItemHeadStatement, Receipt
from ledger.store import schema as t
from ledger.store.bulk import insert_rows
from ledger.store.engine import IMMEDIATE, is_sqlite
from ledger.store.external_ids import GS1_SCHEME
from ledger.store.sites import index_site
from ledger.timefmt import format_utc, parse_utc

_IN_CHUNK = 500
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# The append path's reads, built once: building a select with an IN list per call cost
# more CPU than running it.
_ITEMS = select(t.item).where(t.item.c.code.in_(bindparam("codes", expanding=True)))
_ITEMS_LOCKED = _ITEMS.order_by(t.item.c.code).with_for_update()
_ISSUED = select(t.issued_code.c.code, t.issued_code.c.org).where(
    t.issued_code.c.code.in_(bindparam("codes", expanding=True))
)
_REVOCATIONS = (
    select(t.revocation.c.body)
    .where(t.revocation.c.key_id.in_(bindparam("keys", expanding=True)))
    .order_by(t.revocation.c.log_index)
)
_CERTIFICATES = select(t.certificate.c.body).order_by(t.certificate.c.log_index)
_CERTIFICATES_OF = _CERTIFICATES.where(
    t.certificate.c.key_id.in_(bindparam("keys", expanding=True))
)
_RECEIPTS = (
    select(t.event.c.event_hash, t.event.c.receipt_signature, t.log_entry)
    .join(t.log_entry, t.log_entry.c.idx == t.event.c.log_index)
    .where(t.event.c.event_hash.in_(bindparam("hashes", expanding=True)))
)


class SqlLedgerStore:
    """The ledger's storage, on SQLite or PostgreSQL."""

    def __init__(
        self,
        engine: Engine,
        *,
        origin: str,
        clock: Clock = utc_now,
        require_issued_codes: bool = True,
        custody_policy: CustodyPolicy = DEFAULT_POLICY,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.require_issued_codes = require_issued_codes
        self.custody_policy = custody_policy
        self._clock = clock
        self._sqlite = is_sqlite(str(engine.url))
        self._known_frontier: tuple[int, str, list[bytes]] | None = None

    # -- setup -------------------------------------------------------------------------------

    def initialize(self) -> None:
        """Create the log state row on first use; refuse a database of another origin.

        Raises:
            StorageError: the database belongs to a log with a different origin.
        """
        with self._write() as conn:
            row = conn.execute(select(t.log_state.c.origin).where(t.log_state.c.id == 1)).first()
            if row is None:
                conn.execute(
                    insert(t.log_state).values(
                        id=1,
                        origin=self.origin,
                        size=0,
                        checkpoint_size=0,
                        last_log_time=format_utc(datetime(1970, 1, 1, tzinfo=UTC)),
                    )
                )
            elif row.origin != self.origin:
                raise StorageError("database belongs to another log", origin=row.origin)

    # -- appends -----------------------------------------------------------------------------

    def append_events(
        self,
        events: Sequence[SignedEvent],
        *,
        trust: TrustStore,
        log_signer: Signer,
        atomic: bool = False,
    ) -> AppendPlan:
        """Append signature-checked events atomically; return the plan that was written.

        Each connected group of items is written whole or not at all; ``atomic``: the batch.

        Raises:
            StorageError: the transaction failed; nothing was written.
        """
        codes = sorted({link.code for e in events for link in e.body.items})
        with self._write() as conn:
            # the item rows are locked (PostgreSQL) by the same read that gives their heads
            heads, custody = self._heads_and_custody(conn, codes, lock=not self._sqlite)
            size, log_time, frontier = self._lock_log(conn)
            # Revocations logged before this transaction bind it; later ones cannot reach back.
            keys = {e.key_id for e in events}
            keys |= {c.issuer for key in keys for c in trust.certificates_for(key)}
            revocations = self._revocations(conn, sorted(keys))
            self._load_trust(
                conn, trust, sorted({r.issuer for r in revocations} - {trust.root_key_id})
            )
            for revocation in revocations:
                trust.add_revocation(revocation)
            context = AppendContext(
                origin=self.origin,
                log_time=log_time,
                next_index=size,
                frontier=frontier,
                heads=heads,
                existing=self._existing_receipts(conn, [e.event_hash for e in events]),
                trust=trust,
                issued=self._issued_to(conn, codes) if self.require_issued_codes else None,
                custody=custody,
                writer_kinds=self._writer_kinds(conn, events),
                policy=self.custody_policy,
            )
            plan = plan_append(events, context, log_signer, atomic=atomic)
            if plan.events:
                self._write_plan(conn, plan, log_time)
        if plan.events:  # committed: the frontier the next append starts from
            self._known_frontier = (plan.next_index, log_time, frontier.hashes())
        return plan

    def append_certificate(
        self, cert: Certificate, *, root: tuple[str, bytes], log_signer: Signer
    ) -> Receipt:
        """Check ``cert`` against the root and known org keys, then log it (resend: same receipt).

        Raises:
            UnknownKeyError, SignatureInvalidError: the certificate does not chain to the root.
        """

        def check_and_store(conn: Connection, index: int) -> None:
            trust = TrustStore(*root)
            self._load_org_certificates(conn, trust, [cert.issuer])
            trust.add(cert)
            conn.execute(insert(t.certificate).values(
                cert_hash=cert.entry_hash, log_index=index, key_id=cert.key_id, role=cert.role,
                org=cert.org, body=canonical_bytes(cert.to_json()),
            ))  # fmt: skip

        return self._append_record("certificate", cert.entry_hash, check_and_store, log_signer)

    def append_revocation(
        self, revocation: Revocation, *, root: tuple[str, bytes], log_signer: Signer
    ) -> Receipt:
        """Check who revokes and log the revocation (resend: same receipt).

        Raises:
            UnknownKeyError, SignatureInvalidError: the issuer may not revoke this key.
        """

        def check_and_store(conn: Connection, index: int) -> None:
            trust = TrustStore(*root)
            self._load_trust(conn, trust, [revocation.issuer, revocation.key_id])
            for earlier in self._revocations(conn, [revocation.issuer]):
                trust.add_revocation(earlier)
            trust.add_revocation(revocation)
            conn.execute(insert(t.revocation).values(
                revocation_hash=revocation.entry_hash, log_index=index, key_id=revocation.key_id,
                org=revocation.org, body=canonical_bytes(revocation.to_json()),
            ))  # fmt: skip

        return self._append_record("revocation", revocation.entry_hash, check_and_store, log_signer)

    def append_licence(
        self, licence: Licence, *, root: tuple[str, bytes], log_signer: Signer
    ) -> Receipt:
        """Log a registry-signed licence record (resend: same receipt).

        Raises:
            SignatureInvalidError: the registry root did not sign it.
        """
        licence.verify(*root)

        def store(conn: Connection, index: int) -> None:
            conn.execute(insert(t.licence).values(
                licence_hash=licence.entry_hash, log_index=index, licence_no=licence.licence_no,
                org=licence.org, body=canonical_bytes(licence.to_json()),
            ))  # fmt: skip

        return self._append_record("licence", licence.entry_hash, store, log_signer)

    def append_record(
        self, record: RegistryRecord, *, root: tuple[str, bytes], log_signer: Signer
    ) -> Receipt:
        """Log one registry-signed record version (resend: same receipt).

        Raises:
            SignatureInvalidError: the registry root did not sign it.
        """
        record.verify(*root)

        def store(conn: Connection, index: int) -> None:
            conn.execute(insert(t.registry_record).values(
                record_hash=record.entry_hash, log_index=index, kind=record.kind,
                record_id=record.record_id, body=record.encode(),
            ))  # fmt: skip
            if record.kind == "site":  # the spatial index moves with the record (0014)
                index_site(conn, record, index)

        return self._append_record("record", record.entry_hash, store, log_signer)

    def records(
        self, kind: str, record_ids: Sequence[str] | None = None
    ) -> dict[str, RegistryRecord]:
        """The newest version of each record of ``kind`` (or of ``record_ids`` only)."""
        bodies = self.record_bodies(kind, record_ids)
        return {record_id: record_from_bytes(body) for record_id, body in bodies.items()}

    def record_bodies(self, kind: str, record_ids: Sequence[str] | None = None) -> dict[str, bytes]:
        """:meth:`records` undecoded: the stored bytes of each newest version (a caller that
        asks often may keep what it decoded, by these bytes)."""
        rr = t.registry_record
        query = select(rr.c.record_id, rr.c.body).where(rr.c.kind == kind).order_by(rr.c.log_index)
        chunks = [None] if record_ids is None else [
            list(record_ids[start : start + _IN_CHUNK])
            for start in range(0, len(record_ids), _IN_CHUNK)
        ]  # fmt: skip
        found: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in chunks:
                chosen = query if chunk is None else query.where(rr.c.record_id.in_(chunk))
                found.update((row.record_id, bytes(row.body)) for row in conn.execute(chosen))
        return found

    def record_history(self, kind: str, record_id: str) -> list[tuple[int, RegistryRecord]]:
        """Every version of one record, oldest first, with its log index."""
        rr = t.registry_record
        query = (
            select(rr.c.log_index, rr.c.body)
            .where(rr.c.kind == kind, rr.c.record_id == record_id)
            .order_by(rr.c.log_index)
        )
        with self.engine.connect() as conn:
            return [(row.log_index, record_from_bytes(row.body)) for row in conn.execute(query)]

    def licences(self, org: str | None = None) -> list[Licence]:
        """The newest version of each licence (of ``org``, or all)."""
        query = select(t.licence.c.body).order_by(t.licence.c.log_index)
        if org is not None:
            query = query.where(t.licence.c.org == org)
        newest: dict[str, Licence] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found = licence_from_json(json.loads(row.body))
                newest[found.licence_no] = found
        return list(newest.values())

    def append_code_batch(
        self, codes: Sequence[SignedCode], *, root: tuple[str, bytes], log_signer: Signer
    ) -> Receipt:
        """Log a batch of registry-signed codes; a code is never issued twice.

        Raises:
            DuplicateCodeError: a code was issued before (in any batch).
            InvalidInputError: the batch is malformed.
            SignatureInvalidError: a code is not signed by the root.
        """
        check_batch(codes, root_algorithm=root[0], root_public_key=root[1])

        def store(conn: Connection, index: int) -> None:
            taken = set(self._issued_to(conn, [signed.code for signed in codes]))
            if taken:
                raise DuplicateCodeError("code already issued", codes=sorted(taken)[:5])
            keyed = {c.facts.gs1_key: c.code for c in codes if c.facts.gs1_key is not None}
            if used := self._gs1_codes(conn, list(keyed)):
                raise DuplicateCodeError("GS1 key already names an item", gs1_keys=sorted(used)[:5])
            insert_rows(conn, t.issued_code, [
                {"code": c.code, "batch_index": index, "org": c.facts.org, "form": c.facts.form,
                 "record": canonical_bytes(c.to_json())}
                for c in codes
            ])  # fmt: skip
            # scanners resolve a GS1 DataMatrix, Digital Link or RFID EPC to the code through this
            now = format_utc(datetime.now(UTC))
            insert_rows(conn, t.external_id, [
                {"scheme": GS1_SCHEME, "external_id": key, "code": code, "linked_at": now}
                for key, code in keyed.items()
            ])  # fmt: skip

        return self._append_record("code_batch", batch_entry_hash(codes), store, log_signer)

    def append_signed_capture(
        self, capture: SignedCapture, document: Disclosure, *, retain_until: str,
        log_signer: Signer,
    ) -> Receipt:  # fmt: skip
        """Log a verified signed capture, and keep its document in erasable storage.

        Raises:
            SignatureReplayedError: the key used this nonce before (nothing is written).
        """

        def store(conn: Connection, index: int) -> None:
            sc = t.signed_capture
            self._require_fresh_nonce(conn, capture.key_id, capture.nonce)
            conn.execute(insert(sc).values(
                capture_hash=capture.entry_hash, log_index=index, key_id=capture.key_id,
                org=capture.org, nonce=capture.nonce, body=capture.encode(),
            ))  # fmt: skip
            conn.execute(insert(t.personal_data).values(
                commitment=document.commitment, kind=document.kind, value=document.value,
                salt=document.salt, created_at=format_utc(self._clock()),
                retain_until=retain_until,
            ))  # fmt: skip

        try:
            return self._append_record("signed_capture", capture.entry_hash, store, log_signer)
        except StorageError as exc:  # the unique nonce: a replay raced this one
            if isinstance(exc.__cause__, IntegrityError):
                raise SignatureReplayedError(
                    "this key signed a request with this nonce before", nonce=capture.nonce
                ) from exc
            raise

    def require_fresh_nonce(self, key_id: str, nonce: str) -> None:
        """Raises SignatureReplayedError if ``key_id`` signed a logged capture with ``nonce``."""
        with self.engine.connect() as conn:
            self._require_fresh_nonce(conn, key_id, nonce)

    @staticmethod
    def _require_fresh_nonce(conn: Connection, key_id: str, nonce: str) -> None:
        sc = t.signed_capture
        used = select(sc.c.log_index).where(sc.c.key_id == key_id, sc.c.nonce == nonce)
        if conn.execute(used).first() is not None:
            raise SignatureReplayedError(
                "this key signed a request with this nonce before", nonce=nonce
            )

    def key_trust(self, key_id: str, root: tuple[str, bytes]) -> TrustStore:
        """A trust store holding ``key_id``'s logged certificates and revocations, and its
        organisation keys': enough for :meth:`TrustStore.device_certificate` on that key."""
        trust = TrustStore(*root)
        with self.engine.connect() as conn:
            self._load_trust(conn, trust, [key_id])
            issuers = sorted({c.issuer for c in trust.certificates_for(key_id)})
            for revocation in self._revocations(conn, [key_id, *issuers]):
                trust.add_revocation(revocation)
        return trust

    def signed_capture(self, entry_hash: bytes) -> tuple[int, SignedCapture] | None:
        """A logged signed capture and its log index."""
        sc = t.signed_capture
        query = select(sc.c.log_index, sc.c.body).where(sc.c.capture_hash == entry_hash)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.log_index, capture_from_bytes(row.body))

    def _append_record(
        self,
        kind: EntryKind,
        entry_hash: bytes,
        check_and_store: Callable[[Connection, int], None],
        log_signer: Signer,
    ) -> Receipt:
        """Append one registry record as a log entry, in one transaction."""
        with self._write() as conn:
            size, log_time, frontier = self._lock_log(conn)
            known = conn.execute(
                select(t.log_entry).where(t.log_entry.c.entry_hash == entry_hash)
            ).first()
            if known is not None:
                leaf = LeafRecord(kind, entry_hash, known.log_time)
                row = LogEntryRow(known.idx, leaf, known.leaf_input, leaf_hash(known.leaf_input))
                return self._sign_receipt(row, log_signer)
            entry = self._leaf_row(size, LeafRecord(kind, entry_hash, log_time))
            self._insert_entries(conn, [entry], frontier.append(entry.leaf_hash))
            check_and_store(conn, size)  # a failure rolls the entry back with it
            self._advance_log(conn, size + 1, log_time)
            return self._sign_receipt(entry, log_signer)

    def _load_trust(self, conn: Connection, trust: TrustStore, key_ids: Sequence[str]) -> None:
        """Add the certificates of ``key_ids`` and of the org keys that issued them."""
        certs = self._certificates(conn, key_ids)
        issuers = sorted({c.issuer for c in certs if c.role == "device"})
        self._load_org_certificates(conn, trust, issuers)
        for cert in sorted(certs, key=lambda c: c.role != "org"):  # org certificates first
            trust.add(cert)

    def _load_org_certificates(
        self, conn: Connection, trust: TrustStore, key_ids: Sequence[str]
    ) -> None:
        for cert in self._certificates(conn, key_ids):
            if cert.role == "org":
                trust.add(cert)

    @staticmethod
    def _gs1_codes(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(keys):
            query = select(t.external_id.c.external_id, t.external_id.c.code).where(
                t.external_id.c.scheme == GS1_SCHEME, t.external_id.c.external_id.in_(chunk)
            )
            found.update((row.external_id, row.code) for row in conn.execute(query))
        return found

    def _issued_to(self, conn: Connection, codes: Sequence[str]) -> dict[str, str]:
        issued: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(codes))):
            issued.update((row.code, row.org) for row in conn.execute(_ISSUED, {"codes": chunk}))
        return issued

    def _revocations(self, conn: Connection, key_ids: Sequence[str]) -> list[Revocation]:
        rows = conn.execute(_REVOCATIONS, {"keys": list(key_ids)}) if key_ids else ()
        return [revocation_from_json(json.loads(row.body)) for row in rows]

    def _write_plan(self, conn: Connection, plan: AppendPlan, log_time: str) -> None:
        self._insert_entries(conn, [row.entry for row in plan.events], plan.nodes)
        insert_rows(
            conn,
            t.event,
            [
                {
                    "event_hash": row.event.event_hash,
                    "log_index": row.entry.index,
                    "envelope": row.event.canonical,
                    "type": row.event.body.type,
                    "org": row.event.body.org,
                    "site": row.event.body.site,
                    "event_time": row.event.body.time,
                    "log_time": log_time,
                    "receipt_signature": row.receipt.signature,
                }
                for row in plan.events
            ],
        )
        insert_rows(
            conn,
            t.event_item,
            [
                {
                    "item_code": link.code,
                    "seq": link.seq,
                    "event_hash": row.event.event_hash,
                    "log_index": row.entry.index,
                    "role": link.role,
                }
                for row in plan.events
                for link in row.event.body.items
            ],
        )
        self._move_heads(conn, plan)
        self._advance_log(conn, plan.next_index, log_time)

    def _move_heads(self, conn: Connection, plan: AppendPlan) -> None:
        """One multi-row upsert: new items are inserted, moved heads updated in place."""
        rows = [
            {"code": h.code, "head_seq": h.seq, "head_hash": h.head_hash, "head_index": h.index,
             "custody": plan.custody[h.code].to_json() if h.code in plan.custody else None}
            for h in plan.heads.values()
        ]  # fmt: skip
        insert_rows(conn, t.item, rows, upsert_key="code")

    def _insert_entries(
        self,
        conn: Connection,
        entries: Sequence[LogEntryRow],
        nodes: Sequence[tuple[NodeId, bytes]],
    ) -> None:
        insert_rows(
            conn,
            t.log_entry,
            [
                {
                    "idx": e.index,
                    "kind": e.leaf.kind,
                    "entry_hash": e.leaf.entry_hash,
                    "log_time": e.leaf.log_time,
                    "leaf_input": e.leaf_input,
                }
                for e in entries
            ],
        )
        insert_rows(
            conn,
            t.log_node,
            [{"level": level, "idx": index, "hash": digest} for (level, index), digest in nodes],
        )
        insert_rows(
            conn,
            t.outbox,
            [
                {"log_index": e.index, "kind": e.leaf.kind, "entry_hash": e.leaf.entry_hash}
                for e in entries
            ],
        )

    def _advance_log(self, conn: Connection, size: int, log_time: str) -> None:
        conn.execute(
            update(t.log_state)
            .where(t.log_state.c.id == 1)
            .values(size=size, last_log_time=log_time)
        )

    # -- locking and reading inside a write ------------------------------------------------

    def _lock_log(self, conn: Connection) -> tuple[int, str, Frontier]:
        query = select(t.log_state).where(t.log_state.c.id == 1)
        if not self._sqlite:
            query = query.with_for_update()
        state = conn.execute(query).first()
        if state is None:
            raise StorageError("the log is not initialised")
        now = self._clock()
        log_time = max(parse_utc(state.last_log_time), now)
        return state.size, format_utc(log_time), self._frontier(conn, state)

    def _frontier(self, conn: Connection, state: Row[Any]) -> Frontier:
        """The log's frontier: the one this process's last append left, when the log state
        is still the one it committed (its size and last log time), else read from the nodes.
        Nodes are written once and never change, so only a foreign append can stale it, and
        that moves the size."""
        size = state.size
        known = self._known_frontier
        if known is not None and known[:2] == (size, state.last_log_time):
            return Frontier(size, known[2])
        ids = frontier_ids(size)
        found = _read_nodes(conn, ids)
        missing = [node for node in ids if node not in found]
        if missing:
            raise StorageError("Merkle frontier nodes are missing", nodes=missing[:4])
        return Frontier.from_nodes(size, [found[node] for node in ids])

    def _heads_and_custody(
        self, conn: Connection, codes: Sequence[str], *, lock: bool
    ) -> tuple[dict[str, ItemHead], dict[str, Custody]]:
        """The chain head and custody of each item that has a chain, from one read of its
        row (locking it, in code order, when ``lock``); a row from before custody was kept
        is folded from the item's events (and stored by this append)."""
        heads, custody = self._heads(conn, codes, lock=lock)
        for code in sorted(set(heads) - set(custody)):
            chain = conn.execute(item_chain(code))
            folded = fold_custody(
                (e.body, e.event_hash)
                for e in (open_envelope(json.loads(r.envelope)) for r in chain)
            )
            if folded is not None:
                custody[code] = folded
        return heads, custody

    def _writer_kinds(
        self, conn: Connection, events: Sequence[SignedEvent]
    ) -> dict[str, WriterKind]:
        """Which writers are test stations or authorities, read only for the events whose
        type the policy lets such writers write (most appends read nothing)."""
        orgs = sorted({e.body.org for e in events if self.custody_policy.kinds_matter(e.body.type)})
        if not orgs:
            return {}
        rr = t.registry_record
        query = (
            select(rr.c.record_id, rr.c.body)
            .where(rr.c.kind == "org", rr.c.record_id.in_(orgs))
            .order_by(rr.c.log_index)
        )
        rows = conn.execute(query)
        types = {row.record_id: record_from_bytes(row.body).attr("type") for row in rows}
        return {org: WRITER_KINDS[kind] for org, kind in types.items() if kind in WRITER_KINDS}

    def _heads(
        self, conn: Connection, codes: Sequence[str], *, lock: bool = False
    ) -> tuple[dict[str, ItemHead], dict[str, Custody]]:
        """Chain heads, and the custody kept beside them, of the items that have a chain."""
        heads: dict[str, ItemHead] = {}
        custody: dict[str, Custody] = {}
        query = _ITEMS_LOCKED if lock else _ITEMS
        for chunk in _chunks(codes):
            for row in conn.execute(query, {"codes": chunk}):
                heads[row.code] = ItemHead(row.code, row.head_seq, row.head_hash, row.head_index)
                if row.custody is not None:
                    custody[row.code] = Custody.from_json(row.custody)
        return heads, custody

    def _existing_receipts(self, conn: Connection, hashes: Sequence[bytes]) -> dict[bytes, Receipt]:
        found: dict[bytes, Receipt] = {}
        unique = list(dict.fromkeys(hashes))
        for chunk in _chunks(unique):
            for row in conn.execute(_RECEIPTS, {"hashes": chunk}):
                found[row.event_hash] = Receipt(
                    origin=self.origin,
                    entry_hash=row.event_hash,
                    leaf_hash=leaf_hash(row.leaf_input),
                    index=row.idx,
                    log_time=row.log_time,
                    signature=row.receipt_signature,
                )
        return found

    @staticmethod
    def _leaf_row(index: int, leaf: LeafRecord) -> LogEntryRow:
        leaf_input = leaf.encode()
        return LogEntryRow(index, leaf, leaf_input, leaf_hash(leaf_input))

    def _sign_receipt(self, entry: LogEntryRow, log_signer: Signer) -> Receipt:
        return Receipt(
            origin=self.origin,
            entry_hash=entry.leaf.entry_hash,
            leaf_hash=entry.leaf_hash,
            index=entry.index,
            log_time=entry.leaf.log_time,
        ).signed_by(log_signer)

    # -- checkpoints ------------------------------------------------------------------------

    def write_checkpoint(
        self, *, log_signer: Signer, note_name: str, also_sign: Sequence[Signer] = ()
    ) -> str | None:
        """Sign and store a checkpoint over the current tree, with item-head statements.

        Written as a compare-and-set on the previous checkpoint size, so two
        signers racing can never both move it: the loser gets
        :class:`CheckpointConflictError`. Returns ``None`` when nothing is new.

        The log state, the newest checkpoint and the tree are read in one snapshot
        (REPEATABLE READ on PostgreSQL; a SQLite WAL read transaction already is one),
        without locks, so ingest is never held up.
        """
        reader = self.engine.connect()
        if not self._sqlite:
            # Under READ COMMITTED a rival's checkpoint committed between our reads of
            # log_state and of the newest checkpoint would look like a rolled-back log.
            reader = reader.execution_options(isolation_level="REPEATABLE READ")
        with reader as conn, conn.begin():
            state = conn.execute(select(t.log_state).where(t.log_state.c.id == 1)).one()
            old, size = state.checkpoint_size, state.size
            newest = conn.execute(
                select(t.checkpoint.c.size, t.checkpoint.c.note)
                .order_by(t.checkpoint.c.size.desc())
                .limit(1)
            ).first()
            if size == old and newest is not None:
                return None
            self._require_consistent_with(conn, newest, old, log_signer, note_name)
            root = root_at(_ConnectionNodes(conn), size)
            heads = self._heads_changed(conn, old, size)
        cp = Checkpoint(origin=self.origin, size=size, root_hash=root)
        note = sign_checkpoint(cp, note_name, log_signer, also_sign)
        statements = []
        for code, (seq, head_hash) in heads.items():
            statement = ItemHeadStatement(self.origin, size, root, code, seq, head_hash)
            statements.append(
                {
                    "item_code": code,
                    "checkpoint_size": size,
                    "seq": seq,
                    "head_hash": head_hash,
                    "signature": statement.sign(log_signer),
                }
            )
        with self._write() as conn:
            moved = conn.execute(
                update(t.log_state)
                .where(and_(t.log_state.c.id == 1, t.log_state.c.checkpoint_size == old))
                .values(checkpoint_size=size)
            )
            if moved.rowcount != 1:
                raise CheckpointConflictError("another signer moved the checkpoint", expected=old)
            conn.execute(
                insert(t.checkpoint).values(
                    size=size, root_hash=root, note=note, created_at=format_utc(self._clock())
                )
            )
            if statements:
                conn.execute(insert(t.item_head_statement), statements)
        return note

    def countersign_latest(self, *, signer: Signer, note_name: str) -> tuple[int, str]:
        """Add ``signer``'s signature to the newest checkpoint's note, if it lacks one.

        The body, and so every earlier signature, is unchanged: this is how an incoming log
        key signs the last checkpoint before it takes over (see ``chemtrace log-key``).

        Raises:
            StorageError: there is no checkpoint yet.
        """
        latest = self.latest_checkpoint()
        if latest is None:
            raise StorageError("no checkpoint to countersign; sign one first")
        size, note = latest
        text = note[: note.rfind("\n\n") + 1]
        if _has_key_line(note, note_name, signer):
            return size, note
        line = sign_note(text, note_name, signer).rsplit("\n\n", 1)[1]
        with self._write() as conn:
            conn.execute(
                update(t.checkpoint).where(t.checkpoint.c.size == size).values(note=note + line)
            )
        return size, note + line

    def _require_consistent_with(
        self, conn: Connection, newest: Any, old: int, log_signer: Signer, note_name: str
    ) -> None:
        """Never sign over a log that no longer extends the last checkpoint this key signed.

        Raises:
            StorageError: the stored tree or state disagrees with the newest signed checkpoint.
        """
        if newest is None:
            if old != 0:
                raise StorageError(
                    "log state names a checkpoint that is not stored; run verify-log"
                )
            return
        verifier = NoteVerifier.for_key(note_name, log_signer.public_key)
        try:
            signed = open_checkpoint(newest.note, verifier, expected_origin=self.origin)
        except LedgerError as exc:
            raise StorageError(f"the newest checkpoint does not verify: {exc.message}") from exc
        if signed.size != old or root_at(_ConnectionNodes(conn), old) != signed.root_hash:
            raise StorageError(
                "the log no longer extends its last signed checkpoint; run verify-log",
                checkpoint_size=signed.size,
            )

    def _heads_changed(self, conn: Connection, old: int, size: int) -> dict[str, tuple[int, bytes]]:
        """Heads, as of ``size``, of the items touched by entries in ``[old, size)``."""
        latest = (
            select(t.event_item.c.item_code, func.max(t.event_item.c.seq).label("seq"))
            .where(t.event_item.c.log_index >= old, t.event_item.c.log_index < size)
            .group_by(t.event_item.c.item_code)
            .subquery()
        )
        query = select(
            t.event_item.c.item_code, t.event_item.c.seq, t.event_item.c.event_hash
        ).join(
            latest,
            and_(
                t.event_item.c.item_code == latest.c.item_code, t.event_item.c.seq == latest.c.seq
            ),
        )
        return {row.item_code: (row.seq, row.event_hash) for row in conn.execute(query)}

    # -- reads ------------------------------------------------------------------------------

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """Read stored Merkle nodes (the :class:`ledger.merkle.NodeReader` port)."""
        with self.engine.connect() as conn:
            return _read_nodes(conn, ids)

    def log_size(self) -> int:
        """The number of entries in the log."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(t.log_state.c.size).where(t.log_state.c.id == 1)).scalar_one()
            )

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The newest checkpoint's size and signed note."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.checkpoint.c.size, t.checkpoint.c.note)
                .order_by(t.checkpoint.c.size.desc())
                .limit(1)
            ).first()
        return None if row is None else (row.size, row.note)

    def latest_checkpoint_at(self) -> tuple[int, str] | None:
        """The newest checkpoint's size and when it was signed (RFC 3339 UTC)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.checkpoint.c.size, t.checkpoint.c.created_at)
                .order_by(t.checkpoint.c.size.desc())
                .limit(1)
            ).first()
        return None if row is None else (row.size, row.created_at)

    def leaf_inputs(self, start: int, end: int) -> list[bytes]:
        """Leaf inputs for indices ``start <= i < end``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.log_entry.c.leaf_input)
                .where(t.log_entry.c.idx >= start, t.log_entry.c.idx < end)
                .order_by(t.log_entry.c.idx)
            )
            return [row.leaf_input for row in rows]

    def tile_hashes(self, level8: int, start: int, count: int) -> list[bytes]:
        """Stored nodes ``(level8, start + i)`` for ``i < count``, in order: one tlog tile's
        hashes (``ledger.tiles``), read in one primary-key range query; fewer where missing."""
        node = t.log_node
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(node.c.hash)
                .where(node.c.level == level8, node.c.idx >= start, node.c.idx < start + count)
                .order_by(node.c.idx)
            )
            return [row.hash for row in rows]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """An RFC 9162 inclusion proof from stored nodes (O(log n) reads)."""
        return inclusion_proof(self, index, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """An RFC 9162 consistency proof from stored nodes (O(log n) reads)."""
        return consistency_proof(self, first, second)

    def item_envelopes(self, code: str) -> list[tuple[int, int, bytes]]:
        """An item's events in chain order: ``(seq, log_index, canonical envelope)``."""
        with self.engine.connect() as conn:
            rows = conn.execute(item_chain(code))
            return [(row.seq, row.log_index, row.envelope) for row in rows]

    def item_genesis(self, code: str) -> EventBody | None:
        """The body of an item's first event (seq 0), or ``None`` for an unknown item."""
        ev, ei = t.event, t.event_item
        query = (
            select(ev.c.envelope)
            .join(ei, ev.c.event_hash == ei.c.event_hash)
            .where(ei.c.item_code == code, ei.c.seq == 0)
        )
        with self.engine.connect() as conn:
            envelope = conn.execute(query).scalar()
        return None if envelope is None else open_envelope(json.loads(envelope)).body

    def item_head(self, code: str) -> ItemHead | None:
        """An item's current chain head."""
        with self.engine.connect() as conn:
            heads, _ = self._heads(conn, [code])
        return heads.get(code)

    def certificates(self, key_ids: Iterable[str] | None = None) -> list[Certificate]:
        """Logged certificates in log order (all, or those of ``key_ids``)."""
        with self.engine.connect() as conn:
            return self._certificates(conn, None if key_ids is None else list(key_ids))

    def _certificates(self, conn: Connection, key_ids: Sequence[str] | None) -> list[Certificate]:
        if key_ids is None:
            rows = conn.execute(_CERTIFICATES)
        elif key_ids:
            rows = conn.execute(_CERTIFICATES_OF, {"keys": list(key_ids)})
        else:
            return []
        return [certificate_from_json(json.loads(row.body)) for row in rows]

    # -- personal data (erasable, outside every hash) ---------------------------------------

    def record_disclosure(self, disclosure: Disclosure, *, retain_until: str) -> None:
        """Keep the plaintext behind a commitment until ``retain_until`` (idempotent)."""
        with self._write() as conn:
            exists = conn.execute(
                select(t.personal_data.c.commitment).where(
                    t.personal_data.c.commitment == disclosure.commitment
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(t.personal_data).values(
                        commitment=disclosure.commitment,
                        kind=disclosure.kind,
                        value=disclosure.value,
                        salt=disclosure.salt,
                        created_at=format_utc(self._clock()),
                        retain_until=retain_until,
                    )
                )

    def disclosure(self, commitment: str) -> Disclosure | None:
        """The plaintext behind ``commitment``, unless erased or unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.personal_data).where(t.personal_data.c.commitment == commitment)
            ).first()
        if row is None or row.value is None:
            return None
        disclosure = Disclosure(kind=row.kind, value=row.value, salt=row.salt)
        if not opens(commitment, disclosure):
            raise StorageError("stored personal data does not open its commitment")
        return disclosure

    def erase_disclosures(
        self, *, commitments: Sequence[str] | None = None, expired_at: str | None = None
    ) -> int:
        """Erase plaintext and salt (by commitment, or all past retention); return how many."""
        condition: ColumnElement[bool] = t.personal_data.c.value.is_not(None)
        if commitments is not None:
            condition = and_(condition, t.personal_data.c.commitment.in_(list(commitments)))
        if expired_at is not None:
            condition = and_(condition, t.personal_data.c.retain_until <= expired_at)
        with self._write() as conn:
            result = conn.execute(
                update(t.personal_data)
                .where(condition)
                .values(value=None, salt=None, erased_at=format_utc(self._clock()))
            )
        # The old row version survives in the file until it is reclaimed: force that now.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if self._sqlite:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("VACUUM personal_data")
        return int(result.rowcount)

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
                yield conn
        except IntegrityError as exc:
            raise StorageError("a concurrent write conflicted; nothing was written; retry") from exc
        except OperationalError as exc:
            raise StorageError(f"database error; nothing was written: {exc.orig}") from exc


class _ConnectionNodes:
    """A NodeReader bound to an open connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return _read_nodes(self._conn, ids)


# One fixed statement per dialect: building an OR/IN expression per call cost more than the
# query itself, and ``(level, idx) IN (VALUES …)`` makes SQLite scan the whole table.
_NODES_SQLITE = text(
    "SELECT n.level, n.idx, n.hash FROM json_each(:ids) AS q JOIN log_node AS n"
    " ON n.level = json_extract(q.value, '$[0]') AND n.idx = json_extract(q.value, '$[1]')"
)
_NODES_POSTGRES = text(
    "SELECT n.level, n.idx, n.hash"
    " FROM unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])) AS q(level, idx)"
    " JOIN log_node AS n ON n.level = q.level AND n.idx = q.idx"
)


def item_chain(code: str) -> Select[Any]:
    """An item's events in chain order: seq, log index, log time and stored envelope."""
    ev, ei = t.event, t.event_item
    return (
        select(ei.c.seq, ev.c.log_index, ev.c.log_time, ev.c.envelope)
        .join(ev, ev.c.event_hash == ei.c.event_hash)
        .where(ei.c.item_code == code)
        .order_by(ei.c.seq)
    )


def _read_nodes(conn: Connection, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Read Merkle nodes by ``(level, index)`` in one indexed query."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    if conn.dialect.name == "sqlite":
        rows = conn.execute(_NODES_SQLITE, {"ids": json.dumps(wanted)})
    else:
        levels = [level for level, _ in wanted]
        indices = [index for _, index in wanted]
        rows = conn.execute(_NODES_POSTGRES, {"levels": levels, "idxs": indices})
    return {(row.level, row.idx): row.hash for row in rows}


def _has_key_line(note: str, name: str, signer: Signer) -> bool:
    key_id = note_key_id(name, signer.public_key)
    _, lines = split_note(note)
    return any((line.name, line.key_id) == (name, key_id) for line in lines)
