"""The rescan's fast read of the log: bodies rebuilt without validating them again, from
bytes checked against the hash their log entry commits to.

Equality: on a simulated ledger every fact equals what the strict path (``json`` and strict
pydantic validation, as the store read before) gives, and an engine fed either finds the
same. Tampering: bytes changed after ingest are refused with a typed error (never judged,
never a crash), by the store, by a rescan and on the command line.
"""

from __future__ import annotations

import gc
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine as Sql
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from api.anomaly import new_engine
from api.cli_findings import app
from api.replay import YOUNG_THRESHOLD, _fewer_collections
from ledger.envelope import event_hash_of
from ledger.errors import TamperedEntryError
from ledger.events import _BODY_ADAPTER
from ledger.rules import EventFact, LedgerFact
from ledger.store import schema as t
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from ledger.trusted_bodies import trusted_body
from sim.simulator import simulate


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    path = folder / "ledger.db"
    simulate(f"sqlite:///{path}", items=60, seed=11, anomaly_rate=0.3,
             labels=folder / "labels.jsonl", keys=folder / "keys")  # fmt: skip
    return path


@pytest.fixture
def ledger(simulated: Path, tmp_path: Path) -> Iterator[tuple[Sql, Path]]:
    path = tmp_path / "ledger.db"
    with sqlite3.connect(simulated) as source, sqlite3.connect(path) as target:
        source.backup(target)
    engine = make_engine(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


def _strict_facts(store: FindingStore) -> list[LedgerFact]:
    """The facts as the store read them before the trusted path: every body validated."""
    facts = list(store.all_facts())
    with store.engine.connect() as conn:
        envelopes = dict(conn.execute(select(t.event.c.log_index, t.event.c.envelope)).all())
    strict: list[LedgerFact] = []
    for fact in facts:
        if isinstance(fact, EventFact):
            raw = json.loads(envelopes[fact.index])["body"]
            body = _BODY_ADAPTER.validate_python(raw, strict=True)
            fact = EventFact(fact.index, fact.log_time, fact.event_hash, body)
        strict.append(fact)
    return strict


def _same_model(a: object, b: object) -> None:
    """Equal, and built alike: same classes, same fields set, same field order."""
    assert type(a) is type(b)
    if isinstance(a, BaseModel):
        assert isinstance(b, BaseModel)
        assert a.model_fields_set == b.model_fields_set
        assert list(a.__dict__) == list(b.__dict__)
        for name, value in a.__dict__.items():
            _same_model(value, b.__dict__[name])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_model(x, y)
    else:
        assert a == b


def test_every_trusted_fact_equals_the_strictly_validated_one(ledger: tuple[Sql, Path]) -> None:
    store = FindingStore(ledger[0])
    fast = list(store.all_facts())
    strict = _strict_facts(store)
    events = [f for f in fast if isinstance(f, EventFact)]
    assert len(events) > 500
    assert {f.body.type for f in events} >= {"commission", "ship", "receive", "use", "sell"}
    assert len(fast) == len(strict)
    for mine, theirs in zip(fast, strict, strict=True):
        assert mine == theirs
        if isinstance(mine, EventFact):
            assert isinstance(theirs, EventFact)
            _same_model(mine.body, theirs.body)
            assert mine.body.model_dump() == theirs.body.model_dump()


def test_paged_reads_give_the_streamed_facts(ledger: tuple[Sql, Path]) -> None:
    store = FindingStore(ledger[0])
    streamed = list(store.all_facts(page=97))
    paged: list[LedgerFact] = []
    after = -1
    while True:
        page = store.facts(after, limit=113)
        if page.last == after:
            break
        paged.extend(page.facts)
        after = page.last
    assert paged == streamed
    until = streamed[len(streamed) // 2]
    assert list(store.all_facts(until_index=until.index)) == streamed[: len(streamed) // 2 + 1]


def test_an_engine_fed_either_path_finds_the_same(ledger: tuple[Sql, Path]) -> None:
    store = FindingStore(ledger[0])
    fast = new_engine().feed_all(store.all_facts())
    strict = new_engine().feed_all(_strict_facts(store))
    assert len(fast) > 10
    assert [f.to_json() for f in fast] == [f.to_json() for f in strict]


def test_a_body_without_its_type_or_a_required_field_is_refused() -> None:
    with pytest.raises(KeyError):
        trusted_body({"type": "teleport"})
    with pytest.raises(KeyError):
        trusted_body({"type": "use", "v": 1})


def _event_row(sql: Sql, offset: int = 40) -> Any:
    with sql.connect() as conn:
        return conn.execute(
            select(t.event).order_by(t.event.c.log_index).offset(offset).limit(1)
        ).one()


def _tamper(sql: Sql, log_index: int, **values: object) -> None:
    with sql.begin() as conn:
        conn.execute(update(t.event).where(t.event.c.log_index == log_index).values(**values))


def _reworded(envelope: bytes) -> bytes:
    """The same envelope with its body's time one second later: still a valid body."""
    raw = json.loads(envelope)
    time = raw["body"]["time"]
    raw["body"]["time"] = time[:17] + ("01" if time[17:19] != "01" else "02") + time[19:]
    _BODY_ADAPTER.validate_python(raw["body"], strict=True)
    return json.dumps(raw, separators=(",", ":"), sort_keys=True).encode()


def _refused(sql: Sql, index: int) -> None:
    store = FindingStore(sql)
    with pytest.raises(TamperedEntryError) as caught:
        list(store.all_facts())
    assert caught.value.code == "log_entry_tampered"
    assert caught.value.context["log_index"] == index
    with pytest.raises(TamperedEntryError):
        store.facts(index - 1, limit=5)
    assert store.facts(-1, limit=index).facts  # the entries before it still read


def test_a_valid_body_changed_after_ingest_is_refused(ledger: tuple[Sql, Path]) -> None:
    sql = ledger[0]
    row = _event_row(sql)
    _tamper(sql, row.log_index, envelope=_reworded(row.envelope))
    _refused(sql, row.log_index)


def test_a_changed_body_with_its_event_hash_changed_too_is_refused(
    ledger: tuple[Sql, Path],
) -> None:
    sql, path = ledger
    row = _event_row(sql)
    envelope = _reworded(row.envelope)
    sql.dispose()
    with sqlite3.connect(path) as conn:  # foreign keys off: event_item is rewritten too
        conn.execute("UPDATE event SET envelope = ?, event_hash = ? WHERE log_index = ?",
                     (envelope, event_hash_of(envelope), row.log_index))  # fmt: skip
        conn.execute("UPDATE event_item SET event_hash = ? WHERE event_hash = ?",
                     (event_hash_of(envelope), row.event_hash))  # fmt: skip
    _refused(sql, row.log_index)  # the leaf still commits to the old hash


def test_bytes_that_are_not_json_are_refused_not_a_crash(ledger: tuple[Sql, Path]) -> None:
    sql = ledger[0]
    row = _event_row(sql)
    _tamper(sql, row.log_index, envelope=b"\x00 not an envelope")
    _refused(sql, row.log_index)


def test_a_deleted_event_is_refused_not_skipped(ledger: tuple[Sql, Path]) -> None:
    sql = ledger[0]
    row = _event_row(sql)
    with sql.begin() as conn:
        conn.execute(delete(t.event_item).where(t.event_item.c.event_hash == row.event_hash))
        conn.execute(delete(t.event).where(t.event.c.log_index == row.log_index))
    _refused(sql, row.log_index)


def test_the_rescan_command_refuses_a_tampered_ledger_cleanly(ledger: tuple[Sql, Path]) -> None:
    sql, path = ledger
    row = _event_row(sql)
    _tamper(sql, row.log_index, envelope=_reworded(row.envelope))
    sql.dispose()
    result = CliRunner().invoke(app, ["rescan", "--db", f"sqlite:///{path}"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "does not match the hash" in result.output
    assert f"log_index={row.log_index}" in result.output


def test_replaying_collects_less_often_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    with _fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), _fewer_collections():
        raise RuntimeError
    assert gc.get_threshold() == before
