"""Service-side storage beside the log: access tokens, the security journal and read queries.

None of this is part of the tamper-evident log. Tokens are stored as SHA-256 hashes only;
the journal records rejected attempts that suggest fraud; the read queries serve the
regulator and enterprise views (custody chains, search, inventory).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeAlias

from sqlalchemy import Engine, and_, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from ledger.envelope import SignedEvent, open_envelope
from ledger.store import schema as t
from ledger.store.repository import Clock, item_chain, utc_now
from ledger.timefmt import format_utc


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the log holds it."""

    index: int
    log_time: str
    event: SignedEvent


Aggregate: TypeAlias = Literal["client", "device_key"]
"""Who repeats an attempt: the client's address, or the signing device."""
AGGREGATE_WINDOW_S: Final = 3600


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One rejected attempt that suggests fraud, or ``count`` repeats of it in one window.

    ``at`` is when it was first seen and ``last_at`` when last; ``window_start`` is set on
    an aggregated row. Only ``count`` and ``last_at`` of a row ever change.
    """

    id: str
    at: str
    last_at: str
    code: str
    detail: str
    user_id: str | None = None
    org: str | None = None
    device_key: str | None = None
    item_code: str | None = None
    site: str | None = None
    district: str | None = None
    client: str | None = None
    count: int = 1
    window_start: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class PersonalRead:
    """One read of personal data: who, when, whose (a commitment), through which record, why."""

    id: str
    at: str
    user_id: str
    commitment: str
    record_kind: str
    record_id: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at, "user_id": self.user_id,
            "commitment": self.commitment, "record_kind": self.record_kind,
            "record_id": self.record_id, "reason": self.reason,
        }  # fmt: skip


class ServiceStore:
    """Tokens, the security journal and the read side, on the ledger's database."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self._clock = clock

    # -- tokens ------------------------------------------------------------------------------

    def add_token(self, token_hash: bytes, user_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(t.api_token).values(
                token_hash=token_hash, user_id=user_id, created_at=format_utc(self._clock())
            ))  # fmt: skip

    def token_user(self, token_hash: bytes) -> str | None:
        """The user a live token belongs to."""
        query = select(t.api_token.c.user_id).where(
            t.api_token.c.token_hash == token_hash, t.api_token.c.revoked_at.is_(None)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def revoke_tokens(self, user_id: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t.api_token)
                .where(t.api_token.c.user_id == user_id, t.api_token.c.revoked_at.is_(None))
                .values(revoked_at=format_utc(self._clock()))
            )
        return int(result.rowcount)

    # -- security journal --------------------------------------------------------------------

    def journal(
        self,
        code: str,
        detail: str,
        *,
        aggregate_by: Aggregate | None = None,
        window_s: int = AGGREGATE_WINDOW_S,
        **where: str | None,
    ) -> JournalEntry:
        """Journal a refused attempt; ``where`` names its columns (org, client, item_code...).

        With ``aggregate_by``, the repeats of ``code`` for one item by one client (or one
        device) within one window of ``window_s`` seconds are a single row whose ``count``
        grows: an upsert on an id derived from that key, so concurrent workers on either
        database never split or lose a count. The row keeps its first attempt's detail,
        org, site and district.
        """
        moment = self._clock()
        now = format_utc(moment)
        row: dict[str, Any] = dict(at=now, last_at=now, count=1, code=code,
                                   detail=detail[:2000], **where)  # fmt: skip
        sj = t.security_journal
        if aggregate_by is None:
            entry = JournalEntry(id=uuid.uuid4().hex, **row)
            with self.engine.begin() as conn:
                conn.execute(insert(sj).values(**entry.to_json()))
            return entry
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, not {window_s}")
        start = int(moment.timestamp()) // window_s * window_s
        window = format_utc(datetime.fromtimestamp(start, UTC))
        key = (code, aggregate_by, where.get(aggregate_by) or "", where.get("item_code") or "",
               window)  # fmt: skip
        row_id = hashlib.sha256("\x00".join(key).encode()).hexdigest()[:32]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(sj).values(id=row_id, window_start=window, **row)
        statement = statement.on_conflict_do_update(
            index_elements=[sj.c.id],
            set_={
                "count": sj.c.count + 1,
                "last_at": case(
                    (statement.excluded.last_at > sj.c.last_at, statement.excluded.last_at),
                    else_=sj.c.last_at,
                ),
            },
        ).returning(*sj.c)
        with self.engine.begin() as conn:
            stored = conn.execute(statement).one()
        return JournalEntry(**dict(stored._mapping))

    def journal_entries(
        self,
        *,
        orgs: Sequence[str] | None = None,
        districts: Sequence[str] | None = None,
        since: str | None = None,
        limit: int = 100,
        after: tuple[str, str] | None = None,
    ) -> list[JournalEntry]:
        """Last seen first (then by id), seen at or after ``since``; ``orgs``/``districts``
        restrict to a jurisdiction (either matches); ``after`` (an entry's ``(last_at, id)``)
        starts after that entry."""
        sj = t.security_journal
        query = select(sj).where(*self._journal_where(orgs, districts, since))
        if after is not None:
            seen, entry_id = after
            query = query.where(
                or_(sj.c.last_at < seen, and_(sj.c.last_at == seen, sj.c.id > entry_id))
            )
        query = query.order_by(sj.c.last_at.desc(), sj.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [JournalEntry(**dict(row._mapping)) for row in conn.execute(query)]

    def journal_count(
        self, *, orgs: Sequence[str] | None = None, districts: Sequence[str] | None = None,
        since: str | None = None,
    ) -> int:  # fmt: skip
        """How many entries :meth:`journal_entries` would list over all its pages."""
        sj = t.security_journal
        query = select(func.count()).select_from(sj)
        query = query.where(*self._journal_where(orgs, districts, since))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _journal_where(
        orgs: Sequence[str] | None, districts: Sequence[str] | None, since: str | None
    ) -> list[Any]:
        sj = t.security_journal
        where: list[Any] = []
        if orgs is not None or districts is not None:
            where.append(
                or_(sj.c.org.in_(list(orgs or ())), sj.c.district.in_(list(districts or ())))
            )
        if since is not None:
            where.append(sj.c.last_at >= since)
        return where

    # -- reads ---------------------------------------------------------------------------------

    # -- personal data reads (PIPL) ------------------------------------------------------------

    def record_personal_read(
        self, user_id: str, commitment: str, record_kind: str, record_id: str, reason: str | None
    ) -> PersonalRead:
        """Note that ``user_id`` read the personal data behind ``commitment``, and why."""
        row = PersonalRead(uuid.uuid4().hex, format_utc(self._clock()), user_id, commitment,
                           record_kind, record_id, reason)  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(insert(t.personal_data_read).values(**row.to_json()))
        return row

    def personal_reads(
        self, *, user_id: str | None = None, since: str | None = None, limit: int = 100,
        after: tuple[str, str] | None = None,
    ) -> list[PersonalRead]:  # fmt: skip
        """The audit trail of personal data reads, newest first (then by id); ``after`` (a
        read's ``(at, id)``) starts after that read."""
        pr = t.personal_data_read
        query = select(pr).where(*self._reads_where(user_id, since))
        if after is not None:
            at, read_id = after
            query = query.where(or_(pr.c.at < at, and_(pr.c.at == at, pr.c.id > read_id)))
        query = query.order_by(pr.c.at.desc(), pr.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [PersonalRead(**row._mapping) for row in conn.execute(query)]

    def personal_reads_count(self, *, user_id: str | None = None, since: str | None = None) -> int:
        query = select(func.count()).select_from(t.personal_data_read)
        query = query.where(*self._reads_where(user_id, since))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _reads_where(user_id: str | None, since: str | None) -> list[Any]:
        pr = t.personal_data_read
        where: list[Any] = []
        if user_id is not None:
            where.append(pr.c.user_id == user_id)
        if since is not None:
            where.append(pr.c.at >= since)
        return where

    def item_events(self, code: str) -> list[LoggedEvent]:
        """An item's events in chain order."""
        with self.engine.connect() as conn:
            return [_logged(row) for row in conn.execute(item_chain(code))]

    def events_since(
        self, after_index: int, *, limit: int = 5000, until_time: str | None = None
    ) -> list[LoggedEvent]:
        """Events with a log index above ``after_index`` (and ``time <= until_time``), in log
        order."""
        ev = t.event
        query = (
            select(ev.c.log_index, ev.c.log_time, ev.c.envelope)
            .where(ev.c.log_index > after_index)
            .order_by(ev.c.log_index)
            .limit(limit)
        )
        if until_time is not None:
            query = query.where(ev.c.event_time <= until_time)
        with self.engine.connect() as conn:
            return [_logged(row) for row in conn.execute(query)]

    def events_naming(
        self, codes: Collection[str], after_index: int, *, limit: int = 5000,
        also_types: Collection[str] = (),
    ) -> list[LoggedEvent]:  # fmt: skip
        """Events above ``after_index`` that name one of ``codes`` (through ``event_item``)
        or are of one of ``also_types``, in log order."""
        ev, ei = t.event, t.event_item
        naming = select(ei.c.log_index).where(ei.c.item_code.in_(sorted(codes)))
        chosen: ColumnElement[bool] = ev.c.log_index.in_(naming)
        if also_types:
            chosen = or_(chosen, ev.c.type.in_(sorted(also_types)))
        query = (
            select(ev.c.log_index, ev.c.log_time, ev.c.envelope)
            .where(ev.c.log_index > after_index, chosen)
            .order_by(ev.c.log_index)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_logged(row) for row in conn.execute(query)]

    def events_of_type(self, kind: str, since: str) -> list[LoggedEvent]:
        """Events of one type signed at or after ``since``, in log order
        (``ix_event_type_time``)."""
        ev = t.event
        query = (
            select(ev.c.log_index, ev.c.log_time, ev.c.envelope)
            .where(ev.c.type == kind, ev.c.event_time >= since)
            .order_by(ev.c.log_index)
        )
        with self.engine.connect() as conn:
            return [_logged(row) for row in conn.execute(query)]

    def event_by_hash(self, event_hash: bytes) -> LoggedEvent | None:
        """The event with this hash (its primary key), if the log has it."""
        ev = t.event
        query = select(ev.c.log_index, ev.c.log_time, ev.c.envelope).where(
            ev.c.event_hash == event_hash
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _logged(row)

    def all_events(self, *, until_time: str | None = None) -> Iterator[LoggedEvent]:
        """Every event in log order (those with ``time <= until_time`` when given)."""
        after = -1
        while True:
            page = self.events_since(after, until_time=until_time)
            if not page:
                return
            yield from page
            after = page[-1].index

    def item_parties(self, code: str) -> tuple[set[str], set[str]]:
        """The organisations and sites that appear in an item's events, and its issuer."""
        ev, ei = t.event, t.event_item
        query = (
            select(ev.c.org, ev.c.site)
            .join(ei, ei.c.event_hash == ev.c.event_hash)
            .where(ei.c.item_code == code)
        )
        issued = select(t.issued_code.c.org).where(t.issued_code.c.code == code)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            issuer = conn.execute(issued).scalar_one_or_none()
        orgs = {row.org for row in rows} | ({issuer} if issuer else set())
        return orgs, {row.site for row in rows if row.site}

    def issued_code(self, code: str) -> tuple[str, bytes] | None:
        """``(org, signed record bytes)`` of an issued code."""
        query = select(t.issued_code.c.org, t.issued_code.c.record).where(
            t.issued_code.c.code == code
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.org, row.record)

    # -- outbox ------------------------------------------------------------------------------

    def unpublished(self, limit: int = 1000) -> list[tuple[int, str, bytes]]:
        """Outbox rows not yet relayed: ``(log index, kind, entry hash)`` in log order."""
        ob = t.outbox
        query = (
            select(ob.c.log_index, ob.c.kind, ob.c.entry_hash)
            .where(ob.c.published_at.is_(None))
            .order_by(ob.c.log_index)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(row.log_index, row.kind, row.entry_hash) for row in conn.execute(query)]

    def mark_published(self, indices: Sequence[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.log_index.in_(list(indices)))
                .values(published_at=format_utc(self._clock()))
            )

    def log_time_of(self, index: int) -> str | None:
        query = select(t.log_entry.c.log_time).where(t.log_entry.c.idx == index)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def checkpoint_state(self) -> tuple[int, int]:
        """``(log size, checkpoint size)``."""
        query = select(t.log_state.c.size, t.log_state.c.checkpoint_size)
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        return row.size, row.checkpoint_size

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(t.log_state.c.size)).all()


def _logged(row: Any) -> LoggedEvent:
    return LoggedEvent(
        index=row.log_index,
        log_time=row.log_time,
        event=open_envelope(json.loads(row.envelope)),
    )
