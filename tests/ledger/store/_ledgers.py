"""Random ledgers on a real SQLite file, and raw-SQL access for insider tampering.

Used by the tamper property tests: a hypothesis strategy draws an abstract
lifecycle plan (devices of two orgs, commissions, uses, decants, aggregations,
batch boundaries and checkpoints) and :func:`build` plays it through the real
ingest path of a :class:`tests.harness.Harness`.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import event as sqlalchemy_event

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import JsonValue, format_hash
from ledger.ingest import Ingestor
from ledger.merkle import Frontier, NodeId, frontier_ids, leaf_hash
from ledger.signing import ED25519, Ed25519Signer
from ledger.store.migrate import open_store
from ledger.verify import AuditReport, Fault
from tests.harness import ANYONE, ORIGIN, Harness

ORGS = ("org-a", "org-b")
Op = tuple[Any, ...]


@dataclass(frozen=True)
class Spec:
    """An abstract ledger: which org each device belongs to, and what happens."""

    devices: tuple[str, ...]
    ops: tuple[Op, ...]

    @property
    def event_count(self) -> int:
        return sum(1 for op in self.ops if op[0] not in ("flush", "checkpoint"))


@st.composite
def ledger_specs(draw: st.DrawFn, min_events: int = 20, max_events: int = 60) -> Spec:
    """2-4 devices of two orgs, 3-12 items, 20-60 events, random batches and checkpoints."""
    extra = draw(st.lists(st.sampled_from(ORGS), min_size=0, max_size=2))
    devices = (*ORGS, *extra)
    dev = st.integers(0, len(devices) - 1)
    n_events = draw(st.integers(min_events, max_events))
    max_items = draw(st.integers(3, 12))
    items = 0
    ops: list[Op] = []
    for done in range(n_events):
        remaining = n_events - done
        room = max_items - items
        need = max(0, 3 - items)
        if items == 0 or need >= remaining:
            kind = "commission"
        else:
            choices = ["use", "store_in"]
            if room > 0:
                choices += ["commission", "decant", "aggregate"]
            kind = draw(st.sampled_from(choices))
        if kind == "commission":
            ops.append(("commission", draw(dev)))
            items += 1
        elif kind in ("use", "store_in"):
            ops.append((kind, draw(dev), draw(st.integers(0, items - 1))))
        elif kind == "decant":
            outputs = draw(st.integers(1, min(3, room)))
            ops.append(("decant", draw(dev), draw(st.integers(0, items - 1)), outputs))
            items += outputs
        else:
            children = draw(
                st.lists(st.integers(0, items - 1), min_size=1, max_size=3, unique=True)
            )
            ops.append(("aggregate", draw(dev), tuple(children)))
            items += 1
        cut = draw(st.integers(0, 9))
        if cut == 0:
            ops.append(("checkpoint",))
        elif cut <= 3:
            ops.append(("flush",))
    return Spec(devices=devices, ops=tuple(ops))


@dataclass
class Built:
    """A ledger built from a :class:`Spec`, with the note of its final checkpoint."""

    harness: Harness
    path: Path
    note: str
    items: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.harness.store.log_size()


def _code(n: int) -> str:
    return f"ITEM-{n:04d}"


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def build(spec: Spec, path: Path, *, template: Path | None = None, fsync: bool = False) -> Built:
    """Play ``spec`` through the real ingest path into a fresh SQLite file at ``path``.

    Unless ``fsync`` is set, the store's connections skip fsync (``synchronous=OFF``, set
    after the engine's own ``FULL``): durability is not under test here, and the many
    small commits of a random ledger would otherwise dominate the run time. Crash
    safety is tested with the production settings in ``test_crash.py``. ``template``
    names an empty ledger made by :func:`make_template`, copied instead of migrating.
    """
    url = f"sqlite:///{path}"
    if template is None:
        harness = Harness.create(url)
    else:  # a copy of an already migrated, empty ledger: skips Alembic on every example
        shutil.copyfile(template, path)
        store = open_store(
            url, origin=ORIGIN, migrate=False, require_issued_codes=False, custody_policy=ANYONE
        )
        root, log = Ed25519Signer.generate(), Ed25519Signer.generate()
        ingestor = Ingestor(
            store, log_signer=log, root_algorithm=ED25519, root_public_key=root.public_key
        )
        harness = Harness(url=url, store=store, root=root, log=log, ingestor=ingestor)
    if not fsync:
        sqlalchemy_event.listen(harness.store.engine, "connect", _no_fsync)
        harness.store.engine.dispose()
    devices = [harness.device(org) for org in spec.devices]
    items: list[str] = []
    pending: list[dict[str, JsonValue]] = []
    checkpoints: list[str] = []

    def flush() -> None:
        if not pending:
            return
        outcomes = harness.submit(pending)
        assert len(outcomes) == len(pending)
        for outcome in outcomes:
            assert isinstance(outcome, Accepted), outcome
            assert not outcome.duplicate
        pending.clear()

    def new_item() -> str:
        code = _code(len(items))
        items.append(code)
        return code

    for op in spec.ops:
        kind = op[0]
        if kind == "flush":
            flush()
            continue
        if kind == "checkpoint":
            flush()
            note = harness.checkpoint()
            if note is not None:
                checkpoints.append(note)
            continue
        device: DeviceSession = devices[op[1]]
        if kind == "commission":
            pending.append(harness.commission(device, new_item()))
        elif kind == "use":
            pending.append(harness.use(device, items[op[2]]))
        elif kind == "store_in":  # no site: leaves NULL in event.site
            pending.append(
                device.event("store_in", [items[op[2]]], {"location": "bay 1"}, time=harness.time())
            )
        elif kind == "decant":
            source = items[op[2]]
            outputs = [new_item() for _ in range(op[3])]
            pending.append(
                device.event(
                    "transform",
                    [(source, "input"), *[(code, "output") for code in outputs]],
                    {
                        "kind": "decant",
                        "inputs": [{"code": source, "quantity": {"value": "9", "unit": "kg"}}],
                        "outputs": [
                            {"code": code, "quantity": {"value": "3", "unit": "kg"}}
                            for code in outputs
                        ],
                    },
                    time=harness.time(),
                    site="site-b",
                )
            )
        elif kind == "aggregate":
            children = [items[i] for i in op[2]]
            parent = new_item()
            pending.append(
                device.event(
                    "aggregate",
                    [(parent, "parent"), *[(code, "child") for code in children]],
                    {"parent": parent, "children": children},
                    time=harness.time(),
                    site="site-a",
                )
            )
        else:  # pragma: no cover - a strategy bug
            raise AssertionError(op)
    flush()
    final = harness.checkpoint()
    if final is not None:
        checkpoints.append(final)
    latest = harness.store.latest_checkpoint()
    assert latest is not None
    assert latest[0] == harness.store.log_size()
    return Built(harness, path, latest[1], items, checkpoints)


def make_template(path: Path) -> Path:
    """Migrate and initialise an empty ledger file to copy for each example."""
    harness = Harness.create(f"sqlite:///{path}")
    harness.store.engine.dispose()  # the last close folds the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


# -- raw database access, as an insider with write access would have ------------------------


@contextmanager
def raw(path: Path, *, foreign_keys: bool = False) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the ledger file; committed on success."""
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        conn.row_factory = sqlite3.Row
        with conn:
            yield conn


def rows(path: Path, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    with raw(path) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(path: Path, sql: str, params: Sequence[Any] = ()) -> Any:
    with raw(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


def read_nodes(conn: sqlite3.Connection) -> dict[NodeId, bytes]:
    return {
        (r["level"], r["idx"]): bytes(r["hash"]) for r in conn.execute("SELECT * FROM log_node")
    }


def frontier_at(conn: sqlite3.Connection, size: int) -> Frontier:
    nodes = read_nodes(conn)
    return Frontier.from_nodes(size, [nodes[node] for node in frontier_ids(size)])


def rebuild_nodes(conn: sqlite3.Connection) -> None:
    """Recompute every Merkle node from the stored leaf inputs (a self-consistent tree)."""
    frontier = Frontier.empty()
    nodes: list[tuple[NodeId, bytes]] = []
    for row in conn.execute("SELECT leaf_input FROM log_entry ORDER BY idx"):
        nodes.extend(frontier.append(leaf_hash(bytes(row["leaf_input"]))))
    conn.execute("DELETE FROM log_node")
    conn.executemany(
        "INSERT INTO log_node (level, idx, hash) VALUES (?, ?, ?)",
        [(level, index, digest) for (level, index), digest in nodes],
    )


def truncate(conn: sqlite3.Connection, keep: int) -> None:
    """Cut the log back to its first ``keep`` entries and fix up every derived row."""
    for table, column in (
        ("event_item", "log_index"),
        ("event", "log_index"),
        ("certificate", "log_index"),
        ("outbox", "log_index"),
        ("log_entry", "idx"),
    ):
        conn.execute(f"DELETE FROM {table} WHERE {column} >= ?", (keep,))  # noqa: S608
    conn.execute("DELETE FROM log_node WHERE ((idx + 1) << level) > ?", (keep,))
    conn.execute("DELETE FROM checkpoint WHERE size > ?", (keep,))
    conn.execute("DELETE FROM item_head_statement WHERE checkpoint_size > ?", (keep,))
    for (code,) in conn.execute("SELECT code FROM item").fetchall():
        head = conn.execute(
            "SELECT seq, event_hash, log_index FROM event_item WHERE item_code = ? "
            "ORDER BY seq DESC LIMIT 1",
            (code,),
        ).fetchone()
        if head is None:
            conn.execute("DELETE FROM item WHERE code = ?", (code,))
        else:
            conn.execute(
                "UPDATE item SET head_seq = ?, head_hash = ?, head_index = ? WHERE code = ?",
                (head[0], head[1], head[2], code),
            )
    latest = conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoint").fetchone()[0]
    conn.execute("UPDATE log_state SET size = ?, checkpoint_size = ?", (keep, latest))


# -- judging reports -----------------------------------------------------------------------


def naming(
    report: AuditReport,
    *,
    index: int | None = None,
    event: bytes | None = None,
    item: str | None = None,
) -> list[Fault]:
    """The faults that name the given log index, event hash or item."""
    event_ref = None if event is None else format_hash(event)
    return [
        fault
        for fault in report.faults
        if (index is not None and fault.index == index)
        or (event_ref is not None and fault.event == event_ref)
        or (item is not None and fault.item == item)
    ]


def assert_caught(
    report: AuditReport,
    codes: set[str],
    *,
    index: int | None = None,
    event: bytes | None = None,
    item: str | None = None,
) -> list[Fault]:
    """The audit failed, and a fault with one of ``codes`` names the tampered entry."""
    assert not report.intact, "tampering went unnoticed"
    hits = naming(report, index=index, event=event, item=item)
    assert hits, f"no fault names index={index} event={event!r} item={item}: {report.faults}"
    assert {fault.code for fault in hits} & codes, (
        f"expected one of {sorted(codes)} naming the entry, got {hits}"
    )
    return hits
