"""The console's server-side sessions in SQL (table ``console_session``).

A row is keyed by the SHA-256 of the session id the browser holds, so a leaked table opens
no session. Ending a session sets ``ended_at`` and why; rows are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from ledger.store import schema as t


@dataclass(frozen=True, slots=True)
class StoredSession:
    id_hash: bytes
    user_id: str
    token_hash: bytes
    created_at: int
    last_seen_at: int
    ended_at: int | None
    ended_why: str | None


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, id_hash: bytes, user_id: str, token_hash: bytes, now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.console_session).values(
                    id_hash=id_hash,
                    user_id=user_id,
                    token_hash=token_hash,
                    created_at=now,
                    last_seen_at=now,
                )
            )

    def get(self, id_hash: bytes) -> StoredSession | None:
        query = select(t.console_session).where(t.console_session.c.id_hash == id_hash)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else StoredSession(**row)

    def touch(self, id_hash: bytes, now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.console_session)
                .where(
                    t.console_session.c.id_hash == id_hash, t.console_session.c.ended_at.is_(None)
                )
                .values(last_seen_at=now)
            )

    def end(self, id_hash: bytes, now: int, why: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.console_session)
                .where(
                    t.console_session.c.id_hash == id_hash, t.console_session.c.ended_at.is_(None)
                )
                .values(ended_at=now, ended_why=why)
            )
