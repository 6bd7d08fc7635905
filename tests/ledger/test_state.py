"""The custody fold: holder, place, status and quantity from an item's events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args

from ledger.events import EventBody, parse_body
from ledger.state import _RECORDS_ONLY, ItemState, Projection, _step
from ledger.store.catalog_files import load_registry
from ledger.units import CatalogUnits

KILOGRAMS = CatalogUnits(load_registry()).kilograms

HASH = "sha256:" + "ab" * 32


def body(event_type: str, org: str, items: list[dict[str, Any]], data: dict[str, Any],
         site: str | None = None, seq: int = 0, geo: dict[str, str] | None = None) -> Any:  # fmt: skip
    raw: dict[str, Any] = {
        "v": 1, "type": event_type, "time": f"2026-10-01T08:{seq:02d}:00Z", "org": org,
        "device_key": "0" * 32, "actor": HASH, "items": items, "catalog_version": "x",
        "data": data,
    }  # fmt: skip
    if site:
        raw["site"] = site
    if geo:
        raw["geo"] = geo
    return parse_body(raw)


def link(code: str, seq: int, role: str = "subject") -> dict[str, Any]:
    return {"code": code, "seq": seq, "prev": None if seq == 0 else HASH, "role": role}


def kg(value: str) -> dict[str, str]:
    return {"value": value, "unit": "kg"}


def test_a_cylinder_is_followed_from_filler_to_user_to_disposal() -> None:
    p = Projection(kilograms=KILOGRAMS)
    p.apply(body("commission", "gas", [link("CYL-1", 0)],
                 {"chemical": "1", "quantity": kg("40"), "lot": "L", "packaging": "cylinder"},
                 site="fill"))  # fmt: skip
    p.apply(body("ship", "truck", [link("CYL-1", 1)], {"carrier": "truck", "consignee": "lab",
                                                    "consignee_site": "lab-1"}, site="fill"))  # fmt: skip
    state = p.items["CYL-1"]
    assert (state.holder, state.site, state.status, state.destination) == (
        "truck", None, "in_transit", "lab-1")  # fmt: skip
    p.apply(
        body(
            "waypoint",
            "truck",
            [link("CYL-1", 2)],
            {"ship": HASH},
            site="yard",
            geo={"lat": "40.1", "lon": "116.6"},
        )
    )
    assert p.items["CYL-1"].site is None  # a waypoint does not place the item at the carrier's yard
    p.apply(body("receive", "lab", [link("CYL-1", 3)], {"ship": HASH}, site="lab-1"))
    p.apply(body("use", "lab", [link("CYL-1", 4)], {"quantity": kg("12.5")}, site="lab-1"))
    p.apply(body("inspect", "police", [link("CYL-1", 5)], {"outcome": "pass", "inspector": HASH}))
    state = p.items["CYL-1"]
    assert (state.holder, state.site, state.status) == ("lab", "lab-1", "active")
    assert state.quantity == Decimal("27.5") and state.unit == "kg" and state.seq == 5
    p.apply(body("dispose", "lab", [link("CYL-1", 6)], {"disposer": "waste", "method": "burn"}))
    assert p.items["CYL-1"].status == "disposed"


def test_decanted_bottles_inherit_the_drums_chemical_and_the_drum_loses_the_amount() -> None:
    p = Projection(kilograms=KILOGRAMS)
    p.apply(body("commission", "acme", [link("DRUM-1", 0)],
                 {"chemical": "32", "quantity": kg("200"), "lot": "L", "packaging": "drum"}))  # fmt: skip
    p.apply(body("transform", "acme", [link("DRUM-1", 1, "input"), link("BOTL-1", 0, "output")], {
        "kind": "decant", "inputs": [{"code": "DRUM-1", "quantity": kg("20")}],
        "outputs": [{"code": "BOTL-1", "quantity": kg("5")}]}))  # fmt: skip
    assert p.items["DRUM-1"].quantity == Decimal("180")
    assert (p.items["BOTL-1"].chemical, p.items["BOTL-1"].quantity) == ("32", Decimal("5"))


def test_a_loss_and_a_recovery() -> None:
    p = Projection(kilograms=KILOGRAMS)
    p.apply(body("commission", "acme", [link("BOX-1", 0)],
                 {"chemical": "33", "quantity": kg("25"), "lot": "L", "packaging": "box"}, site="store-1"))  # fmt: skip
    p.apply(body("report_loss", "acme", [link("BOX-1", 1)], {"kind": "theft"}))
    assert p.items["BOX-1"].status == "lost" and p.items["BOX-1"].site == "store-1"
    p.apply(body("recover", "acme", [link("BOX-1", 2)], {"report": HASH}, site="store-2"))
    assert (p.items["BOX-1"].status, p.items["BOX-1"].site) == ("active", "store-2")


def test_an_item_of_no_known_chemical_is_still_weighed_by_mass_and_only_by_mass() -> None:
    # Catalog version "x" is unknown: 500 g is still 0.5 kg, and 2 L cannot be weighed (the
    # engine says so, quantity.unit_unknown) so it leaves the item as it was.
    p = Projection(kilograms=KILOGRAMS)
    p.apply(body("commission", "acme", [link("BOX-2", 0)],
                 {"chemical": "33", "quantity": kg("10"), "lot": "L", "packaging": "box"}))  # fmt: skip
    p.apply(body("use", "acme", [link("BOX-2", 1)], {"quantity": {"value": "500", "unit": "g"}}))
    assert (p.items["BOX-2"].quantity, p.items["BOX-2"].unit) == (Decimal("9.500"), "kg")
    p.apply(body("use", "acme", [link("BOX-2", 2)], {"quantity": {"value": "2", "unit": "L"}}))
    assert p.items["BOX-2"].quantity == Decimal("9.500")


def test_the_record_only_types_are_exactly_those_whose_step_changes_nothing() -> None:
    """``Projection.apply`` builds the state of a record-only event directly, skipping
    ``_step``: that shortcut must cover every type ``_step`` leaves alone, and no other."""
    held = ItemState(code="X-1", chemical="1", holder="org", site="s", quantity=Decimal(5),
                     unit="kg", status="active")  # fmt: skip
    quiet = set()
    for cls in get_args(get_args(EventBody)[0]):
        (tag,) = get_args(cls.model_fields["type"].annotation)
        item = {"code": "X-1", "seq": 1, "prev": HASH, "role": "subject"}
        made = cls.model_construct(type=tag, org="org", site="s", items=[item], data=None)
        try:
            changes = _step(held, made, "subject", {"X-1": held}, KILOGRAMS)
        except AttributeError:  # it reads the event's data: it changes something
            continue
        if not changes:
            quiet.add(tag)
    assert quiet == _RECORDS_ONLY
