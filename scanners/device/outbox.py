"""The device's outbox: events signed on the device, kept until the log has them.

A local SQLite file (``outbox.sqlite``), WAL with ``synchronous=FULL``: an event is either
wholly in the outbox, with the device's view of its items' heads moved on, or not at all,
whatever moment the process dies at. Nothing leaves the outbox: an event ends ``sent`` (with
the log's receipt), ``superseded`` (rebased or re-signed, pointing at its replacement) or
``discarded`` (by a person, with a reason); ``conflict`` and ``rejected`` wait for a decision.

States::

    pending ──sync──► sent
       │ └──sync──► conflict ──rebase / re-sign──► superseded (+ a new pending event)
       │                  └────discard─────────► discarded
       └──sync──► rejected ──retry──► pending;  ──discard──► discarded

Order: events of one item go to the log in the order they were signed. An event waits
(``blocked``) while an earlier event of any of its items is in conflict or rejected.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from ledger.builder import DeviceSession, Head
from ledger.canonical import JsonValue, canonical_bytes, format_hash, parse_hash
from ledger.envelope import event_hash_of, open_envelope
from ledger.errors import LedgerError
from ledger.events import EventBody, may_start_chain
from ledger.signing import Signer
from ledger.timefmt import format_utc
from ledger.units import CatalogUnits, check_event_units
from scanners.device.home import DeviceError

State = Literal["pending", "sent", "conflict", "rejected", "superseded", "discarded"]
WAITING: tuple[State, ...] = ("pending", "conflict", "rejected")
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    id          INTEGER PRIMARY KEY,
    event_hash  TEXT NOT NULL UNIQUE,
    envelope    TEXT NOT NULL,
    type        TEXT NOT NULL,
    codes       TEXT NOT NULL,
    event_time  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN
                  ('pending', 'sent', 'conflict', 'rejected', 'superseded', 'discarded')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    receipt     TEXT,
    duplicate   INTEGER NOT NULL DEFAULT 0,
    problem     TEXT,
    replaced_by INTEGER REFERENCES event (id),
    replaces    INTEGER REFERENCES event (id),
    note        TEXT
);
CREATE INDEX IF NOT EXISTS event_state ON event (state, id);
CREATE TABLE IF NOT EXISTS head (
    code      TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    source    TEXT NOT NULL CHECK (source IN ('device', 'server'))
);
"""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One row of the outbox."""

    id: int
    event_hash: str
    envelope: dict[str, Any]
    type: str
    codes: tuple[str, ...]
    event_time: str
    created_at: str
    state: State
    attempts: int
    receipt: dict[str, Any] | None
    duplicate: bool
    problem: dict[str, Any] | None
    replaced_by: int | None
    replaces: int | None
    note: str | None

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.envelope["body"])

    def links(self) -> list[dict[str, Any]]:
        return [dict(link) for link in self.body["items"]]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "event_hash": self.event_hash, "type": self.type,
            "codes": list(self.codes), "time": self.event_time, "created_at": self.created_at,
            "state": self.state, "attempts": self.attempts, "receipt": self.receipt,
            "duplicate": self.duplicate, "problem": self.problem,
            "replaced_by": self.replaced_by, "replaces": self.replaces, "note": self.note,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Author:
    """What the device puts in every event it signs."""

    signer: Signer
    org: str
    actor: str
    catalog_version: str


def _now() -> str:
    return format_utc(datetime.now(UTC))


class Outbox:
    """The outbox file. One connection per process; every change is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._write():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise DeviceError(
                    f"{path} was written by a newer chemtrace (schema {version})",
                    code="outbox_too_new",
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():  # not executescript: it would commit this transaction
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: other processes wait, a crash rolls back."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- recording -------------------------------------------------------------------------

    def record(
        self,
        author: Author,
        event_type: str,
        items: Sequence[str | tuple[str, str]],
        data: Mapping[str, JsonValue],
        *,
        time: str,
        site: str | None = None,
        geo: Mapping[str, str] | None = None,
        co_actor: str | None = None,
        units: CatalogUnits | None = None,
        chemicals: Mapping[str, str | None] | None = None,
    ) -> OutboxEvent:
        """Sign an event linking each item to the device's view of its head, and keep it.

        With ``units`` (the device's catalogs), a quantity its form cannot weigh is refused
        before anything is signed, by the server's own check
        (:func:`ledger.units.check_event_units`; ``chemicals`` is what the device knows of
        each item's chemical), so no event is queued that the server would refuse.

        An item whose head this device has never seen starts a chain (seq 0); that is only
        valid where the event may start one (a commission, a decant's outputs, a new pallet).

        Raises:
            DeviceError: ``head_unknown`` for an item that needs its head and has none here.
            LedgerError: the event is invalid (validated exactly as the server will),
                ``unit_not_convertible`` among them.
        """
        known = dict(chemicals or {})

        def check(body: EventBody) -> None:
            if units is not None:
                check_event_units(body, units, known)

        links = [(item, "subject") if isinstance(item, str) else item for item in items]
        codes = [code for code, _ in links]
        with self._write() as db:
            heads = self._heads(db, codes)
            headless = [code for code, role in links
                        if code not in heads and not may_start_chain(event_type, role)]  # fmt: skip
            if headless:
                raise DeviceError(
                    f"this device does not know the chain head of {', '.join(headless)}: "
                    "connect once (`chemtrace scan pull CODE`) or load it from the server",
                    code="head_unknown",
                )
            session = DeviceSession(author.signer, author.org, author.actor,
                                    author.catalog_version, heads=heads)  # fmt: skip
            envelope = session.event(event_type, items, data, time=time, site=site, geo=geo,
                                     co_actor=co_actor, check=check)  # fmt: skip
            open_envelope(envelope)  # the server's own validation, before anything is kept
            row_id, _ = self._insert(db, envelope, state="pending")
            self._save_heads(db, {code: session.heads[code] for code in codes}, "device")
        return self.get(row_id)

    def _insert(
        self, db: sqlite3.Connection, envelope: Mapping[str, Any], *, state: State,
        replaces: int | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        """Keep a signed envelope; return its row id and its event hash."""
        canonical = canonical_bytes(dict(envelope))
        digest = event_hash_of(canonical)
        body = envelope["body"]
        codes = [str(link["code"]) for link in body["items"]]
        now = _now()
        cursor = db.execute(
            "INSERT INTO event (event_hash, envelope, type, codes, event_time, created_at,"
            " updated_at, state, replaces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (format_hash(digest), canonical.decode(), body["type"], json.dumps(codes),
             body["time"], now, now, state, replaces),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid, digest

    # -- heads -------------------------------------------------------------------------------

    @staticmethod
    def _heads(db: sqlite3.Connection, codes: Sequence[str]) -> dict[str, Head]:
        marks = ",".join("?" * len(codes))
        rows = db.execute(f"SELECT code, seq, hash FROM head WHERE code IN ({marks})", codes)  # noqa: S608
        return {row["code"]: Head(row["seq"], parse_hash(row["hash"])) for row in rows}

    @staticmethod
    def _save_heads(db: sqlite3.Connection, heads: Mapping[str, Head], source: str) -> None:
        db.executemany(
            "INSERT INTO head (code, seq, hash, source) VALUES (?, ?, ?, ?) ON CONFLICT (code)"
            " DO UPDATE SET seq = excluded.seq, hash = excluded.hash, source = excluded.source",
            [(code, head.seq, format_hash(head.head_hash), source) for code, head in heads.items()],
        )

    def learn_head(self, code: str, seq: int, head_hash: bytes) -> None:
        """Adopt the server's head for ``code``, unless this device has events after it."""
        with self._write() as db:
            if not self._waits_on(db, code):
                self._save_heads(db, {code: Head(seq, head_hash)}, "server")

    def head(self, code: str) -> Head | None:
        return self._heads(self._db, [code]).get(code)

    @staticmethod
    def _waits_on(db: sqlite3.Connection, code: str) -> bool:
        """Whether a waiting event of this device links ``code`` (asked of SQLite's JSON
        functions, not by reading every waiting row)."""
        row = db.execute(
            "SELECT 1 FROM event WHERE state IN ('pending', 'conflict', 'rejected') AND EXISTS"
            " (SELECT 1 FROM json_each(event.codes) WHERE json_each.value = ?) LIMIT 1",
            (code,),
        ).fetchone()
        return row is not None

    # -- reading -----------------------------------------------------------------------------

    def get(self, event_id: int) -> OutboxEvent:
        row = self._db.execute("SELECT * FROM event WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise DeviceError(f"the outbox has no event {event_id}", code="no_such_event")
        return _event(row)

    def events(self, *states: State) -> list[OutboxEvent]:
        if states:
            marks = ",".join("?" * len(states))
            query = f"SELECT * FROM event WHERE state IN ({marks}) ORDER BY id"  # noqa: S608
            return [_event(row) for row in self._db.execute(query, states)]
        return [_event(row) for row in self._db.execute("SELECT * FROM event ORDER BY id")]

    def newest(self, code: str, event_type: str, *states: State) -> OutboxEvent | None:
        """The newest ``event_type`` event linking ``code`` in one of ``states``, if any."""
        marks = ",".join("?" * len(states))
        row = self._db.execute(
            f"SELECT * FROM event WHERE type = ? AND state IN ({marks}) AND EXISTS"  # noqa: S608
            " (SELECT 1 FROM json_each(event.codes) WHERE json_each.value = ?)"
            " ORDER BY id DESC LIMIT 1",
            (event_type, *states, code),
        ).fetchone()
        return None if row is None else _event(row)

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) AS n FROM event GROUP BY state")
        counts: dict[str, int] = dict.fromkeys(get_args(State), 0)
        counts.update({row["state"]: row["n"] for row in rows})
        return counts

    def sendable(self) -> tuple[list[OutboxEvent], list[OutboxEvent]]:
        """Pending events in signing order that may go now, and those blocked behind an earlier
        conflicted or rejected event of one of their items."""
        ready, blocked, stuck_codes = [], [], set[str]()
        for event in self.events(*WAITING):
            if event.state != "pending":
                stuck_codes.update(event.codes)
            elif stuck_codes.intersection(event.codes):
                blocked.append(event)
                stuck_codes.update(event.codes)
            else:
                ready.append(event)
        return ready, blocked

    def dependents(self, event: OutboxEvent) -> list[OutboxEvent]:
        """Later waiting events that chain on ``event`` (directly, or through another item)."""
        codes, found = set(event.codes), []
        for later in self.events(*WAITING):
            if later.id > event.id and codes.intersection(later.codes):
                found.append(later)
                codes.update(later.codes)
        return found

    # -- outcomes ----------------------------------------------------------------------------

    def apply_outcomes(self, outcomes: Sequence[tuple[int, State, Mapping[str, Any] | None,
                                                     bool]]) -> None:  # fmt: skip
        """Store one sync round's outcomes at once: (id, new state, receipt or problem,
        duplicate). Pending events left pending only count an attempt."""
        now = _now()
        with self._write() as db:
            for event_id, state, detail, duplicate in outcomes:
                if state == "sent":
                    db.execute(
                        "UPDATE event SET state = 'sent', receipt = ?, duplicate = ?, problem ="
                        " NULL, attempts = attempts + 1, updated_at = ? WHERE id = ?",
                        (json.dumps(detail), int(duplicate), now, event_id),
                    )
                else:
                    db.execute(
                        "UPDATE event SET state = ?, problem = ?, attempts = attempts + 1,"
                        " updated_at = ? WHERE id = ? AND state IN ('pending', 'conflict',"
                        " 'rejected')",
                        (state, None if detail is None else json.dumps(detail), now, event_id),
                    )

    def replace(
        self, chain: Sequence[tuple[OutboxEvent, Mapping[str, Any]]], note: str
    ) -> list[OutboxEvent]:
        """Supersede each old event by its re-signed envelope, in order, in one transaction;
        the device's heads move to the new events."""
        new_ids: list[int] = []
        with self._write() as db:
            for old, envelope in chain:
                current = db.execute("SELECT state FROM event WHERE id = ?", (old.id,)).fetchone()
                if current is None or current["state"] not in WAITING:
                    raise DeviceError(f"event {old.id} is no longer waiting", code="outbox_changed")
                new_id, digest = self._insert(db, envelope, state="pending", replaces=old.id)
                db.execute(
                    "UPDATE event SET state = 'superseded', replaced_by = ?, note = ?,"
                    " updated_at = ? WHERE id = ?",
                    (new_id, note, _now(), old.id),
                )
                new_ids.append(new_id)
                for link in envelope["body"]["items"]:
                    self._save_heads(db, {str(link["code"]): Head(int(link["seq"]), digest)},
                                     "device")  # fmt: skip
        return [self.get(new_id) for new_id in new_ids]

    def discard(self, event: OutboxEvent, reason: str, server_heads: Mapping[str, Head]) -> None:
        """A person decided this event will never be sent. It stays, marked, with the reason;
        the device's view of its items falls back to ``server_heads`` where known."""
        if not reason.strip():
            raise DeviceError("say why the event is discarded", code="reason_required")
        with self._write() as db:
            updated = db.execute(
                "UPDATE event SET state = 'discarded', note = ?, updated_at = ? WHERE id = ?"
                " AND state IN ('pending', 'conflict', 'rejected')",
                (reason.strip(), _now(), event.id),
            ).rowcount
            if updated != 1:
                raise DeviceError(f"event {event.id} is no longer waiting", code="outbox_changed")
            fallback = {c: h for c, h in server_heads.items() if not self._waits_on(db, c)}
            self._save_heads(db, fallback, "server")

    def retry(self, event: OutboxEvent) -> None:
        """Send a rejected event again (after the cause was fixed, e.g. a licence logged)."""
        with self._write() as db:
            db.execute(
                "UPDATE event SET state = 'pending', updated_at = ? WHERE id = ?"
                " AND state = 'rejected'",
                (_now(), event.id),
            )

    def check(self) -> list[str]:
        """Integrity problems (empty when sound): SQLite's own check, and every stored envelope
        re-opened and re-hashed."""
        problems = [row[0] for row in self._db.execute("PRAGMA integrity_check")]
        problems = [] if problems == ["ok"] else problems
        for event in self.events():
            try:
                signed = open_envelope(event.envelope)
            except LedgerError as exc:
                problems.append(f"event {event.id}: {exc}")
                continue
            if format_hash(signed.event_hash) != event.event_hash:
                problems.append(f"event {event.id}: stored hash does not match its envelope")
        return problems


def _event(row: sqlite3.Row) -> OutboxEvent:
    return OutboxEvent(
        id=row["id"], event_hash=row["event_hash"], envelope=json.loads(row["envelope"]),
        type=row["type"], codes=tuple(json.loads(row["codes"])), event_time=row["event_time"],
        created_at=row["created_at"], state=row["state"], attempts=row["attempts"],
        receipt=None if row["receipt"] is None else json.loads(row["receipt"]),
        duplicate=bool(row["duplicate"]),
        problem=None if row["problem"] is None else json.loads(row["problem"]),
        replaced_by=row["replaced_by"], replaces=row["replaces"], note=row["note"],
    )  # fmt: skip
