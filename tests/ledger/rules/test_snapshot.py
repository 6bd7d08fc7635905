"""Engine-state snapshots: a restored engine judges the rest of the ledger exactly as a straight
run does, and a snapshot that was altered, made under other rules or catalogs, or sealed
under another key is refused before anything in it is unpickled."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import struct
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.catalog import CatalogRegistry
from ledger.rules import Engine, Finding
from ledger.rules.snapshot import (
    FORMAT,
    MAC_SIZE,
    MAGIC,
    Binding,
    SnapshotRefusedError,
    canonical_state,
    catalog_digest,
    check_inputs,
    open_sealed,
    restore,
    rules_digest,
    seal,
)
from ledger.rules.world import when
from tests.ledger.rules.scenario import CATALOGS, City, rules_config
from tests.ledger.rules.test_engine import Step, _flow

KEY = bytes(range(32))


def _binding(engine: Engine, **changes: object) -> Binding:
    made = Binding(
        position=engine.position, leaf_hash="aa" * 32, root="bb" * 32, clock="2026-01-01T00:00:00Z",
        journal_at="2026-01-01T00:00:00Z", rules_hash=rules_digest(engine.config),
        catalog_hash=catalog_digest(engine.state.chemistry.catalogs),
    )  # fmt: skip
    return replace(made, **changes)  # type: ignore[arg-type]


def _reopen(data: bytes, config: object = None, key: bytes = KEY) -> Engine:
    binding, state = open_sealed(data, key)
    engine = Engine(config or City().config, CATALOGS)  # type: ignore[arg-type]
    check_inputs(binding, engine)
    restore(engine, state)
    return engine


def _json(found: list[Finding]) -> list[str]:
    return [json.dumps(f.to_json(), sort_keys=True) for f in found]


def _delivered_city() -> City:
    city = City()
    city.commission("DRUM-1")
    city.ship(["DRUM-1"])
    return city


@settings(max_examples=15, deadline=None)
@given(steps=st.lists(Step, min_size=1, max_size=30), data=st.data())
def test_a_restored_engine_continues_exactly_as_a_straight_run(
    steps: list[tuple[str, int, int, bool]], data: st.DataObject
) -> None:
    city = _flow(steps)
    facts = city.facts
    end = max(when(f.log_time).timestamp() for f in facts) + 400 * 86400
    straight = Engine(city.config, CATALOGS)
    expected = straight.feed_all(facts) + straight.advance(end)

    cut = data.draw(st.integers(0, len(facts)), label="cut")
    first, unsealed = Engine(city.config, CATALOGS), Engine(city.config, CATALOGS)
    found = first.feed_all(facts[:cut])
    unsealed.feed_all(facts[:cut])
    if cut and data.draw(st.booleans(), label="advance before the snapshot"):
        midway = when(facts[cut - 1].log_time).timestamp() + 3600
        found += first.advance(midway)
        unsealed.advance(midway)
    sealed = seal(first, _binding(first), KEY)
    second = _reopen(sealed, city.config)
    assert canonical_state(second) == canonical_state(first)
    found += second.feed_all(facts[cut:]) + second.advance(end)
    unsealed.feed_all(facts[cut:])
    unsealed.advance(end)

    # the findings are those of a straight run; the state is that of the same schedule of
    # feeds and advances without the snapshot (an advance midway moves internal counters)
    assert _json(found) == _json(expected)
    assert canonical_state(second) == canonical_state(unsealed)
    assert second.pending() == straight.pending()


def test_a_restored_engine_keeps_an_armed_deadline_and_what_it_already_found() -> None:
    city = _delivered_city()
    engine = _reopen(seal(city.engine, _binding(city.engine), KEY))
    assert [kind for _, kind, _ in engine.pending()] == [k for _, k, _ in city.engine.pending()]
    fired = engine.advance(city.at(days=30))
    assert [f.rule for f in fired].count("custody.transit_overdue") == 1
    # what the first engine found is remembered: feeding the same again raises nothing new
    again = _reopen(seal(city.engine, _binding(city.engine), KEY))
    again.advance(city.at(days=30))
    assert again.advance(city.at(days=60)) == []


def test_the_canonical_state_does_not_depend_on_set_history() -> None:
    one, two = _delivered_city().engine, _delivered_city().engine
    two.state.emitted |= {"x", "y"}
    two.state.emitted -= {"x", "y"}
    assert canonical_state(one) == canonical_state(two)
    two.state.emitted.add("z")
    assert canonical_state(one) != canonical_state(two)


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["magic", "header", "state", "mac"])
def test_a_flipped_byte_anywhere_is_refused(where: str) -> None:
    engine = _delivered_city().engine
    data = bytearray(seal(engine, _binding(engine), KEY))
    (length,) = struct.unpack_from(">I", data, len(MAGIC))
    offset = {"magic": 2, "header": len(MAGIC) + 4 + length // 2,
              "state": len(MAGIC) + 4 + length + 10, "mac": len(data) - 1}[where]  # fmt: skip
    data[offset] ^= 0x01
    with pytest.raises(SnapshotRefusedError) as refused:
        open_sealed(bytes(data), KEY)
    assert refused.value.reason in {"bad_mac", "not_a_snapshot"}


def test_an_intact_snapshot_opens() -> None:
    engine = _delivered_city().engine
    binding, _ = open_sealed(seal(engine, _binding(engine), KEY), KEY)
    assert binding.position == engine.position and binding.format == FORMAT


def test_another_deployments_key_is_refused() -> None:
    engine = _delivered_city().engine
    with pytest.raises(SnapshotRefusedError, match="bad_mac"):
        open_sealed(seal(engine, _binding(engine), KEY), bytes(32))


def test_a_snapshot_of_other_rules_is_refused_and_of_the_same_rules_accepted() -> None:
    engine = _delivered_city().engine
    sealed = seal(engine, _binding(engine), KEY)
    other = rules_config(transport={"slack_hours": "2.01"})
    with pytest.raises(SnapshotRefusedError, match="rules_changed"):
        _reopen(sealed, other)
    assert _reopen(sealed, rules_config()).position == engine.position


def test_a_swapped_rules_or_catalog_hash_is_refused() -> None:
    engine = _delivered_city().engine
    for field, reason in (("rules_hash", "rules_changed"), ("catalog_hash", "catalogs_changed")):
        sealed = seal(engine, _binding(engine, **{field: "0" * 64}), KEY)
        with pytest.raises(SnapshotRefusedError, match=reason):
            _reopen(sealed)


def test_a_snapshot_of_other_catalogs_is_refused() -> None:
    engine = _delivered_city().engine
    binding, _ = open_sealed(seal(engine, _binding(engine), KEY), KEY)
    fewer = Engine(engine.config, CatalogRegistry(list(CATALOGS)[:-1]))
    with pytest.raises(SnapshotRefusedError, match="catalogs_changed"):
        check_inputs(binding, fewer)


def test_an_older_format_is_refused_even_with_a_valid_mac() -> None:
    engine = _delivered_city().engine
    with pytest.raises(SnapshotRefusedError, match="format"):
        open_sealed(seal(engine, _binding(engine, format="chemtrace.engine-snapshot/0"), KEY), KEY)


def test_an_authentic_snapshot_holding_foreign_types_is_not_unpickled() -> None:
    """Defence in depth should the key leak: only the state's own types are loaded."""
    engine = _delivered_city().engine
    header = json.dumps(_binding(engine).to_json(), sort_keys=True).encode()
    evil = pickle.dumps({"state": __import__("os").getcwd})  # any callable outside ledger
    body = MAGIC + struct.pack(">I", len(header)) + header + evil
    sealed = body + hmac.new(KEY, body, hashlib.sha256).digest()
    binding, state = open_sealed(sealed, KEY)
    with pytest.raises(SnapshotRefusedError, match=r"(posix|os)\.getcwd"):
        restore(Engine(engine.config, CATALOGS), state)
    assert len(sealed) - len(body) == MAC_SIZE and binding.position == engine.position


def test_sealing_refuses_a_binding_at_another_position() -> None:
    engine = _delivered_city().engine
    with pytest.raises(ValueError, match="binding at"):
        seal(engine, _binding(engine, position=engine.position - 1), KEY)


def test_a_snapshot_carries_no_copy_of_the_rules_or_catalogs() -> None:
    engine = _delivered_city().engine
    sealed = seal(engine, _binding(engine), KEY)
    assert b"RulesConfig" not in sealed and b"CatalogUnits" not in sealed
    assert engine.state.timers


def test_an_authentic_snapshot_cannot_reach_a_module_a_ledger_module_imports() -> None:
    """``ledger.store.files.os`` is importable through ``ledger.``, and still refused."""
    engine = _delivered_city().engine
    evil = b"\x80\x04cledger.store.files\nos\n."  # GLOBAL 'ledger.store.files os'
    with pytest.raises(SnapshotRefusedError, match="is not engine state"):
        restore(Engine(engine.config, CATALOGS), evil)
