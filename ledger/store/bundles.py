"""The SQL side of offline bundles: pick the checkpoint, read chains and keys, add the proofs.

A bundle is built against the newest stored checkpoint (size ``N``) and covers
each item's events logged before ``N``; events after it are not yet provable and
are left out. The JSON itself is assembled by :func:`ledger.bundle.assemble_bundle`.

Head statements at the bundle's checkpoint
==========================================

The checkpoint signer writes item-head statements only for items that changed
in the checkpoint's range, so an item whose head is older has no statement at
``N``. Shipping its newest older statement (at ``S < N``) with the older
checkpoint and a consistency proof ``S -> N`` would tie that statement to the
log, but it would not say that nothing happened to the item between ``S`` and
``N``: a bundle could drop the item's newest events *and* swap in the item's
previous statement, and still verify. So the builder instead has the log sign a
fresh statement at ``N`` ("as of checkpoint N, item X's head is seq k") and
stores it in ``item_head_statement`` (``INSERT … ON CONFLICT DO NOTHING``;
Ed25519 signatures are deterministic, so concurrent builders write the same
row). Every bundled head statement is then bound to the bundle's own checkpoint,
and ``verify-log`` audits the new rows like any other statement.

The builder only restates what the log already signed: before signing, it
checks that the chain in the database ends where the item's newest stored
statement (at ``S <= N``) says, and that the stored checkpoint verifies with the
log key and matches the stored tree. Otherwise it refuses (the database
disagrees with the log: run ``verify-log``).

"At a site"
===========

An item is at site ``S`` (as of checkpoint ``N``) when its newest event logged
before ``N`` has ``site == S`` and is not a ``ship``, ``dispose`` or ``destroy``
(after those the item has left). :func:`items_at_site` is one SQL query.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine, and_, func, select, text

from ledger.bundle import (
    LEFT_SITE_TYPES,
    BundledItem,
    LoggedEntry,
    SubjectKind,
    assemble_bundle,
)
from ledger.canonical import JsonValue, b64decode
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.envelope import CAPTURE_ALG
from ledger.errors import InvalidInputError, LedgerError, StorageError
from ledger.merkle import NodeId, inclusion_proof, inclusion_proof_ids, root_at
from ledger.note import NoteVerifier
from ledger.signing import Signer
from ledger.statements import ItemHeadStatement
from ledger.store import schema as t
from ledger.store.engine import IMMEDIATE
from ledger.store.repository import SqlLedgerStore
from ledger.store.witnessing import WitnessingStore

_CHUNK = 500
Witnessed: TypeAlias = tuple[Sequence[str], int]
"""Witness key names and how many of them must have cosigned a bundle's checkpoint."""
_INSERT_STATEMENT = text(
    "INSERT INTO item_head_statement (item_code, checkpoint_size, seq, head_hash, signature)"
    " VALUES (:item_code, :checkpoint_size, :seq, :head_hash, :signature)"
    " ON CONFLICT (item_code, checkpoint_size) DO NOTHING"
)


class BundleUnavailableError(LedgerError):
    """No bundle can be built for this request (unknown item, nothing checkpointed yet, …)."""

    code = "bundle_unavailable"


def build_item_bundle(
    store: SqlLedgerStore,
    code: str,
    *,
    log_signer: Signer,
    since_size: int | None = None,
    now: datetime | None = None,
    witnesses: Witnessed = ((), 0),
    writer: Engine | None = None,
) -> dict[str, JsonValue]:
    """Build the offline bundle of one item against the newest checkpoint.

    Args:
        store: the ledger.
        code: the item's trace code.
        log_signer: the log key, to sign item-head statements at the checkpoint.
        since_size: a checkpoint size the verifier saw; adds a consistency proof from it.
        now: the bundle's ``created_at`` (default: the current time).
        witnesses: the witnesses' key names and how many of them must have cosigned: the
            bundle takes the newest checkpoint with that quorum, or the newest of all when
            none has it yet (a verifier's policy then says so). Its cosignatures ride along.
        writer: where the head statements the builder signs are stored, when ``store``
            reads a standby (default: ``store``'s own engine).

    Raises:
        BundleUnavailableError: no checkpoint yet, or the item has no checkpointed event.
        StorageError: the database disagrees with the log's signed statements.
    """
    builder = _Builder(store, log_signer, witnesses, writer)
    return builder.build(("item", code), [code], since_size, now)


def build_site_bundle(
    store: SqlLedgerStore,
    site: str,
    *,
    log_signer: Signer,
    since_size: int | None = None,
    now: datetime | None = None,
    witnesses: Witnessed = ((), 0),
    writer: Engine | None = None,
) -> dict[str, JsonValue]:
    """Build the offline bundle of every item at ``site`` as of the newest checkpoint
    (chosen as :func:`build_item_bundle` does; ``writer`` as there).

    A site with no item yields a bundle with no items (it still proves the checkpoint).

    Raises:
        BundleUnavailableError: no checkpoint yet.
        StorageError: the database disagrees with the log's signed statements.
    """
    builder = _Builder(store, log_signer, witnesses, writer)
    size = builder.checkpoint().size
    with store.engine.connect() as conn:
        codes = _items_at_site(conn, site, size)
    return builder.build(("site", site), codes, since_size, now)


def items_at_site(store: SqlLedgerStore, site: str, size: int) -> list[str]:
    """Codes of the items at ``site`` as of tree size ``size``, sorted.

    An item is there when its newest event logged before ``size`` happened at
    ``site`` and is not one after which it left (``ship``, ``dispose``, ``destroy``).
    """
    with store.engine.connect() as conn:
        return _items_at_site(conn, site, size)


def _items_at_site(conn: Connection, site: str, size: int) -> list[str]:
    ei, ev = t.event_item, t.event
    visited = (
        select(ei.c.item_code)
        .join(ev, ev.c.event_hash == ei.c.event_hash)
        .where(ev.c.site == site, ev.c.log_index < size)
        .distinct()
    )
    newest = (
        select(ei.c.item_code, func.max(ei.c.seq).label("seq"))
        .where(ei.c.log_index < size, ei.c.item_code.in_(visited))
        .group_by(ei.c.item_code)
        .subquery()
    )
    query = (
        select(newest.c.item_code)
        .join(ei, and_(ei.c.item_code == newest.c.item_code, ei.c.seq == newest.c.seq))
        .join(ev, ev.c.event_hash == ei.c.event_hash)
        .where(ev.c.site == site, ev.c.type.not_in(sorted(LEFT_SITE_TYPES)))
        .order_by(newest.c.item_code)
    )
    return [row.item_code for row in conn.execute(query)]


# -- the builder ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    index: int
    log_time: str
    entry_hash: bytes
    body: bytes


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class _Nodes:
    """A NodeReader over nodes fetched once for all of a bundle's proofs."""

    def __init__(self, nodes: Mapping[NodeId, bytes]) -> None:
        self._nodes = nodes

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self._nodes[node] for node in ids if node in self._nodes}


class _Builder:
    def __init__(
        self, store: SqlLedgerStore, log_signer: Signer, witnesses: Witnessed,
        writer: Engine | None,
    ) -> None:  # fmt: skip
        self.store = store
        self.writer = writer or store.engine
        self.signer = log_signer
        self._cosignatures = WitnessingStore(store.engine)
        self._witnesses = witnesses
        self._checkpoint: tuple[Checkpoint, str] | None = None

    def checkpoint(self) -> Checkpoint:
        """The checkpoint to cut from, verified with the log key and against the stored tree:
        the newest the current key signed that has the witness quorum, else the newest."""
        if self._checkpoint is None:
            row = self._witnessed_row() or self._newest_row()
            if row is None or row.size == 0:
                raise BundleUnavailableError("the log has no checkpoint yet; sign one first")
            try:
                opened = open_checkpoint(
                    row.note, self._verifier(), expected_origin=self.store.origin
                )
            except LedgerError as exc:
                raise StorageError(
                    "the newest stored checkpoint is not signed by this log's key",
                    size=row.size,
                ) from exc
            if opened.size != row.size or root_at(self.store, opened.size) != opened.root_hash:
                raise StorageError(
                    "the stored tree disagrees with the newest checkpoint; run verify-log",
                    size=row.size,
                )
            self._checkpoint = (opened, self._cosignatures.cosigned_note(row.size, row.note))
        return self._checkpoint[0]

    def _verifier(self) -> NoteVerifier:
        return NoteVerifier.for_key(self.store.origin, self.signer.public_key)

    def _newest_row(self) -> Any:
        query = select(t.checkpoint.c.size, t.checkpoint.c.note)
        with self.store.engine.connect() as conn:
            return conn.execute(query.order_by(t.checkpoint.c.size.desc()).limit(1)).first()

    def _witnessed_row(self) -> Any:
        """The newest quorum checkpoint the current key signed: after a log-key rotation the
        newest witnessed one may carry only the retired key's signature."""
        sizes = self._cosignatures.sizes_with_cosignatures(*self._witnesses)
        if not sizes:
            return None
        query = select(t.checkpoint.c.size, t.checkpoint.c.note).where(
            t.checkpoint.c.size.in_(sizes)
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.checkpoint.c.size.desc())).all()
        for row in rows:
            try:
                open_checkpoint(row.note, self._verifier())
            except LedgerError:
                continue
            return row
        return None

    def build(
        self,
        subject: tuple[SubjectKind, str],
        codes: Sequence[str],
        since_size: int | None,
        now: datetime | None,
    ) -> dict[str, JsonValue]:
        checkpoint = self.checkpoint()
        assert self._checkpoint is not None
        size = checkpoint.size
        consistency = self.consistency(since_size, size)
        with self.store.engine.connect() as conn:
            chains = self.chains(conn, codes, size, single=subject[0] == "item")
            heads = {code: (len(rows) - 1, rows[-1].entry_hash) for code, rows in chains.items()}
            statements = self.head_statements(conn, heads, checkpoint)
            events = {row.index: row for rows in chains.values() for row in rows}
            keys = {_device_key(row.body) for row in events.values()}
            certificates = self.certificates(conn, keys, size)
            key_ids = keys | {row_key for row_key, _ in certificates.values()}
            revocations = self.revocations(conn, sorted(key_ids), size)
            labels = self.labels(conn, list(chains))
            captures = self.captures(conn, {_authority(row.body) for row in events.values()})
        certificate_rows = {index: row for index, (_, row) in certificates.items()}
        proofs = self.proofs([*events, *certificate_rows, *revocations, *captures], size)
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return assemble_bundle(
            origin=self.store.origin,
            created_at=stamp,
            subject=subject,
            checkpoint=self._checkpoint[1],
            events=[_entry(row, proofs) for row in events.values()],
            certificates=[_entry(row, proofs) for row in certificate_rows.values()],
            revocations=[_entry(row, proofs) for row in revocations.values()],
            captures=[_entry(row, proofs) for row in captures.values()],
            items=[
                BundledItem(
                    code=code,
                    chain=[row.index for row in rows],
                    head=statements[code],
                    label=labels.get(code),
                )
                for code, rows in chains.items()
            ],
            consistency=consistency,
        )

    def consistency(self, since_size: int | None, size: int) -> tuple[int, list[bytes]] | None:
        if since_size is None:
            return None
        if since_size < 1:
            raise InvalidInputError("--since must be a checkpoint size of at least 1")
        if since_size > size:
            raise BundleUnavailableError(
                f"the newest checkpoint covers {size} entries, fewer than --since {since_size}: "
                "the verifier has seen a larger checkpoint than this log's newest",
                size=size,
                since=since_size,
            )
        return since_size, self.store.consistency_proof(since_size, size)

    def chains(
        self, conn: Connection, codes: Sequence[str], size: int, *, single: bool
    ) -> dict[str, list[_Row]]:
        """Each item's events logged before ``size``, in chain order (seq 0, 1, …)."""
        ei, ev, le = t.event_item, t.event, t.log_entry
        chains: dict[str, list[_Row]] = {code: [] for code in codes}
        for chunk in _chunks(list(codes)):
            query = (
                select(ei.c.item_code, ei.c.seq, ev.c.log_index, ev.c.envelope, ev.c.event_hash)
                .add_columns(le.c.log_time)
                .join(ev, ev.c.event_hash == ei.c.event_hash)
                .join(le, le.c.idx == ev.c.log_index)
                .where(ei.c.item_code.in_(chunk), ev.c.log_index < size)
                .order_by(ei.c.item_code, ei.c.seq)
            )
            for row in conn.execute(query):
                chain = chains[row.item_code]
                if row.seq != len(chain):
                    raise StorageError(
                        "an item's chain has a gap in the database; run verify-log",
                        item=row.item_code,
                        seq=row.seq,
                    )
                chain.append(_Row(row.log_index, row.log_time, row.event_hash, row.envelope))
        empty = [code for code, rows in chains.items() if not rows]
        if empty and single:
            raise BundleUnavailableError(
                f"item {empty[0]} has no event covered by the newest checkpoint "
                f"({size} entries): unknown code, or not checkpointed yet",
                item=empty[0],
            )
        return {code: rows for code, rows in chains.items() if rows}

    def head_statements(
        self, conn: Connection, heads: Mapping[str, tuple[int, bytes]], checkpoint: Checkpoint
    ) -> dict[str, ItemHeadStatement]:
        """The log's head statement at the checkpoint for every item, signing missing ones."""
        size = checkpoint.size
        stored = self.stored_statements(conn, list(heads), size)
        newest_older = self.older_statements(conn, [c for c in heads if c not in stored], size)
        fresh = []
        for code, head in heads.items():
            claimed = stored.get(code) or newest_older.get(code)
            if claimed is None or claimed[:2] != head:
                raise StorageError(
                    "the database's chain disagrees with the log's item-head statements; "
                    "run verify-log",
                    item=code,
                )
            if code not in stored:
                statement = ItemHeadStatement(
                    checkpoint.origin, size, checkpoint.root_hash, code, head[0], head[1]
                )
                fresh.append(
                    {
                        "item_code": code,
                        "checkpoint_size": size,
                        "seq": head[0],
                        "head_hash": head[1],
                        "signature": statement.sign(self.signer),
                    }
                )
        if fresh:
            # Read back inside the write: a concurrent builder may have stored the row first.
            signed = [str(row["item_code"]) for row in fresh]
            engine = self.writer
            with engine.connect().execution_options(**{IMMEDIATE: True}) as writer, writer.begin():
                writer.execute(_INSERT_STATEMENT, fresh)
                stored.update(self.stored_statements(writer, signed, size))
        return {
            code: ItemHeadStatement(
                checkpoint.origin, size, checkpoint.root_hash, code, seq, head_hash, signature
            )
            for code, (seq, head_hash, signature) in stored.items()
        }

    @staticmethod
    def stored_statements(
        conn: Connection, codes: Sequence[str], size: int
    ) -> dict[str, tuple[int, bytes, bytes]]:
        s = t.item_head_statement
        found: dict[str, tuple[int, bytes, bytes]] = {}
        for chunk in _chunks(codes):
            query = select(s.c.item_code, s.c.seq, s.c.head_hash, s.c.signature).where(
                s.c.checkpoint_size == size, s.c.item_code.in_(chunk)
            )
            for row in conn.execute(query):
                found[row.item_code] = (row.seq, row.head_hash, row.signature)
        return found

    @staticmethod
    def older_statements(
        conn: Connection, codes: Sequence[str], size: int
    ) -> dict[str, tuple[int, bytes, bytes]]:
        s = t.item_head_statement
        found: dict[str, tuple[int, bytes, bytes]] = {}
        for chunk in _chunks(codes):
            newest = (
                select(s.c.item_code, func.max(s.c.checkpoint_size).label("size"))
                .where(s.c.item_code.in_(chunk), s.c.checkpoint_size < size)
                .group_by(s.c.item_code)
                .subquery()
            )
            query = select(s.c.item_code, s.c.seq, s.c.head_hash, s.c.signature).join(
                newest,
                and_(s.c.item_code == newest.c.item_code, s.c.checkpoint_size == newest.c.size),
            )
            for row in conn.execute(query):
                found[row.item_code] = (row.seq, row.head_hash, row.signature)
        return found

    @staticmethod
    def certificates(
        conn: Connection, device_keys: set[str], size: int
    ) -> dict[int, tuple[str, _Row]]:
        """Certificates of the device keys and of their issuers: ``{index: (issuer, row)}``."""
        c, le = t.certificate, t.log_entry
        found: dict[int, tuple[str, _Row]] = {}
        wanted, done = set(device_keys), set[str]()
        while wanted - done:
            batch = sorted(wanted - done)
            done |= wanted
            for chunk in _chunks(batch):
                query = (
                    select(c.c.log_index, c.c.cert_hash, c.c.body, le.c.log_time)
                    .join(le, le.c.idx == c.c.log_index)
                    .where(c.c.key_id.in_(chunk), c.c.log_index < size)
                )
                for row in conn.execute(query):
                    issuer = str(json.loads(row.body)["cert"]["issuer"])
                    found[row.log_index] = (
                        issuer,
                        _Row(row.log_index, row.log_time, row.cert_hash, row.body),
                    )
                    wanted.add(issuer)
        return found

    @staticmethod
    def captures(conn: Connection, authorities: set[bytes | None]) -> dict[int, _Row]:
        """The signed-capture entries that derived events cite (each logged before them)."""
        sc, le = t.signed_capture, t.log_entry
        wanted = sorted(a for a in authorities if a is not None)
        found: dict[int, _Row] = {}
        for chunk in _chunks(wanted):
            query = (
                select(sc.c.log_index, sc.c.capture_hash, sc.c.body, le.c.log_time)
                .join(le, le.c.idx == sc.c.log_index)
                .where(sc.c.capture_hash.in_(chunk))
            )
            for row in conn.execute(query):
                found[row.log_index] = _Row(row.log_index, row.log_time, row.capture_hash, row.body)
        return found

    @staticmethod
    def revocations(conn: Connection, key_ids: Sequence[str], size: int) -> dict[int, _Row]:
        r, le = t.revocation, t.log_entry
        found: dict[int, _Row] = {}
        for chunk in _chunks(key_ids):
            query = (
                select(r.c.log_index, r.c.revocation_hash, r.c.body, le.c.log_time)
                .join(le, le.c.idx == r.c.log_index)
                .where(r.c.key_id.in_(chunk), r.c.log_index < size)
            )
            for row in conn.execute(query):
                found[row.log_index] = _Row(
                    row.log_index, row.log_time, row.revocation_hash, row.body
                )
        return found

    @staticmethod
    def labels(conn: Connection, codes: Sequence[str]) -> dict[str, dict[str, JsonValue]]:
        """The registry's signed record of each issued code."""
        found: dict[str, dict[str, JsonValue]] = {}
        for chunk in _chunks(codes):
            query = select(t.issued_code.c.code, t.issued_code.c.record).where(
                t.issued_code.c.code.in_(chunk)
            )
            for row in conn.execute(query):
                found[row.code] = json.loads(row.record)
        return found

    def proofs(self, indices: Sequence[int], size: int) -> dict[int, list[bytes]]:
        """Inclusion proofs for all ``indices`` at ``size``, reading the nodes in one batch."""
        unique = sorted(set(indices))
        ids = list(dict.fromkeys(node for i in unique for node in inclusion_proof_ids(i, size)))
        reader = _Nodes(self.store.get_nodes(ids) if ids else {})
        return {index: inclusion_proof(reader, index, size) for index in unique}


def _device_key(envelope: bytes) -> str:
    return str(json.loads(envelope)["body"]["device_key"])


def _authority(envelope: bytes) -> bytes | None:
    """The signed-capture entry a derived event cites (None for a device-signed one)."""
    signature = json.loads(envelope)["signature"]
    return b64decode(signature["value"]) if signature["alg"] == CAPTURE_ALG else None


def _entry(row: _Row, proofs: Mapping[int, list[bytes]]) -> LoggedEntry:
    return LoggedEntry(
        index=row.index,
        log_time=row.log_time,
        entry_hash=row.entry_hash,
        body=json.loads(row.body),
        inclusion=proofs[row.index],
    )
