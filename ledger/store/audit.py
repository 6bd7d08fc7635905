"""Streaming reads for the integrity auditor (:mod:`ledger.verify`).

Pages are fetched by keyset on the log index, so memory stays flat however
long the log is. Nothing here judges anything: it only reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Engine, Select, Table, and_, func, or_, select

from ledger.commitments import Disclosure
from ledger.merkle import NodeId
from ledger.store import schema as t
from ledger.store.repository import _read_nodes
from ledger.verify import (
    StoredCertificate,
    StoredCheckpoint,
    StoredCode,
    StoredEntry,
    StoredEvent,
    StoredHeadStatement,
    StoredLicence,
    StoredLink,
    StoredRecord,
    StoredRevocation,
    StoredSignedCapture,
)

PAGE = 2000


class SqlAuditSource:
    """The :class:`ledger.verify.AuditSource` over a SQL ledger."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def state(self) -> tuple[str, int, int]:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.log_state).where(t.log_state.c.id == 1)).one()
        return row.origin, row.size, row.checkpoint_size

    def entries(self) -> Iterator[StoredEntry]:
        start = 0
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(t.log_entry)
                    .where(t.log_entry.c.idx >= start)
                    .order_by(t.log_entry.c.idx)
                    .limit(PAGE)
                ).all()
                if not rows:
                    return
                low, high = rows[0].idx, rows[-1].idx
                events = self._events(conn, low, high)
                certs = self._certificates(conn, low, high)
                revocations = {
                    row.log_index: StoredRevocation(
                        row.revocation_hash, row.log_index, row.key_id, row.org, row.body
                    )
                    for row in conn.execute(
                        select(t.revocation).where(t.revocation.c.log_index.between(low, high))
                    )
                }
                licences = {
                    row.log_index: StoredLicence(
                        row.licence_hash, row.log_index, row.licence_no, row.org, row.body
                    )
                    for row in conn.execute(
                        select(t.licence).where(t.licence.c.log_index.between(low, high))
                    )
                }
                records = {
                    row.log_index: StoredRecord(
                        row.record_hash, row.log_index, row.kind, row.record_id, row.body
                    )
                    for row in conn.execute(
                        select(t.registry_record).where(
                            t.registry_record.c.log_index.between(low, high)
                        )
                    )
                }
                captures = {
                    row.log_index: StoredSignedCapture(
                        row.capture_hash, row.log_index, row.key_id, row.org, row.nonce, row.body
                    )
                    for row in conn.execute(
                        select(t.signed_capture).where(
                            t.signed_capture.c.log_index.between(low, high)
                        )
                    )
                }
                codes: dict[int, list[StoredCode]] = defaultdict(list)
                for row in conn.execute(
                    select(t.issued_code)
                    .where(t.issued_code.c.batch_index.between(low, high))
                    .order_by(t.issued_code.c.code)
                ):
                    codes[row.batch_index].append(
                        StoredCode(row.code, row.batch_index, row.org, row.form, row.record)
                    )
            for row in rows:
                yield StoredEntry(
                    index=row.idx,
                    kind=row.kind,
                    entry_hash=row.entry_hash,
                    log_time=row.log_time,
                    leaf_input=row.leaf_input,
                    event=events.get(row.idx),
                    certificate=certs.get(row.idx),
                    revocation=revocations.get(row.idx),
                    codes=tuple(codes.get(row.idx, ())),
                    licence=licences.get(row.idx),
                    record=records.get(row.idx),
                    capture=captures.get(row.idx),
                )
            start = high + 1

    @staticmethod
    def _events(conn: Connection, low: int, high: int) -> dict[int, StoredEvent]:
        links: dict[int, list[StoredLink]] = defaultdict(list)
        for row in conn.execute(
            select(t.event_item).where(t.event_item.c.log_index.between(low, high))
        ):
            links[row.log_index].append(StoredLink(row.item_code, row.seq, row.role, row.log_index))
        found: dict[int, StoredEvent] = {}
        for row in conn.execute(select(t.event).where(t.event.c.log_index.between(low, high))):
            found[row.log_index] = StoredEvent(
                event_hash=row.event_hash,
                log_index=row.log_index,
                envelope=row.envelope,
                type=row.type,
                org=row.org,
                site=row.site,
                event_time=row.event_time,
                log_time=row.log_time,
                receipt_signature=row.receipt_signature,
                links=tuple(links.get(row.log_index, ())),
            )
        return found

    @staticmethod
    def _certificates(conn: Connection, low: int, high: int) -> dict[int, StoredCertificate]:
        query = select(t.certificate).where(t.certificate.c.log_index.between(low, high))
        return {
            row.log_index: StoredCertificate(
                row.cert_hash, row.log_index, row.key_id, row.role, row.org, row.body
            )
            for row in conn.execute(query)
        }

    def unlogged(self) -> Iterator[tuple[str, int, bytes | None, str | None]]:
        e, ei, ic, le = t.event, t.event_item, t.issued_code, t.log_entry
        checks = [
            _unaccounted("event", e, e.c.event_hash),
            _unaccounted("certificate", t.certificate, t.certificate.c.cert_hash),
            _unaccounted("revocation", t.revocation, t.revocation.c.revocation_hash),
            _unaccounted("licence", t.licence, t.licence.c.licence_hash),
            _unaccounted("record", t.registry_record, t.registry_record.c.record_hash),
            _unaccounted("signed_capture", t.signed_capture, t.signed_capture.c.capture_hash),
            (
                "event_item",
                select(ei.c.event_hash, ei.c.log_index)
                .outerjoin(e, e.c.event_hash == ei.c.event_hash)
                .where(or_(e.c.event_hash.is_(None), e.c.log_index != ei.c.log_index)),
            ),
        ]
        codes = (
            select(ic.c.code, ic.c.batch_index)
            .outerjoin(le, le.c.idx == ic.c.batch_index)
            .where(or_(le.c.idx.is_(None), le.c.kind != "code_batch"))
        )
        with self._engine.connect() as conn:
            for table, query in checks:
                for digest, index in conn.execute(query):
                    yield table, index, digest, None
            for code, index in conn.execute(codes):
                yield "issued_code", index, None, code

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        with self._engine.connect() as conn:
            return _read_nodes(conn, ids)

    def node_count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.log_node)).scalar_one())

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.checkpoint).order_by(t.checkpoint.c.size)).all()
        return [StoredCheckpoint(row.size, row.root_hash, row.note) for row in rows]

    def head_statements(self) -> Iterator[StoredHeadStatement]:
        s = t.item_head_statement
        after: tuple[int, str] = (-1, "")
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(s)
                    .where(
                        or_(
                            s.c.checkpoint_size > after[0],
                            and_(s.c.checkpoint_size == after[0], s.c.item_code > after[1]),
                        )
                    )
                    .order_by(s.c.checkpoint_size, s.c.item_code)
                    .limit(PAGE)
                ).all()
            if not rows:
                return
            for row in rows:
                yield StoredHeadStatement(
                    row.item_code, row.checkpoint_size, row.seq, row.head_hash, row.signature
                )
            after = (rows[-1].checkpoint_size, rows[-1].item_code)

    def item_heads(self) -> Iterator[tuple[str, int, bytes, int]]:
        after = ""
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(t.item).where(t.item.c.code > after).order_by(t.item.c.code).limit(PAGE)
                ).all()
            if not rows:
                return
            for row in rows:
                yield row.code, row.head_seq, row.head_hash, row.head_index
            after = rows[-1].code

    def disclosure(self, commitment: str) -> Disclosure | None:
        pd = t.personal_data
        with self._engine.connect() as conn:
            row = conn.execute(select(pd).where(pd.c.commitment == commitment)).first()
        if row is None or row.value is None:
            return None
        return Disclosure(kind=row.kind, value=row.value, salt=row.salt)  # the auditor opens it


def _unaccounted(kind: str, table: Table, digest: Column[bytes]) -> tuple[str, Select[Any]]:
    """Rows of ``table`` whose claimed log entry is missing, of another kind, or another hash."""
    le = t.log_entry
    query = (
        select(digest, table.c.log_index)
        .outerjoin(le, le.c.idx == table.c.log_index)
        .where(or_(le.c.idx.is_(None), le.c.entry_hash != digest, le.c.kind != kind))
    )
    return kind, query
