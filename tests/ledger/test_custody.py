"""The custody policy: who may write on an item, and who may read which of its events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.custody import (
    DEFAULT_POLICY,
    EVENT_TYPES,
    RELATIONS,
    Custody,
    CustodyPolicy,
    Party,
    Shipment,
    advance,
    fold,
    judge,
    relation,
    visible_events,
)
from ledger.errors import (
    InvalidInputError,
    NotHolderError,
    NotRelatedError,
    UnknownItemError,
)
from ledger.events import EventBody, parse_body

HASH = "sha256:" + "ab" * 32
CODE = "CYL-1"
DATA: dict[str, dict[str, Any]] = {
    "commission": {"chemical": "1", "quantity": {"value": "40", "unit": "kg"}, "lot": "L",
                   "packaging": "cylinder"},
    "transform": {},  # built per test: it needs input and output codes
    "aggregate": {}, "disaggregate": {},
    "store_in": {"location": "A1"}, "store_out": {"location": "A1"},
    "stock_count": {"count_id": "C1", "quantity": {"value": "40", "unit": "kg"}},
    "sell": {"counterparty": "buyer"}, "buy": {"counterparty": "seller"},
    "ship": {"carrier": "truck", "consignee": "lab", "consignee_site": "lab-1"},
    "waypoint": {"ship": HASH},
    "receive": {"ship": HASH},
    "use": {"quantity": {"value": "1", "unit": "kg"}},
    "return": {"to_org": "gas"},
    "fill": {"quantity": {"value": "40", "unit": "kg"}, "lot": "F1"},
    "inspect": {"outcome": "pass", "inspector": HASH},
    "dispose": {"disposer": "bin", "method": "incineration"},
    "destroy": {"method": "crushed"},
    "report_loss": {"kind": "theft"},
    "recover": {"report": HASH},
    "correct": {"corrects": HASH, "reason": "typo", "changes": {"lot": "L2"}},
}  # fmt: skip
SIMPLE = sorted(set(EVENT_TYPES) - {"transform", "aggregate", "disaggregate", "commission"})


def body(kind: str, org: str, seq: int, minute: int = 0, **data: Any) -> EventBody:
    raw: dict[str, Any] = {
        "v": 1, "type": kind, "time": f"2026-10-01T{8 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "org": org, "device_key": "0" * 32, "actor": HASH, "catalog_version": "x",
        "items": [{"code": CODE, "seq": seq, "prev": None if seq == 0 else HASH}],
        "data": {**DATA[kind], **data},
    }  # fmt: skip
    if kind == "waypoint":
        raw["geo"] = {"lat": "40.1", "lon": "116.6"}
    if kind in ("store_in", "store_out"):
        raw["data"] = {}
    return parse_body(raw)


def chain(*steps: EventBody) -> Custody:
    custody = fold((b, bytes([n]) * 32) for n, b in enumerate(steps))
    assert custody is not None
    return custody


def delivered() -> tuple[Custody, list[EventBody]]:
    """gas commissions CYL-1, ships it with truck to lab, lab receives it at minute 30."""
    steps = [
        body("commission", "gas", 0),
        body("ship", "gas", 1, 10),
        body("receive", "lab", 2, 30),
    ]
    return chain(*steps), steps


def in_transit() -> Custody:
    return chain(body("commission", "gas", 0), body("ship", "gas", 1, 10))


def outcome(custody: Custody, event_type: str, org: str, minute: int = 60, **extra: Any) -> str:
    event = body(event_type, org, 9, minute)
    return judge(event, event.items[0], custody, **extra)


# -- the three outcomes --------------------------------------------------------------------


@pytest.mark.parametrize("kind", SIMPLE)
def test_a_stranger_is_refused_for_every_event_type_exactly_like_an_unknown_item(kind: str) -> None:
    custody, _ = delivered()
    with pytest.raises(NotRelatedError) as refused:
        outcome(custody, kind, "stranger")
    unknown = UnknownItemError("item has no chain to continue", item=CODE)
    assert refused.value.code == unknown.code == "unknown_item"
    assert refused.value.diagnostics() == unknown.diagnostics()
    assert refused.value.fraud and not unknown.fraud


@pytest.mark.parametrize("kind", sorted(set(SIMPLE) - {"receive"}))
def test_the_holder_is_allowed_every_act(kind: str) -> None:
    custody, _ = delivered()
    assert outcome(custody, kind, "lab") == "allowed"


def test_the_consignee_may_receive_and_the_carrier_may_report_waypoints() -> None:
    moving = in_transit()
    assert outcome(moving, "receive", "lab") == "allowed"
    assert outcome(moving, "waypoint", "truck") == "allowed"
    assert outcome(moving, "inspect", "lab") == "allowed"


def test_irregular_but_related_acts_are_accepted_for_the_rules_to_judge() -> None:
    moving = in_transit()
    # use before receipt: the consignee acts on an item still in transit to it
    assert outcome(moving, "use", "lab") == "irregular"
    # a receive by the carrier, not the consignee
    assert outcome(moving, "receive", "truck") == "irregular"
    custody, _ = delivered()
    # a receive by a former party named in the shipment chain
    assert outcome(custody, "receive", "gas") == "irregular"


def test_a_former_holders_offline_event_signed_before_its_handoff_is_accepted() -> None:
    custody, _ = delivered()  # gas shipped at minute 10
    assert outcome(custody, "stock_count", "gas", minute=9) == "irregular"
    assert outcome(custody, "stock_count", "gas", minute=10 + 5) == "irregular"  # clock skew


def test_a_former_holders_event_signed_after_its_handoff_is_a_not_holder_conflict() -> None:
    custody, _ = delivered()
    with pytest.raises(NotHolderError) as conflict:
        outcome(custody, "use", "gas", minute=10 + 6)
    assert conflict.value.code == "not_holder"
    # it names only what gas knew: when its own custody ended, never the new holder
    assert conflict.value.context == {"item": CODE, "custody_ended": "2026-10-01T08:10:00Z"}
    assert "lab" not in conflict.value.diagnostics()
    assert "truck" not in conflict.value.diagnostics()
    # the carrier's custody ended at the receive
    with pytest.raises(NotHolderError):
        outcome(custody, "waypoint", "truck", minute=45)


def test_test_stations_and_authorities() -> None:
    custody, _ = delivered()
    assert outcome(custody, "inspect", "station", kind="test_station") == "allowed"
    assert outcome(custody, "fill", "station", kind="test_station") == "allowed"
    assert outcome(custody, "inspect", "bureau", kind="authority") == "allowed"
    for event_type, writer in (("use", "test_station"), ("ship", "authority"),
                               ("fill", "authority")):  # fmt: skip
        with pytest.raises(NotRelatedError):
            outcome(custody, event_type, "someone", kind=writer)


def test_named_parties_of_a_trade_and_a_disposal() -> None:
    custody = chain(body("commission", "gas", 0), body("sell", "gas", 1, 5))
    assert outcome(custody, "buy", "buyer") == "allowed"
    disposed = chain(body("commission", "gas", 0), body("dispose", "gas", 1, 5))
    assert outcome(disposed, "destroy", "bin") == "allowed"


def test_a_chain_start_and_an_item_without_a_chain_are_left_to_the_other_checks() -> None:
    event = body("commission", "anyone", 0)
    assert judge(event, event.items[0], None) == "allowed"
    later = body("use", "anyone", 3)
    assert judge(later, later.items[0], None) == "allowed"  # the head check says unknown_item


# -- the fold --------------------------------------------------------------------------------


def test_custody_moves_only_on_transfers_never_on_a_mere_act() -> None:
    custody, _ = delivered()
    assert custody.holder == "lab" and custody.status == "active" and custody.shipment is None
    assert custody.parties["gas"].until == "2026-10-01T08:10:00Z"
    assert custody.parties["truck"].until == "2026-10-01T08:30:00Z"
    assert custody.parties["lab"].until is None
    after = advance(custody, body("stock_count", "gas", 3, 5), b"\x01" * 32)
    assert after == custody  # an irregular act makes nobody a party again


def test_a_return_travels_like_a_shipment() -> None:
    custody, _ = delivered()
    back = advance(custody, body("return", "lab", 3, 40), b"\x02" * 32)
    assert back.status == "in_transit" and back.holder == "lab"
    assert back.shipment == Shipment("sha256:" + "02" * 32, "lab", "lab", "gas")
    assert relation(back, body("receive", "gas", 4, 50), "enterprise", 300) == "consignee"


def test_status_follows_loss_recovery_disposal_and_destruction() -> None:
    custody = in_transit()
    lost = advance(custody, body("report_loss", "truck", 2), b"")
    assert lost.status == "lost"
    assert advance(lost, body("recover", "truck", 3), b"").status == "active"
    disposed = advance(lost, body("dispose", "truck", 3), b"")
    assert disposed.status == "disposed" and disposed.parties["bin"].until is None
    assert advance(disposed, body("destroy", "bin", 4), b"").status == "destroyed"


parties = st.dictionaries(
    st.sampled_from(["gas", "lab", "truck", "bin", "buyer"]),
    st.builds(Party, st.just("2026-10-01T08:00:00Z"),
              st.one_of(st.none(), st.just("2026-10-01T09:00:00Z"))),
)  # fmt: skip
custodies = st.builds(
    Custody,
    holder=st.sampled_from(["gas", "lab"]),
    status=st.sampled_from(["active", "in_transit", "lost", "disposed", "destroyed"]),
    shipment=st.one_of(st.none(), st.builds(Shipment, st.just(HASH), st.just("gas"),
                                            st.just("truck"), st.just("lab"))),
    parties=parties,
)  # fmt: skip


@given(custodies)
def test_custody_json_round_trips(custody: Custody) -> None:
    assert Custody.from_json(custody.to_json()) == custody


@given(custodies, st.sampled_from(SIMPLE), st.sampled_from(["gas", "lab", "truck", "xy"]))
def test_no_act_but_a_transfer_adds_a_party(custody: Custody, kind: str, org: str) -> None:
    event = body(kind, org, 5)
    after = advance(custody, event, b"\x03" * 32)
    transfers = {"ship", "return", "receive", "dispose", "sell", "buy"}
    if kind not in transfers:
        assert after.parties == custody.parties and after.holder == custody.holder


# -- reads -----------------------------------------------------------------------------------


def test_an_enterprise_sees_its_own_span_and_the_handoffs_into_and_out_of_it() -> None:
    steps = [
        body("commission", "gas", 0),
        body("store_in", "gas", 1, 2),
        body("ship", "gas", 2, 10),
        body("waypoint", "truck", 3, 20),
        body("receive", "lab", 4, 30),
        body("use", "lab", 5, 40),
        body("return", "lab", 6, 50),
        body("receive", "gas", 7, 70),
    ]
    hashed = [(b, bytes([n]) * 32) for n, b in enumerate(steps)]
    assert visible_events("lab", hashed) == [False, False, True, True, True, True, True,
                                                   True]  # fmt: skip
    assert visible_events("truck", hashed) == [False, False, True, True, True, False,
                                                     False, False]  # fmt: skip
    assert visible_events("gas", hashed) == [True, True, True, False, False, False, True,
                                                   True]  # fmt: skip
    assert visible_events("stranger", hashed) == [False] * 8


def test_an_accepted_irregular_event_shows_its_writer_only_itself() -> None:
    steps = [body("commission", "gas", 0), body("ship", "gas", 1, 10),
             body("receive", "lab", 2, 30), body("stock_count", "gas", 3, 9),
             body("use", "lab", 4, 40)]  # fmt: skip
    hashed = [(b, bytes([n]) * 32) for n, b in enumerate(steps)]
    assert visible_events("gas", hashed) == [True, True, False, True, False]


# -- the policy as data ----------------------------------------------------------------------


def test_the_default_policy_covers_every_event_type_and_round_trips() -> None:
    assert set(DEFAULT_POLICY.rules) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 21
    again = CustodyPolicy.from_json(DEFAULT_POLICY.to_json())
    assert again == DEFAULT_POLICY
    for kind in EVENT_TYPES:
        assert DEFAULT_POLICY.rule(kind).outcome("stranger") == "refused"


def test_a_city_can_tighten_the_policy() -> None:
    raw = DEFAULT_POLICY.to_json()
    rules = dict(raw["rules"])  # type: ignore[call-overload]
    rules["receive"] = {"consignee": "allowed"}
    tight = CustodyPolicy.from_json({**raw, "rules": rules})
    with pytest.raises(NotRelatedError):
        outcome(in_transit(), "receive", "truck", policy=tight)


@pytest.mark.parametrize(
    "raw",
    [
        {"rules": {}},
        {"rules": {**DEFAULT_POLICY.to_json()["rules"], "teleport": {}}},  # type: ignore[dict-item]
        {"rules": {k: {"holder": "maybe"} for k in EVENT_TYPES}},
        {"rules": {k: {"cousin": "allowed"} for k in EVENT_TYPES}},
        {"rules": {k: {} for k in EVENT_TYPES}, "clock_skew_s": -1},
    ],
)
def test_a_malformed_policy_is_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        CustodyPolicy.from_json(raw)


def test_relations_are_all_named_in_the_policy_vocabulary() -> None:
    assert "stranger" in RELATIONS and len(RELATIONS) == len(set(RELATIONS))


def test_the_access_policy_document_states_the_policy_in_force() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "access-policy.md").read_text()
    table = doc.split("<!-- custody-policy-table -->\n")[1].split("\n<!-- /custody-policy-table")[0]
    lines = table.splitlines()
    assert lines[0] == "| event | " + " | ".join(RELATIONS) + " |"
    documented = {row.split(" | ")[0].strip("| `"): row.split(" | ")[1:] for row in lines[2:]}
    assert set(documented) == set(EVENT_TYPES)
    for kind, cells in documented.items():
        outcomes = [cell.strip(" |") for cell in cells]
        assert outcomes == [DEFAULT_POLICY.rule(kind).outcome(r) for r in RELATIONS], kind


def test_writer_kinds_matter_only_where_a_station_or_authority_may_write() -> None:
    mattering = {kind for kind in EVENT_TYPES if DEFAULT_POLICY.kinds_matter(kind)}
    assert mattering == {"fill", "inspect", "recover"}
