"""Insider tampering on a real SQLite file is caught, and the fault names the tampered entry.

Each hypothesis example builds a fresh random ledger through the real ingest
path (devices of two orgs, commissions, uses, decants, aggregations, random
batches and checkpoints), checks that it audits intact, applies exactly one
tamper with raw SQL, and audits again with keys pinned from outside the
database. The ``*_slow`` twins run the same properties with 300 examples
(``-m slow``).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from ledger.builder import DeviceSession
from ledger.canonical import CERTIFICATE, b64encode, canonical_bytes, domain_hash, format_hash
from ledger.certificates import issue_certificate
from ledger.commitments import disclose
from ledger.envelope import open_envelope
from ledger.leaf import LeafRecord
from ledger.merkle import leaf_hash
from ledger.note import NoteVerifier
from ledger.signing import ED25519, Ed25519Signer, key_id_for
from ledger.statements import Receipt
from ledger.store.audit import SqlAuditSource
from ledger.store.engine import make_engine
from ledger.verify import audit
from tests.api._cli import run_cli
from tests.harness import CATALOG, ORIGIN
from tests.ledger.store._ledgers import (
    Built,
    Spec,
    assert_caught,
    build,
    frontier_at,
    ledger_specs,
    make_template,
    raw,
    rebuild_nodes,
    rows,
    scalar,
    truncate,
)

# Shrinking is left out: one example costs ~0.3 s, and a shrink run would outlast the
# per-test timeout and hide the failure; the failing spec is printed unshrunk instead.
FAST = settings(
    max_examples=25,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(FAST, max_examples=300)

_examples = itertools.count()


def _twins(**strategies: Any) -> Callable[[Callable[..., None]], tuple[Any, Any]]:
    """A default-tier property (25 examples) and its ``slow`` twin (300 examples)."""

    def make(body: Callable[..., None]) -> tuple[Any, Any]:
        fast = FAST(given(**strategies)(body))
        slow = pytest.mark.slow(pytest.mark.timeout(3600)(SLOW(given(**strategies)(body))))
        return fast, slow

    return make


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated ledger file that every example copies."""
    return make_template(tmp_path_factory.mktemp("template") / "empty.db")


@contextmanager
def fresh_ledger(tmp_path: Path, template: Path, spec: Spec) -> Iterator[Built]:
    """Build ``spec`` into its own SQLite file, audit it intact, and clean up afterwards."""
    folder = tmp_path / f"example-{next(_examples)}"
    folder.mkdir()
    built = None
    try:
        built = build(spec, folder / "ledger.db", template=template)
        report = built.harness.audit(trusted_checkpoint=built.note)
        assert report.intact, report.faults
        assert report.events == spec.event_count
        assert report.items == len(built.items)
        yield built
    finally:
        if built is not None:
            built.harness.store.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


# -- value strategies ----------------------------------------------------------------------


def flipped(value: bytes) -> st.SearchStrategy[bytes]:
    """``value`` with one byte XOR-ed by a non-zero mask."""

    def flip(args: tuple[int, int]) -> bytes:
        position, mask = args
        out = bytearray(value)
        out[position] ^= mask
        return bytes(out)

    return st.tuples(st.integers(0, len(value) - 1), st.integers(1, 255)).map(flip)


def other_bytes(value: bytes, size: int | None = None) -> st.SearchStrategy[bytes]:
    exact = st.binary(min_size=size, max_size=size) if size else st.binary(max_size=96)
    return st.one_of(flipped(value), exact, st.just(value[:-1])).filter(lambda v: v != value)


def _json_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_leaves(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _json_leaves(item, (*path, position))
    else:
        yield path


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("A" if value[-1:] != "A" else "B")
    return "x"


def json_changed(envelope: bytes) -> st.SearchStrategy[bytes]:
    """The envelope with one JSON scalar changed, re-encoded canonically."""
    parsed = json.loads(envelope)

    def change(path: tuple[Any, ...]) -> bytes:
        copy = json.loads(envelope)
        node = copy
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = _changed(node[path[-1]])
        return canonical_bytes(copy)

    return st.sampled_from(list(_json_leaves(parsed))).map(change)


def timestamps() -> st.SearchStrategy[str]:
    moments = st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    )
    return st.one_of(
        moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
        moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    )


def shifted(moment: str) -> str:
    """The same instant's spelling moved by one second."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in moment else "%Y-%m-%dT%H:%M:%SZ"
    return (datetime.strptime(moment, fmt) + timedelta(seconds=1)).strftime(fmt)


def texts(*plausible: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(plausible), st.text(max_size=40))


EVENT_TYPES = ("commission", "use", "store_in", "transform", "aggregate", "sell", "destroy")
EVENT_COLUMNS = (
    "event_hash",
    "log_index",
    "envelope",
    "type",
    "org",
    "site",
    "event_time",
    "log_time",
    "receipt_signature",
)
EVENT_FAULTS = {
    "event_hash": {"event_hash_mismatch"},
    "log_index": {"event_missing"},
    "envelope": {"event_malformed", "event_hash_mismatch", "event_not_canonical"},
    "type": {"event_column_mismatch"},
    "org": {"event_column_mismatch"},
    "site": {"event_column_mismatch"},
    "event_time": {"event_column_mismatch"},
    "log_time": {"event_column_mismatch"},
    "receipt_signature": {"receipt_signature_invalid"},
}


def event_value(column: str, row: Any, taken_indices: set[int], size: int) -> st.SearchStrategy:
    old = row[column]
    if column == "event_hash":
        strategy: st.SearchStrategy[Any] = other_bytes(bytes(old), 32)
    elif column == "receipt_signature":
        strategy = other_bytes(bytes(old))
    elif column == "envelope":
        strategy = st.one_of(flipped(bytes(old)), json_changed(bytes(old)))
    elif column == "log_index":
        free = [i for i in range(-2, size + 3) if i not in taken_indices]
        strategy = st.sampled_from(free)
    elif column == "type":
        strategy = texts(*EVENT_TYPES)
    elif column == "org":
        strategy = texts("org-a", "org-b", "org-c", "ORG-A")
    elif column == "site":
        strategy = st.one_of(st.none(), texts("site-a", "site-b", "site-c"))
    else:  # event_time, log_time
        strategy = st.one_of(st.just(shifted(old)), timestamps(), st.text(max_size=32))
    return strategy.filter(lambda value: value != old)


# -- (a) any column of any event row ------------------------------------------------------


def _event_column(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        events = rows(built.path, "SELECT * FROM event ORDER BY log_index")
        row = data.draw(st.sampled_from(events), label="event")
        column = data.draw(st.sampled_from(EVENT_COLUMNS), label="column")
        hypothesis_event(column)
        taken = {r["log_index"] for r in events}
        new = data.draw(event_value(column, row, taken, built.size), label="new value")
        with raw(built.path) as conn:
            changed = conn.execute(
                f"UPDATE event SET {column} = ? WHERE log_index = ?",  # noqa: S608
                (new, row["log_index"]),
            ).rowcount
        assert changed == 1
        report = built.harness.audit()
        assert_caught(
            report, EVENT_FAULTS[column], index=row["log_index"], event=bytes(row["event_hash"])
        )


test_event_column_update, test_event_column_update_slow = _twins(
    spec=ledger_specs(), data=st.data()
)(_event_column)


# -- (b) any column of event_item ---------------------------------------------------------

ITEM_LINK_COLUMNS = ("item_code", "seq", "event_hash", "log_index", "role")
ITEM_LINK_FAULTS = {
    "item_code": {"event_item_mismatch"},
    "seq": {"event_item_mismatch"},
    "event_hash": {"unlogged_event_item"},  # the link rows are matched to events by index
    "log_index": {"event_item_mismatch"},
    "role": {"event_item_mismatch"},
}


def link_value(column: str, row: Any, links: list[Any]) -> st.SearchStrategy:
    old = row[column]
    keys = {(r["item_code"], r["seq"]) for r in links}
    if column == "item_code":
        free = sorted({r["item_code"] for r in links if (r["item_code"], row["seq"]) not in keys})
        fresh = st.from_regex(r"[0-9A-Z][0-9A-Z-]{3,12}", fullmatch=True)
        strategy: st.SearchStrategy[Any] = st.one_of(
            st.sampled_from(free) if free else st.nothing(),
            fresh.filter(lambda code: (code, row["seq"]) not in keys),
        )
    elif column == "seq":
        strategy = st.integers(-3, 200).filter(lambda seq: (row["item_code"], seq) not in keys)
    elif column == "event_hash":
        others = sorted({bytes(r["event_hash"]) for r in links} - {bytes(old)})
        strategy = st.one_of(st.sampled_from(others), other_bytes(bytes(old), 32))
    elif column == "log_index":
        strategy = st.integers(-3, 300)
    else:  # role
        strategy = texts("subject", "input", "output", "parent", "child")
    return strategy.filter(lambda value: value != old)


def _event_item_column(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        links = rows(built.path, "SELECT * FROM event_item ORDER BY log_index, item_code")
        row = data.draw(st.sampled_from(links), label="event_item")
        column = data.draw(st.sampled_from(ITEM_LINK_COLUMNS), label="column")
        hypothesis_event(column)
        new = data.draw(link_value(column, row, links), label="new value")
        with raw(built.path) as conn:
            changed = conn.execute(
                f"UPDATE event_item SET {column} = ? WHERE item_code = ? AND seq = ?",  # noqa: S608
                (new, row["item_code"], row["seq"]),
            ).rowcount
        assert changed == 1
        report = built.harness.audit()
        assert_caught(
            report,
            ITEM_LINK_FAULTS[column],
            index=row["log_index"],
            event=bytes(row["event_hash"]),
        )


test_event_item_column_update, test_event_item_column_update_slow = _twins(
    spec=ledger_specs(), data=st.data()
)(_event_item_column)


# -- (c) a deleted event ------------------------------------------------------------------


def _deleted_event(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        events = rows(built.path, "SELECT event_hash, log_index FROM event")
        row = data.draw(st.sampled_from(events), label="event")
        foreign_keys = data.draw(st.booleans(), label="foreign keys on")
        hypothesis_event(f"foreign_keys={foreign_keys}")
        with raw(built.path, foreign_keys=foreign_keys) as conn:
            if foreign_keys:  # the FK forces the insider to remove the chain rows first
                conn.execute("DELETE FROM event_item WHERE event_hash = ?", (row["event_hash"],))
            conn.execute("DELETE FROM event WHERE event_hash = ?", (row["event_hash"],))
        left = scalar(
            built.path, "SELECT COUNT(*) FROM event_item WHERE event_hash = ?", (row["event_hash"],)
        )
        assert (left == 0) == foreign_keys
        report = built.harness.audit()
        assert_caught(
            report, {"event_missing"}, index=row["log_index"], event=bytes(row["event_hash"])
        )


test_deleted_event, test_deleted_event_slow = _twins(spec=ledger_specs(), data=st.data())(
    _deleted_event
)


# -- (d) swapped rows ---------------------------------------------------------------------


def _swapped(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        what = data.draw(st.sampled_from(["envelope", "leaf_input"]), label="swapped column")
        hypothesis_event(what)
        if what == "envelope":
            table, key, column = "event", "log_index", "envelope"
            codes = {"event_hash_mismatch"}
        else:
            table, key, column = "log_entry", "idx", "leaf_input"
            codes = {"leaf_mismatch"}
        found = rows(built.path, f"SELECT {key} AS k, {column} AS v FROM {table}")  # noqa: S608
        first, second = data.draw(
            st.lists(st.sampled_from(found), min_size=2, max_size=2, unique_by=lambda r: r["k"]),
            label="rows",
        )
        with raw(built.path) as conn:
            for target, source in ((first, second), (second, first)):
                conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {key} = ?",  # noqa: S608
                    (source["v"], target["k"]),
                )
        report = built.harness.audit()
        assert_caught(report, codes, index=first["k"])
        assert_caught(report, codes, index=second["k"])


test_swapped_rows, test_swapped_rows_slow = _twins(spec=ledger_specs(), data=st.data())(_swapped)


# -- (e) a forged event appended by an insider --------------------------------------------


class _Impostor:
    """Signs with a fresh key while claiming a real device's key id."""

    algorithm = ED25519

    def __init__(self, key_id: str) -> None:
        self._signer = Ed25519Signer.generate()
        self.public_key = self._signer.public_key
        self.key_id = key_id

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


def _append_entry(conn: Any, kind: str, entry_hash: bytes, log_time: str) -> tuple[int, bytes]:
    """Append a leaf as an insider would: log_entry, Merkle nodes, outbox, log_state."""
    size = conn.execute("SELECT size FROM log_state").fetchone()[0]
    leaf_input = LeafRecord(kind, entry_hash, log_time).encode()  # type: ignore[arg-type]
    hashed = leaf_hash(leaf_input)
    nodes = frontier_at(conn, size).append(hashed)
    conn.execute(
        "INSERT INTO log_entry (idx, kind, entry_hash, log_time, leaf_input) VALUES (?,?,?,?,?)",
        (size, kind, entry_hash, log_time, leaf_input),
    )
    conn.executemany(
        "INSERT INTO log_node (level, idx, hash) VALUES (?, ?, ?)",
        [(level, index, digest) for (level, index), digest in nodes],
    )
    conn.execute(
        "INSERT INTO outbox (log_index, kind, entry_hash) VALUES (?, ?, ?)",
        (size, kind, entry_hash),
    )
    conn.execute("UPDATE log_state SET size = ?, last_log_time = ?", (size + 1, log_time))
    return size, hashed


def _forged(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        harness = built.harness
        variant = data.draw(
            st.sampled_from(["unknown_key", "impersonate", "forged_certificate"]), label="variant"
        )
        hypothesis_event(variant)
        org = data.draw(st.sampled_from(["org-a", "org-b"]), label="org")
        extend = data.draw(st.sampled_from([None, *built.items]), label="extended item")
        fake_log = Ed25519Signer.generate()
        if variant == "impersonate":
            real = data.draw(
                st.sampled_from([c for c in harness.store.certificates() if c.role == "device"]),
                label="impersonated device",
            )
            signer: Any = _Impostor(real.key_id)
            org = real.org
        else:
            signer = Ed25519Signer.generate()
        session = DeviceSession(
            signer=signer,
            org=org,
            actor=disclose("person", "insider").commitment,
            catalog_version=CATALOG,
            heads=dict(harness.heads),
        )
        code = extend or "FORGED-0001"
        envelope = harness.use(session, code, "39") if extend else harness.commission(session, code)
        event = open_envelope(envelope)
        with raw(built.path) as conn:
            log_time = conn.execute("SELECT last_log_time FROM log_state").fetchone()[0]
            cert_index = None
            if variant == "forged_certificate":
                fake_org = Ed25519Signer.generate()
                cert = issue_certificate(
                    fake_org,
                    role="device",
                    subject_algorithm=ED25519,
                    subject_public_key=signer.public_key,
                    org=org,
                    valid_from="2020-01-01T00:00:00Z",
                    valid_until="2036-01-01T00:00:00Z",
                )
                cert_index, _ = _append_entry(conn, "certificate", cert.entry_hash, log_time)
                conn.execute(
                    "INSERT INTO certificate (cert_hash, log_index, key_id, role, org, body) "
                    "VALUES (?, ?, ?, 'device', ?, ?)",
                    (
                        cert.entry_hash,
                        cert_index,
                        cert.key_id,
                        org,
                        canonical_bytes(cert.to_json()),
                    ),
                )
            index, hashed = _append_entry(conn, "event", event.event_hash, log_time)
            receipt = Receipt(ORIGIN, event.event_hash, hashed, index, log_time).signed_by(fake_log)
            conn.execute(
                "INSERT INTO event (event_hash, log_index, envelope, type, org, site, event_time, "
                "log_time, receipt_signature) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    event.event_hash,
                    index,
                    event.canonical,
                    event.body.type,
                    event.body.org,
                    event.body.site,
                    event.body.time,
                    log_time,
                    receipt.signature,
                ),
            )
            (link,) = event.body.items
            conn.execute(
                "INSERT INTO event_item (item_code, seq, event_hash, log_index, role) "
                "VALUES (?, ?, ?, ?, ?)",
                (link.code, link.seq, event.event_hash, index, link.role),
            )
            conn.execute(
                "INSERT OR REPLACE INTO item (code, head_seq, head_hash, head_index) "
                "VALUES (?, ?, ?, ?)",
                (link.code, link.seq, event.event_hash, index),
            )
        report = harness.audit(trusted_checkpoint=built.note)
        key_fault = "event_bad_signature" if variant == "impersonate" else "event_unknown_key"
        assert_caught(report, {key_fault}, index=index, event=event.event_hash)
        assert_caught(report, {"receipt_signature_invalid"}, index=index, event=event.event_hash)
        if cert_index is not None:
            assert_caught(report, {"certificate_invalid"}, index=cert_index)
        # Everything an insider could recompute is self-consistent: only keys give it away.
        structural = {"node_mismatch", "node_count_mismatch", "log_size_mismatch", "chain_broken"}
        assert not structural & {f.code for f in report.faults}, report.faults


test_forged_event, test_forged_event_slow = _twins(spec=ledger_specs(), data=st.data())(_forged)


# -- (f) a certificate's public key swapped -----------------------------------------------


def _swapped_key(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        thorough = data.draw(st.booleans(), label="re-hashed and re-leafed")
        hypothesis_event(f"thorough={thorough}")
        certs = rows(built.path, "SELECT * FROM certificate ORDER BY log_index")
        row = data.draw(st.sampled_from(certs), label="certificate")
        body = json.loads(row["body"])
        new_key = Ed25519Signer.generate().public_key
        body["cert"]["subject"]["public_key"] = b64encode(new_key)
        body["cert"]["subject"]["key_id"] = key_id_for(ED25519, new_key)
        new_body = canonical_bytes(body)
        with raw(built.path) as conn:
            conn.execute(
                "UPDATE certificate SET body = ? WHERE log_index = ?", (new_body, row["log_index"])
            )
            if thorough:  # re-hash the entry, re-leaf it and rebuild the whole tree
                new_hash = domain_hash(CERTIFICATE, body)
                log_time = conn.execute(
                    "SELECT log_time FROM log_entry WHERE idx = ?", (row["log_index"],)
                ).fetchone()[0]
                conn.execute(
                    "UPDATE certificate SET cert_hash = ?, key_id = ? WHERE log_index = ?",
                    (new_hash, body["cert"]["subject"]["key_id"], row["log_index"]),
                )
                conn.execute(
                    "UPDATE log_entry SET entry_hash = ?, leaf_input = ? WHERE idx = ?",
                    (
                        new_hash,
                        LeafRecord("certificate", new_hash, log_time).encode(),
                        row["log_index"],
                    ),
                )
                rebuild_nodes(conn)
        report = built.harness.audit()
        codes = {"certificate_invalid"} if thorough else {"certificate_hash_mismatch"}
        assert_caught(report, codes, index=row["log_index"], event=bytes(row["cert_hash"]))
        if thorough:
            assert "checkpoint_root_mismatch" in {f.code for f in report.faults}


test_swapped_public_key, test_swapped_public_key_slow = _twins(spec=ledger_specs(), data=st.data())(
    _swapped_key
)


# -- (g) truncation and rollback, caught with a checkpoint kept outside ----------------------


def _truncated(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        size = built.size
        trusted = built.note  # saved outside the database when it was signed
        keep = data.draw(st.integers(0, size - 1), label="entries kept")
        with raw(built.path) as conn:
            truncate(conn, keep)
        assert built.harness.store.log_size() == keep
        # A careful insider leaves a self-consistent, smaller ledger ...
        assert built.harness.audit().intact
        # ... which only the trusted checkpoint exposes.
        report = built.harness.audit(trusted_checkpoint=trusted)
        hits = assert_caught(report, {"log_truncated"}, index=size)
        assert re.search(rf"\b{size} entries\b.*\bonly {keep}\b", hits[0].message), hits


test_truncated_log, test_truncated_log_slow = _twins(spec=ledger_specs(), data=st.data())(
    _truncated
)


def _rolled_back(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        size = built.size
        trusted = built.note
        whole_state = data.draw(st.booleans(), label="restore a whole backup")
        hypothesis_event(f"whole_state={whole_state}")
        with raw(built.path) as conn:
            previous = conn.execute(
                "SELECT COALESCE(MAX(size), 0) FROM checkpoint WHERE size < ?", (size,)
            ).fetchone()[0]
            if whole_state:  # a restored backup taken at the previous checkpoint
                truncate(conn, previous)
            else:  # only the newest checkpoint (and its head statements) vanish
                conn.execute("DELETE FROM checkpoint WHERE size = ?", (size,))
                conn.execute("DELETE FROM item_head_statement WHERE checkpoint_size = ?", (size,))
                conn.execute("UPDATE log_state SET checkpoint_size = ?", (previous,))
        assert scalar(built.path, "SELECT checkpoint_size FROM log_state") == previous
        assert built.harness.audit().intact  # self-consistent: only the trusted note can tell
        report = built.harness.audit(trusted_checkpoint=trusted)
        assert_caught(report, {"checkpoint_rolled_back"}, index=size)
        if whole_state:
            assert_caught(report, {"log_truncated"}, index=size)
        else:
            assert {f.code for f in report.faults} == {"checkpoint_rolled_back"}, report.faults


test_rolled_back_checkpoint, test_rolled_back_checkpoint_slow = _twins(
    spec=ledger_specs(), data=st.data()
)(_rolled_back)


# -- (h) item heads -----------------------------------------------------------------------


def head_value(column: str, row: Any, events: list[Any], codes: list[str]) -> st.SearchStrategy:
    old = row[column]
    if column == "code":
        strategy: st.SearchStrategy[Any] = st.from_regex(
            r"[0-9A-Z][0-9A-Z-]{3,12}", fullmatch=True
        ).filter(lambda code: code not in codes)
    elif column == "head_hash":
        strategy = st.one_of(
            st.sampled_from([bytes(e["event_hash"]) for e in events]), other_bytes(bytes(old), 32)
        )
    else:  # head_seq, head_index
        strategy = st.integers(-2, 100)
    return strategy.filter(lambda value: value != old)


def _item_head(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        items = rows(built.path, "SELECT * FROM item ORDER BY code")
        events = rows(built.path, "SELECT event_hash FROM event")
        row = data.draw(st.sampled_from(items), label="item")
        column = data.draw(
            st.sampled_from(["code", "head_seq", "head_hash", "head_index"]), label="column"
        )
        new = data.draw(head_value(column, row, events, [r["code"] for r in items]), label="new")
        with raw(built.path) as conn:
            conn.execute(
                f"UPDATE item SET {column} = ? WHERE code = ?",  # noqa: S608
                (new, row["code"]),
            )
        report = built.harness.audit()
        codes = {"item_head_missing"} if column == "code" else {"item_head_mismatch"}
        assert_caught(report, codes, item=row["code"])
        if column == "code":
            assert_caught(report, {"item_head_mismatch"}, item=new)


test_item_head_update, test_item_head_update_slow = _twins(spec=ledger_specs(), data=st.data())(
    _item_head
)


# -- (i) Merkle nodes ---------------------------------------------------------------------


def _node(tmp_path: Path, template: Path, spec: Spec, data: st.DataObject) -> None:
    with fresh_ledger(tmp_path, template, spec) as built:
        delete = data.draw(st.booleans(), label="delete the node")
        hypothesis_event(f"delete={delete}")
        nodes = rows(built.path, "SELECT * FROM log_node ORDER BY level, idx")
        row = data.draw(st.sampled_from(nodes), label="node")
        with raw(built.path) as conn:
            if delete:
                conn.execute(
                    "DELETE FROM log_node WHERE level = ? AND idx = ?", (row["level"], row["idx"])
                )
            else:
                new = data.draw(other_bytes(bytes(row["hash"]), 32), label="new hash")
                conn.execute(
                    "UPDATE log_node SET hash = ? WHERE level = ? AND idx = ?",
                    (new, row["level"], row["idx"]),
                )
        report = built.harness.audit()
        hits = assert_caught(report, {"node_mismatch"}, index=row["idx"] << row["level"])
        assert any(f"({row['level']}, {row['idx']})" in f.message for f in hits), hits
        if delete:
            assert "node_count_mismatch" in {f.code for f in report.faults}


test_merkle_node, test_merkle_node_slow = _twins(spec=ledger_specs(), data=st.data())(_node)


# -- the real CLI --------------------------------------------------------------------------


FIXED = Spec(
    devices=("org-a", "org-b", "org-a"),
    ops=(
        ("commission", 0),
        ("commission", 1),
        ("commission", 2),
        ("flush",),
        ("use", 1, 0),
        ("decant", 0, 0, 2),
        ("store_in", 2, 3),
        ("checkpoint",),
        ("aggregate", 1, (1, 2)),
        ("use", 0, 4),
        ("use", 2, 5),
    ),
)


def test_verify_log_cli_exit_codes(tmp_path: Path) -> None:
    built = build(FIXED, tmp_path / "ledger.db")
    url = f"sqlite:///{built.path}"
    log_key, root_key = tmp_path / "log.vkey", tmp_path / "root.vkey"
    log_key.write_text(built.harness.trusted().log.vkey() + "\n")
    root_key.write_text(NoteVerifier.for_key("root", built.harness.root.public_key).vkey() + "\n")
    (tmp_path / "trusted.note").write_text(built.note)
    keys = ("--log-key", str(log_key), "--root-key", str(root_key))
    target = rows(built.path, "SELECT log_index, event_hash FROM event ORDER BY log_index")[3]
    entries = built.size
    built.harness.store.engine.dispose()

    intact = run_cli("verify-log", "--db", url, "--json", *keys, cwd=tmp_path)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    report = json.loads(intact.stdout)
    assert report["intact"] is True
    assert report["entries"] == entries
    assert report["faults"] == []

    with_note = run_cli(
        "verify-log", "--db", url, "--json", *keys, "--trusted-checkpoint",
        str(tmp_path / "trusted.note"), cwd=tmp_path,
    )  # fmt: skip
    assert with_note.returncode == 0, with_note.stdout + with_note.stderr

    with raw(built.path) as conn:
        conn.execute(
            "UPDATE event SET type = 'destroy' WHERE log_index = ?", (target["log_index"],)
        )
    damaged = run_cli("verify-log", "--db", url, "--json", *keys, cwd=tmp_path)
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    report = json.loads(damaged.stdout)
    assert report["intact"] is False
    assert {
        "code": "event_column_mismatch",
        "index": target["log_index"],
        "event": format_hash(bytes(target["event_hash"])),
    }.items() <= report["faults"][0].items()
    human = run_cli("verify-log", "--db", url, *keys, cwd=tmp_path)
    assert human.returncode == 1
    assert "DAMAGED" in human.stdout
    assert f"index={target['log_index']}" in human.stdout

    # A log key of another log: every receipt and checkpoint fails, exit 1 (damage, not error).
    other = tmp_path / "other.vkey"
    other.write_text(NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key).vkey())
    wrong = run_cli(
        "verify-log", "--db", url, "--json", "--log-key", str(other), "--root-key",
        str(root_key), cwd=tmp_path,
    )  # fmt: skip
    assert wrong.returncode == 1
    assert "receipt_signature_invalid" in {f["code"] for f in json.loads(wrong.stdout)["faults"]}

    missing_db = run_cli(
        "verify-log", "--db", f"sqlite:///{tmp_path / 'nowhere' / 'none.db'}", "--json", *keys,
        cwd=tmp_path,
    )  # fmt: skip
    assert missing_db.returncode == 2, missing_db.stdout + missing_db.stderr
    assert json.loads(missing_db.stdout)["intact"] is None

    missing_key = run_cli(
        "verify-log", "--db", url, "--json", "--log-key", str(tmp_path / "absent.vkey"),
        "--root-key", str(root_key), cwd=tmp_path,
    )  # fmt: skip
    assert missing_key.returncode == 2
    assert json.loads(missing_key.stdout)["intact"] is None

    no_keystore = run_cli(
        "verify-log", "--db", url, "--json", "--keys", str(tmp_path / "no-keys"), cwd=tmp_path
    )
    assert no_keystore.returncode == 2
    assert "no trusted key" in json.loads(no_keystore.stdout)["error"]

    bad_key = tmp_path / "bad.vkey"
    bad_key.write_text("not a verifier key\n")
    malformed = run_cli(
        "verify-log", "--db", url, "--json", "--log-key", str(bad_key), "--root-key",
        str(root_key), cwd=tmp_path,
    )  # fmt: skip
    assert malformed.returncode == 2


def test_audit_source_reads_back_what_the_harness_sees(tmp_path: Path) -> None:
    """The raw file and a brand-new engine agree with the harness (no hidden state)."""
    built = build(FIXED, tmp_path / "ledger.db")
    try:
        engine = make_engine(f"sqlite:///{built.path}")
        try:
            report = audit(SqlAuditSource(engine), built.harness.trusted())
        finally:
            engine.dispose()
        assert report.intact
        assert report.entries == scalar(built.path, "SELECT COUNT(*) FROM log_entry") == built.size
        assert report.events == FIXED.event_count == 9
        assert report.certificates == 5  # 2 orgs + 3 devices
        assert report.checkpoints == len(built.checkpoints) == 2
        assert base64.b64decode(built.note.splitlines()[2]) == report.root_hash
    finally:
        built.harness.store.engine.dispose()


# -- every column, deterministically ------------------------------------------------------
#
# The properties above draw one column per example, so 25 examples need not reach every
# column. This sweep tampers with each column of each table once (on fresh copies of one
# ledger file), so every run covers all of them.


def _flip(value: bytes, position: int = 0) -> bytes:
    out = bytearray(value)
    out[position] ^= 0x01
    return bytes(out)


def _sweep_cases(path: Path) -> list[tuple[str, str, tuple[Any, ...], set[str], dict[str, Any]]]:
    events = rows(path, "SELECT * FROM event ORDER BY log_index")
    size = scalar(path, "SELECT size FROM log_state")
    cases: list[tuple[str, str, tuple[Any, ...], set[str], dict[str, Any]]] = []
    for ev in (events[0], events[len(events) // 2], events[-1]):
        where = {"index": ev["log_index"], "event": bytes(ev["event_hash"])}
        envelope = bytes(ev["envelope"])
        site = None if ev["site"] is not None else "site-z"
        for column, new in (
            ("event_hash", _flip(bytes(ev["event_hash"]))),
            ("log_index", size + 7),
            ("envelope", _flip(envelope, len(envelope) // 2)),
            ("envelope", envelope.replace(b'"v":1', b'"v":2')),
            ("type", "destroy"),
            ("org", "org-z"),
            ("site", site),
            ("event_time", shifted(ev["event_time"])),
            ("log_time", shifted(ev["log_time"])),
            ("receipt_signature", _flip(bytes(ev["receipt_signature"]), 63)),
        ):
            sql = f"UPDATE event SET {column} = ? WHERE log_index = ?"  # noqa: S608
            cases.append(
                (f"event.{column}", sql, (new, ev["log_index"]), EVENT_FAULTS[column], where)
            )
    link = rows(path, "SELECT * FROM event_item ORDER BY log_index DESC")[0]
    for column, new in (
        ("item_code", "ZZZZ-0001"),
        ("seq", link["seq"] + 1000),
        ("event_hash", _flip(bytes(link["event_hash"]))),
        ("log_index", link["log_index"] + 1000),
        ("role", "child" if link["role"] != "child" else "parent"),
    ):
        sql = f"UPDATE event_item SET {column} = ? WHERE item_code = ? AND seq = ?"  # noqa: S608
        cases.append(
            (
                f"event_item.{column}",
                sql,
                (new, link["item_code"], link["seq"]),
                ITEM_LINK_FAULTS[column],
                {"index": link["log_index"]},
            )
        )
    item = rows(path, "SELECT * FROM item ORDER BY code")[1]
    for column, new, code in (
        ("code", "ZZZZ-0002", "item_head_missing"),
        ("head_seq", item["head_seq"] + 1, "item_head_mismatch"),
        ("head_hash", _flip(bytes(item["head_hash"])), "item_head_mismatch"),
        ("head_index", item["head_index"] - 1, "item_head_mismatch"),
    ):
        sql = f"UPDATE item SET {column} = ? WHERE code = ?"  # noqa: S608
        cases.append((f"item.{column}", sql, (new, item["code"]), {code}, {"item": item["code"]}))
    entry = rows(path, "SELECT * FROM log_entry WHERE kind = 'event' ORDER BY idx")[2]
    for column, new, codes in (
        ("kind", "certificate", {"leaf_mismatch"}),
        ("entry_hash", _flip(bytes(entry["entry_hash"])), {"leaf_mismatch"}),
        ("log_time", shifted(entry["log_time"]), {"leaf_mismatch"}),
        ("leaf_input", _flip(bytes(entry["leaf_input"]), 5), {"leaf_malformed", "leaf_mismatch"}),
    ):
        sql = f"UPDATE log_entry SET {column} = ? WHERE idx = ?"  # noqa: S608
        cases.append(
            (f"log_entry.{column}", sql, (new, entry["idx"]), codes, {"index": entry["idx"]})
        )
    cert = rows(path, "SELECT * FROM certificate WHERE role = 'device' ORDER BY log_index")[0]
    for column, new, codes in (
        ("cert_hash", _flip(bytes(cert["cert_hash"])), {"certificate_hash_mismatch"}),
        ("log_index", size + 9, {"certificate_missing"}),
        ("key_id", "0" * 32, {"certificate_column_mismatch"}),
        ("role", "org", {"certificate_column_mismatch"}),
        ("org", "org-z", {"certificate_column_mismatch"}),
        (
            "body",
            bytes(cert["body"]).replace(b'"valid_until":"2036', b'"valid_until":"2035'),
            {"certificate_hash_mismatch"},
        ),
    ):
        sql = f"UPDATE certificate SET {column} = ? WHERE log_index = ?"  # noqa: S608
        cases.append(
            (
                f"certificate.{column}",
                sql,
                (new, cert["log_index"]),
                codes,
                {"index": cert["log_index"], "event": bytes(cert["cert_hash"])},
            )
        )
    checkpoint = rows(path, "SELECT * FROM checkpoint ORDER BY size")[0]
    statement = rows(
        path, "SELECT * FROM item_head_statement WHERE checkpoint_size = ?", (checkpoint["size"],)
    )[0]
    size_where = {"index": checkpoint["size"]}
    stmt_where = {"item": statement["item_code"]}
    stmt_key = (statement["item_code"], statement["checkpoint_size"])
    stmt_sql = "UPDATE item_head_statement SET {} = ? WHERE item_code = ? AND checkpoint_size = ?"
    cases += [
        (
            "checkpoint.root_hash",
            "UPDATE checkpoint SET root_hash = ? WHERE size = ?",
            (_flip(bytes(checkpoint["root_hash"])), checkpoint["size"]),
            {"checkpoint_column_mismatch"},
            size_where,
        ),
        (
            "checkpoint.note",
            "UPDATE checkpoint SET note = ? WHERE size = ?",
            (checkpoint["note"].replace("\n", "\n\n", 1), checkpoint["size"]),
            {"checkpoint_signature_invalid"},
            size_where,
        ),
        (
            "item_head_statement.seq",
            stmt_sql.format("seq"),
            (statement["seq"] + 1, *stmt_key),
            {"head_statement_invalid"},
            stmt_where,
        ),
        (
            "item_head_statement.head_hash",
            stmt_sql.format("head_hash"),
            (_flip(bytes(statement["head_hash"])), *stmt_key),
            {"head_statement_invalid"},
            stmt_where,
        ),
        (
            "item_head_statement.signature",
            stmt_sql.format("signature"),
            (_flip(bytes(statement["signature"])), *stmt_key),
            {"head_statement_invalid"},
            stmt_where,
        ),
    ]
    return cases


def test_every_column_of_every_table_is_covered(tmp_path: Path, template: Path) -> None:
    built = build(FIXED, tmp_path / "pristine.db", template=template)
    keys = built.harness.trusted()
    built.harness.store.engine.dispose()  # folds the WAL: the file alone is the ledger
    cases = _sweep_cases(built.path)
    assert len(cases) == 3 * 10 + 5 + 4 + 4 + 6 + 5
    for number, (label, sql, params, codes, where) in enumerate(cases):
        copy = tmp_path / f"case-{number}.db"
        shutil.copyfile(built.path, copy)
        with raw(copy) as conn:
            assert conn.execute(sql, params).rowcount == 1, label
        engine = make_engine(f"sqlite:///{copy}")
        try:
            report = audit(SqlAuditSource(engine), keys, trusted_checkpoint=built.note)
        finally:
            engine.dispose()
        try:
            assert_caught(report, codes, **where)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from exc
        copy.unlink()
