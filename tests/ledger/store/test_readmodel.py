"""The item-state read model answers exactly as a full replay of the log, now and at any
time, however it was caught up (incrementally, after a crash, by two projectors, rebuilt)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import JsonValue, format_hash
from ledger.envelope import open_envelope
from ledger.events import Ship
from ledger.state import ItemState, Projection
from ledger.store import cursor, readmodel
from ledger.store import schema as t
from ledger.store.readmodel import Held, ItemReadModel
from ledger.store.service import ServiceStore
from ledger.timefmt import format_utc, parse_utc
from tests.harness import Harness

BASE = datetime(2026, 10, 1, tzinfo=UTC)
ORGS = ("org-a", "org-b", "org-c")
SITES = ("site-a", "site-b")
UNITS = ("kg", "L")
ZERO_HASH = "sha256:" + "00" * 32


def kilograms(_version: str, _chemical: str | None, value: Decimal, unit: str) -> Decimal | None:
    """A stand-in for the catalog's measures: a litre weighs 1.5 kg, a piece nothing known."""
    return {"kg": value, "L": value * Decimal("1.5")}.get(unit)


def signed_time(minute: int, style: int) -> str:
    """A signed time written three ways (whole seconds, a short or a full fraction): the
    text order inventory's ``at=`` compares in is then not always the instants' order."""
    moment = BASE + timedelta(minutes=minute, seconds=minute % 7)
    whole = f"{moment:%Y-%m-%dT%H:%M:%S}"
    return (f"{whole}Z", f"{whole}.5Z", f"{whole}.000000Z")[style]


Op = tuple[str, int, int, int, int, int]
"""(kind, item, org, site or unit or other item, minute, time style)."""

KINDS = ("commission", "use", "ship", "receive", "loss", "dispose", "store_in", "transform",
         "count", "recover", "destroy")  # fmt: skip
ops = st.lists(
    st.tuples(
        st.sampled_from(KINDS), st.integers(0, 4), st.integers(0, 2), st.integers(0, 4),
        st.integers(-20, 200), st.integers(0, 2),
    ),
    min_size=1, max_size=25,
)  # fmt: skip


class World:
    """A ledger, a device per organisation and what the plan needs to refer back to."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.devices: dict[str, DeviceSession] = {org: harness.device(org) for org in ORGS}
        self.ships: dict[str, str] = {}
        self.losses: dict[str, str] = {}
        self.round = itertools.count()

    def envelope(self, op: Op, prefix: str) -> dict[str, JsonValue]:
        kind, item, org, other, minute, style = op
        code, device = f"{prefix}-{item}", self.devices[ORGS[org]]
        site, unit = SITES[other % 2], UNITS[other % 2]
        time = signed_time(minute, style)
        qty = {"value": str(other + 1), "unit": unit}
        match kind:
            case "commission":
                data: dict[str, JsonValue] = {"chemical": str(1 + other % 2), "quantity": qty,
                                              "lot": "L1", "packaging": "drum"}  # fmt: skip
                return device.event("commission", [code], data, time=time, site=site)
            case "use":
                return device.event("use", [code], {"quantity": qty}, time=time, site=site)
            case "count":
                data = {"count_id": "C1", "quantity": qty}
                return device.event("stock_count", [code], data, time=time, site=site)
            case "ship":
                data = {"carrier": ORGS[(org + 1) % 3], "consignee": ORGS[(org + 2) % 3],
                        "consignee_site": SITES[(other + 1) % 2]}  # fmt: skip
                return device.event("ship", [code], data, time=time, site=site)
            case "receive":
                data = {"ship": self.ships.get(code, ZERO_HASH)}
                if other > 2:
                    data["quantity"] = qty
                return device.event("receive", [code], data, time=time, site=site)
            case "loss":
                return device.event("report_loss", [code], {"kind": "loss"}, time=time, site=site)
            case "recover":
                data = {"report": self.losses.get(code, ZERO_HASH)}
                return device.event("recover", [code], data, time=time, site=site)
            case "dispose":
                data = {"disposer": ORGS[org], "method": "incineration"}
                return device.event("dispose", [code], data, time=time, site=site)
            case "destroy":
                return device.event("destroy", [code], {"method": "crushed"}, time=time, site=site)
            case "store_in":
                return device.event("store_in", [code], {}, time=time, site=site)
            case _:
                # a new item (its chemical drawn from the input) or an existing one
                output = f"{prefix}-{(item + 1 + other) % 5}" if other % 2 else f"{prefix}-T{other}"
                if output == code:
                    output = f"{prefix}-X{next(self.round)}"
                data = {
                    "kind": "decant",
                    "inputs": [{"code": code, "quantity": qty}],
                    "outputs": [{"code": output, "quantity": {"value": "1", "unit": "kg"}}],
                }
                return device.event("transform", [(code, "input"), (output, "output")], data,
                                    time=time, site=site)  # fmt: skip

    def play(
        self, plan: list[Op], prefix: str, after: Callable[[], object], *, start: bool = True
    ) -> int:
        """Commission the five items, then submit the plan's events one by one (one the
        ledger rejects is skipped), calling ``after`` between some of them; the number
        accepted."""
        starts: list[Op] = [("commission", n, n % 3, n, (n * 37) % 90 - 10, n % 3)
                            for n in range(5) if start]  # fmt: skip
        accepted = 0
        for number, op in enumerate(starts + plan):
            heads = dict(self.harness.heads)
            envelope = self.envelope(op, prefix)
            outcome = self.harness.submit([envelope])[0]
            if not isinstance(outcome, Accepted):
                self.harness.heads.clear()
                self.harness.heads.update(heads)
                continue
            accepted += 1
            opened = open_envelope(envelope)
            code = opened.body.items[0].code
            if op[0] == "ship":
                self.ships[code] = format_hash(opened.event_hash)
            if op[0] == "loss":
                self.losses[code] = format_hash(opened.event_hash)
            if number % 3 == 2:
                after()
        return accepted


def replay(engine: Any, *, at: str | None = None, moment: str | None = None) -> dict[str, Held]:
    """What today's readers fold: inventory's ``all_events(until_time=at)``, or the
    emergency view's cut on the instant ``moment``, with its versions and ships."""
    projection = Projection(kilograms=kilograms)
    versions: dict[str, str] = {}
    ships: dict[str, int] = {}
    for logged in ServiceStore(engine).all_events(until_time=at):
        body = logged.event.body
        if moment is not None and parse_utc(body.time) > parse_utc(moment):
            continue
        projection.apply(body)
        for link in body.items:
            versions[link.code] = body.catalog_version
            if isinstance(body, Ship):
                ships[link.code] = logged.index
    return {c: Held(s, versions[c], ships.get(c)) for c, s in projection.items.items()}


def replay_upto(engine: Any, size: int) -> dict[str, Held]:
    """The fold of the log's first ``size`` entries, in log order (a checkpoint's)."""
    projection = Projection(kilograms=kilograms)
    versions: dict[str, str] = {}
    ships: dict[str, int] = {}
    for logged in ServiceStore(engine).all_events():
        if logged.index >= size:
            continue
        projection.apply(logged.event.body)
        for link in logged.event.body.items:
            versions[link.code] = logged.event.body.catalog_version
            if isinstance(logged.event.body, Ship):
                ships[link.code] = logged.index
    return {c: Held(s, versions[c], ships.get(c)) for c, s in projection.items.items()}


def by_code(held: list[Held]) -> dict[str, Held]:
    return {h.state.code: h for h in held}


def probe_times(plan: list[Op]) -> list[tuple[str, str]]:
    """(text, instant) pairs at, between and around the plan's event times."""
    minutes = sorted({op[4] for op in plan} | {-30, 500})
    times = []
    for minute in minutes:
        for style in range(3):
            text = signed_time(minute, style)
            times.append((text, format_utc(parse_utc(text))))
        text = signed_time(minute, 0)
        later = parse_utc(text) + timedelta(microseconds=250_000)
        times.append((format_utc(later), format_utc(later)))
    return times


@pytest.fixture
def world(ledger: Harness) -> World:
    return World(ledger)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=ops, page=st.sampled_from([1, 2, 5000]))  # fmt: skip
def test_the_model_answers_as_a_full_replay(
    world: World, plan: list[Op], page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cursor, "PAGE", page)
    engine = world.harness.store.engine
    model = ItemReadModel(engine, kilograms)
    world.play(plan, f"P{next(world.round)}", model.catch_up)
    assert by_code(model.states()) == replay(engine)
    for text, instant in probe_times(plan):
        assert by_code(model.states(at=text)) == replay(engine, at=text), text
        assert by_code(model.states(moment=instant)) == replay(engine, moment=instant), instant
    indices = sorted(logged.index for logged in ServiceStore(engine).all_events())
    for size in {0, *indices, indices[-1] + 1}:  # every log position, irregular items too
        assert by_code(model.states(size=size)) == replay_upto(engine, size), size
    site = model.states(at=signed_time(100, 0), where={"site": "site-a"})
    assert by_code(site) == {c: h for c, h in replay(engine, at=signed_time(100, 0)).items()
                             if h.state.site == "site-a"}  # fmt: skip
    assert model.verify() is None


def test_a_transform_into_an_item_dated_before_its_commission_draws_the_inputs_chemical(
    world: World,
) -> None:
    """At a time after the transform but before the output's (later logged, earlier made)
    commission, the output exists only through the transform, with its input's chemical:
    the replay of that irregular output must fold its input too (found by Hypothesis)."""
    model = ItemReadModel(world.harness.store.engine, kilograms)
    # BACK-1 is commissioned with chemical 2 at minute 48, BACK-0 with chemical 1 at minute 0;
    # then BACK-0 is decanted into BACK-1 at minute 43, before BACK-1's commission
    plan = [("commission", 0, 0, 0, 0, 0), ("commission", 1, 0, 1, 48, 0),
            ("transform", 0, 0, 5, 43, 0)]  # fmt: skip
    world.play(plan, "BACK", lambda: None, start=False)
    at = signed_time(45, 0)
    assert replay(world.harness.store.engine, at=at)["BACK-1"].state.chemical == "1"
    assert by_code(model.states(at=at)) == replay(world.harness.store.engine, at=at)


def test_times_going_back_make_an_item_irregular_and_it_is_replayed(world: World) -> None:
    model = ItemReadModel(world.harness.store.engine, kilograms)
    world.play([("commission", 0, 0, 0, 10, 0), ("use", 0, 0, 0, 5, 0)], "BACK", lambda: None,
               start=False)  # fmt: skip
    assert model.catch_up() == 2
    with world.harness.store.engine.connect() as conn:
        irregular = set(conn.execute(select(t.item_state_irregular.c.code)).scalars())
    assert irregular == {"BACK-0"}
    # at minute 7 the use (minute 5) is in, the commission (minute 10) is not: no one
    # row of the item's says so (its first starts at minute 10)
    seven = signed_time(7, 0)
    [held] = model.states(at=seven)
    assert (held.state.last_event, held.state.chemical) == ("use", None)
    assert by_code([held]) == replay(world.harness.store.engine, at=seven)


def test_a_crash_after_the_append_leaves_the_model_behind_and_a_read_catches_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = world.harness.store.engine
    model = ItemReadModel(engine, kilograms)
    world.play([("commission", n, 0, 0, n, 0) for n in range(4)], "CRASH", lambda: None,
               start=False)  # fmt: skip

    def crash(*_: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(ItemReadModel, "_write", crash)
    with pytest.raises(RuntimeError):
        model.catch_up()
    monkeypatch.undo()
    with engine.connect() as conn:
        assert conn.execute(select(t.readmodel_cursor.c.upto)).scalar_one() == 0
        assert conn.execute(select(t.item_state)).first() is None
    assert sorted(h.state.code for h in model.states()) == [f"CRASH-{n}" for n in range(4)]
    assert model.verify() is None


def test_two_projectors_at_once_apply_each_event_once(world: World) -> None:
    engine = world.harness.store.engine
    world.play([(k, n % 5, n % 3, n % 4, n, 0) for n, k in enumerate(KINDS * 3)], "TWO",
               lambda: None)  # fmt: skip
    models = [ItemReadModel(engine, kilograms) for _ in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(model: ItemReadModel) -> None:
        start.wait()
        try:
            model.catch_up()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert models[0].verify() is None
    assert by_code(models[1].states()) == replay(engine)


def test_a_rebuild_equals_the_incremental_model_and_verify_names_a_tampered_item(
    world: World,
) -> None:
    engine = world.harness.store.engine
    model = ItemReadModel(engine, kilograms)
    plan = [(k, n % 5, n % 3, n % 4, n * 2, n % 3) for n, k in enumerate(KINDS * 2)]
    world.play(plan, "RE", model.catch_up)
    model.catch_up()
    with engine.connect() as conn:
        incremental = conn.execute(select(t.item_state).order_by("code", "from_index")).all()
    assert model.rebuild() > 0
    with engine.connect() as conn:
        rebuilt = conn.execute(select(t.item_state).order_by("code", "from_index")).all()
    assert rebuilt == incremental
    assert model.verify() is None
    with engine.begin() as conn:
        conn.execute(update(t.item_state).where(t.item_state.c.code == "RE-2")
                     .values(holder="org-z"))  # fmt: skip
    found = model.verify()
    assert found is not None and found.startswith("item RE-2:")


def test_a_state_round_trips_exactly() -> None:
    state = ItemState("RT-1", "1", "drum", "org-a", "site-a", "active", Decimal("12.50"), "kg",
                      None, "use", "2026-10-01T00:00:00.5Z", 3)  # fmt: skip
    row = readmodel.Row(Held(state, "test.1", None), 7, state.last_time or "", "m")
    values = readmodel._values(row)

    class Raw:
        def __getattr__(self, name: str) -> Any:
            return values[name]

    assert readmodel._row(Raw()) == row
    assert str(readmodel._row(Raw()).held.state.quantity) == "12.50"


def test_reads_by_site_read_a_site_index_alone_and_reads_by_code_seek_each(
    world: World,
) -> None:
    """The emergency view's read of the items at some sites, now and at a time, is one
    range of a site index (rows of one site lie scattered over the table in log order); the
    current states of a few items are a seek each, not a walk of every current row (which
    SQLite, without statistics, chose through the index of ``to_index`` alone)."""
    engine = world.harness.store.engine
    model = ItemReadModel(engine, kilograms)
    world.play([("use", 1, 1, 1, 30, 0), ("ship", 2, 2, 0, 40, 0)], "IDX", model.catch_up)
    sqlite = engine.dialect.name == "sqlite"
    if not sqlite:  # PostgreSQL plans by its statistics, which autovacuum keeps
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE item_state")
    for moment, index in ((None, "ix_item_state_site_current"),
                          (format_utc(BASE + timedelta(minutes=35)), "ix_item_state_site_moment")):  # fmt: skip
        plan = model.explain_holdings(list(SITES), moment=moment)
        expected = f"COVERING INDEX {index}" if sqlite else f"Index Only Scan using {index}"
        assert expected in plan, plan
    if sqlite:  # PostgreSQL weighs its statistics (on a tiny table any index will do)
        plan = model.explain_current(["IDX-1", "IDX-2"])
        assert "ix_item_state_current (to_index=? AND code=?)" in plan, plan
