"""The engine as a whole: a clean flow finds nothing, and findings do not depend on how
the ledger was split into reads (the online/batch parity the service relies on)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from api.catalogs import load_rules
from ledger.rules import RULES, Engine, Finding, LedgerFact
from ledger.rules.grouping import group_findings
from ledger.rules.world import when
from tests.ledger.rules.scenario import CATALOGS, CO_ACTOR, MANIFEST, City, geo, site_point


def test_a_clean_complete_flow_finds_nothing() -> None:
    city = City()
    city.commission("DRUM-1")
    delivered = city.deliver(["DRUM-1"])
    city.event("store_in", "user", ["DRUM-1"], {"location": "cabinet 3"}, site="lab")
    city.event("store_out", "user", ["DRUM-1"], {}, site="lab", at=city.at(days=3))
    city.use("DRUM-1", "12")
    city.count("DRUM-1", "8")
    city.event("dispose", "user", ["DRUM-1"], {"disposer": "disposer", "manifest_no": MANIFEST,
               "method": "incineration",
               "quantity": {"value": "8", "unit": "kg"}}, site="lab")  # fmt: skip
    city.advance(days=400)
    city.clean()
    assert city.engine.pending() == []
    assert delivered.ship != delivered.receive


def test_a_clean_controlled_sale_finds_nothing() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.sell(["DRUM-1"], to="user", police_filing_no="PF-1")
    city.event("buy", "user", ["DRUM-1"], {"counterparty": "maker", "police_filing_no": "PF-2"},
               site="lab")  # fmt: skip
    city.deliver(["DRUM-1"], to="store", to_site="depot")
    city.event("store_in", "store", ["DRUM-1"], {}, site="depot", co_actor=CO_ACTOR)
    city.event("store_out", "store", ["DRUM-1"], {}, site="depot", co_actor=CO_ACTOR)
    city.permit("pass-store", kind="transport_permit", org="store", chemicals=["25"],
                counterparty="user", quantity="50")  # fmt: skip
    city.deliver(["DRUM-1"], org="store", site="depot")
    city.use("DRUM-1", "50")
    city.event("dispose", "user", ["DRUM-1"], {"disposer": "disposer", "manifest_no": MANIFEST,
               "method": "neutralised"},
               site="lab", co_actor=CO_ACTOR)  # fmt: skip
    city.advance(days=400)
    city.clean()


def test_the_engine_knows_every_configured_rule() -> None:
    config = load_rules()
    assert set(config.severity) == set(RULES)
    assert len(RULES) == 40


# -- parity --------------------------------------------------------------------------------------

CHEMICALS = ("33.1", "25.1", "6.1")
OPS = ("commission", "ship", "waypoint", "receive", "use", "count", "sell", "idle", "late")
"""``late``: a receive (or a buyer's filing) signed ``gap`` minutes before it is logged,
as an offline handheld syncs: inside or beyond the trust window, before or after the
deadline it answers has fired."""
Gap = st.one_of(st.integers(1, 240), st.integers(1, 200).map(lambda days: days * 1440))
Step = st.tuples(st.sampled_from(OPS), st.integers(0, 2), Gap, st.booleans())


@dataclass
class _Item:
    code: str
    chemical: str
    holder: str = "maker"
    site: str = "plant"
    ship: str | None = None
    shipped_at: datetime | None = None
    to: tuple[str, str] = ("user", "lab")
    made: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _flow(steps: list[tuple[str, int, int, bool]]) -> City:
    """Apply random but well-formed operations to three items at random gaps."""
    city = City()
    items = [_Item(f"ITEM-{i}", CHEMICALS[i]) for i in range(3)]
    for op, which, gap, flag in steps:
        item, moment = items[which], city.at(minutes=gap)
        if op == "idle":
            continue
        if not item.made:
            city.commission(item.code, chemical=item.chemical, value="50", at=moment)
            item.made = True
        elif item.ship is not None and op == "waypoint":
            (lat0, lon0), (lat1, lon1) = site_point(item.site), site_point(item.to[1])
            city.waypoint([item.code], item.ship, moment, geo((lat0 + lat1) / 2, (lon0 + lon1) / 2))
        elif item.ship is not None and op in ("receive", "use", "count", "late"):
            org, site = item.to if op in ("receive", "late") or flag else ("clinic", "ward")
            signed = moment
            if op == "late" and item.shipped_at is not None:
                signed = max(item.shipped_at, moment - timedelta(minutes=gap))
            city.receive([item.code], item.ship, org=org, site=site, at=signed,
                         log_at=moment + city.lag)  # fmt: skip
            item.holder, item.site, item.ship = org, site, None
        elif op == "late" and item.holder == "user":
            signed = moment - timedelta(minutes=gap)
            city.event("buy", "user", [item.code], {"counterparty": "maker",
                       "police_filing_no": "PF-2"}, site=item.site, at=signed,
                       log_at=moment + city.lag)  # fmt: skip
        elif item.ship is None and op == "ship":
            to = ("maker", "plant") if item.holder != "maker" else ("user", "lab")
            item.ship = city.ship([item.code], org=item.holder, to=to[0], to_site=to[1],
                                  site=item.site, escort=None if flag else "sha256:" + "e" * 64)  # fmt: skip
            item.shipped_at = city.clock
            item.to = to
        elif item.ship is None and op == "use":
            city.use(item.code, "60" if flag else "1", org=item.holder, site=item.site, at=moment)
        elif item.ship is None and op == "count":
            city.count(item.code, "49" if flag else "50", org=item.holder, site=item.site)
        elif item.ship is None and op == "sell" and item.holder == "maker":
            filing = {"police_filing_no": "PF-1"} if flag else {}
            city.sell([item.code], to="user", at=moment, **filing)
    return city


def _seen(found: list[Finding]) -> set[tuple[str, str]]:
    return {(f.id, json.dumps(f.to_json(), sort_keys=True)) for f in found}


def _seconds(fact: LedgerFact) -> float:
    return when(fact.log_time).timestamp()


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(Step, min_size=1, max_size=30), data=st.data())
def test_findings_do_not_depend_on_when_deadlines_are_advanced(
    steps: list[tuple[str, int, int, bool]], data: st.DataObject
) -> None:
    city = _flow(steps)
    facts = city.facts
    end = max(_seconds(fact) for fact in facts) + 400 * 86400

    batch = Engine(city.config, CATALOGS)
    all_at_once = batch.feed_all(facts) + batch.advance(end)

    online = Engine(city.config, CATALOGS)
    piecewise: list[Finding] = []
    previous = _seconds(facts[0])
    for fact in facts:
        now = _seconds(fact)
        for _ in range(data.draw(st.integers(0, 2), label="advances")):
            share = data.draw(st.integers(0, 1000), label="share") / 1000
            previous = max(previous, previous + (now - previous) * share)
            piecewise += online.advance(previous)
        piecewise += online.feed(fact)
        previous = max(previous, now)
    piecewise += online.advance(datetime.fromtimestamp(end, tz=when(facts[0].log_time).tzinfo))

    assert _seen(piecewise) == _seen(all_at_once)
    assert len(piecewise) == len(all_at_once)
    assert group_findings(piecewise) == group_findings(all_at_once)
    assert _seen(city.found + city.engine.advance(end)) == _seen(all_at_once)


def test_replaying_a_ledger_gives_the_same_finding_ids() -> None:
    city = _flow([("commission", 0, 5, False), ("ship", 0, 5, True), ("idle", 0, 3000, False),
                  ("sell", 1, 5, False), ("commission", 1, 5, False), ("sell", 1, 5, False)])  # fmt: skip
    city.advance(days=30)
    replay = Engine(city.config, CATALOGS)
    again = replay.feed_all(city.facts) + replay.advance(city.clock + timedelta(seconds=0))
    assert _seen(again) == _seen(city.found)
    assert city.found


def test_an_entry_logged_at_a_deadlines_instant_is_judged_first_online_and_in_batch() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    timer = datetime.fromtimestamp(city.engine.pending()[0][0], tz=city.clock.tzinfo)
    city.receive(["DRUM-1"], shipped, at=timer - timedelta(seconds=5), log_at=timer)
    facts = city.facts
    end = timer + timedelta(days=400)

    batch = Engine(city.config, CATALOGS)
    all_at_once = batch.feed_all(facts) + batch.advance(end)
    online = Engine(city.config, CATALOGS)
    piecewise = online.feed_all(facts[:-1]) + online.advance(timer)  # idle up to the instant
    piecewise += online.feed(facts[-1]) + online.advance(end)

    assert _seen(piecewise) == _seen(all_at_once)
    assert "custody.transit_overdue" not in {f.rule for f in all_at_once}
