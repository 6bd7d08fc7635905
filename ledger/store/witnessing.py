"""The log's side of witnessing, in SQL: cosignatures on stored checkpoints, and what the log
knows of each witness (the size it last cosigned, failures, the next attempt).

A cosignature is stored only after it verified with the witness's configured key, one row per
(checkpoint size, witness key name). :meth:`WitnessingStore.cosigned_note` is the checkpoint
note with its cosignature lines appended: what ``/v1/log/checkpoint``, tiles and bundles serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from ledger.cosignature import attach
from ledger.store import schema as t
from ledger.store.engine import upsert


@dataclass(frozen=True)
class StoredCosignature:
    witness: str
    key_id: str
    timestamp: int
    line: str


@dataclass(frozen=True)
class WitnessStatus:
    """What the log knows of one witness."""

    name: str
    url: str
    size: int
    failures: int
    last_error: str | None
    last_attempt_at: str | None
    last_success_at: str | None
    next_attempt_at: str


class WitnessingStore:
    """Cosignatures and witness status beside the ledger's tables (migration 0011)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_cosignature(self, size: int, cosignature: StoredCosignature, received_at: str) -> None:
        """Store a verified cosignature on the checkpoint of ``size`` (again: no change)."""
        row = {
            "size": size,
            "witness": cosignature.witness,
            "key_id": cosignature.key_id,
            "timestamp": cosignature.timestamp,
            "line": cosignature.line,
            "received_at": received_at,
        }
        with self.engine.begin() as conn:
            conn.execute(upsert(conn, t.checkpoint_cosignature, row, ["size", "witness"], []))

    def cosignatures(self, size: int) -> list[StoredCosignature]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.checkpoint_cosignature)
                .where(t.checkpoint_cosignature.c.size == size)
                .order_by(t.checkpoint_cosignature.c.witness)
            ).all()
        return [StoredCosignature(r.witness, r.key_id, r.timestamp, r.line) for r in rows]

    def cosigned_note(self, size: int, note: str) -> str:
        """``note`` (the stored checkpoint of ``size``) with its stored cosignatures appended."""
        return attach(note, [c.line for c in self.cosignatures(size)])

    def signed_at(self, size: int) -> str | None:
        """When the checkpoint of ``size`` was signed (its row's ``created_at``)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.checkpoint.c.created_at).where(t.checkpoint.c.size == size)
            ).scalar_one_or_none()

    def sizes_with_cosignatures(
        self, witnesses: Sequence[str], quorum: int, limit: int = 16
    ) -> list[int]:
        """The newest ``limit`` checkpoint sizes cosigned by at least ``quorum`` of
        ``witnesses``, newest first."""
        if quorum <= 0 or not witnesses:
            return []
        c = t.checkpoint_cosignature.c
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(c.size)
                    .where(c.witness.in_(list(witnesses)))
                    .group_by(c.size)
                    .having(func.count() >= quorum)
                    .order_by(c.size.desc())
                    .limit(limit)
                ).scalars()
            )

    def statuses(self) -> list[WitnessStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.witness_status).order_by(t.witness_status.c.name)).all()
        return [
            WitnessStatus(
                r.name,
                r.url,
                r.size,
                r.failures,
                r.last_error,
                r.last_attempt_at,
                r.last_success_at,
                r.next_attempt_at,
            )
            for r in rows
        ]

    def save_status(self, status: WitnessStatus) -> None:
        row = {
            "name": status.name,
            "url": status.url,
            "size": status.size,
            "failures": status.failures,
            "last_error": None if status.last_error is None else status.last_error[:300],
            "last_attempt_at": status.last_attempt_at,
            "last_success_at": status.last_success_at,
            "next_attempt_at": status.next_attempt_at,
        }
        columns = [k for k in row if k != "name"]
        with self.engine.begin() as conn:
            conn.execute(upsert(conn, t.witness_status, row, ["name"], columns))
