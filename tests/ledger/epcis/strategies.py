"""Hypothesis strategies for valid native event bodies of every type."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import strategies as st

from ledger.events import EventType

HEX = "0123456789abcdef"
codes = st.from_regex(r"[0-9A-Z][0-9A-Z-]{3,14}", fullmatch=True)
entity_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{1,20}", fullmatch=True)
document_nos = st.from_regex(r"[0-9A-Za-z][0-9A-Za-z/_.-]{0,20}", fullmatch=True)
hashes = st.text(HEX, min_size=64, max_size=64).map(lambda h: "sha256:" + h)
decimals = st.from_regex(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,9})?", fullmatch=True)
coordinates = st.from_regex(r"-?(0|[1-9][0-9]{0,2})(\.[0-9]{1,9})?", fullmatch=True)
units = st.sampled_from(["kg", "g", "t", "L", "mL", "m3", "Nm3", "piece"])
texts = st.text(min_size=1, max_size=40).filter(lambda t: unicodedata.is_normalized("NFC", t))
quantities = st.fixed_dictionaries({"value": decimals, "unit": units})
geos = st.fixed_dictionaries({"lat": coordinates, "lon": coordinates})


@st.composite
def utc_times(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(min_value=__import__("datetime").datetime(2000, 1, 1)))
    digits = draw(st.integers(0, 6))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    return text + "Z"


GENESIS = {"commission": {"subject"}, "transform": {"output"}, "aggregate": {"parent"}}


@st.composite
def links(draw: st.DrawFn, event_type: str, roles: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for code, role in roles:
        may_start = role in GENESIS.get(event_type, set())
        if event_type == "commission":
            seq = 0
        else:
            seq = draw(st.integers(0 if may_start else 1, 2**53 - 1))
        out.append(
            {"code": code, "seq": seq, "prev": None if seq == 0 else draw(hashes), "role": role}
        )
    return out


def _optional(**fields: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return fields


DATA: dict[str, tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]]] = {
    "commission": (
        {
            "chemical": st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3})?", fullmatch=True),
            "quantity": quantities,
            "lot": document_nos,
            "packaging": st.sampled_from(
                [
                    "cylinder",
                    "drum",
                    "bag",
                    "ibc",
                    "bottle",
                    "tank",
                    "bulk",
                    "pallet",
                    "box",
                    "other",
                ]
            ),
        },
        _optional(gs1_key=st.from_regex(r"\([0-9]{2,4}\)[0-9A-Za-z]{1,40}", fullmatch=True)),
    ),
    "store_in": ({}, _optional(location=texts, quantity=quantities)),
    "store_out": ({}, _optional(location=texts, quantity=quantities)),
    "stock_count": ({"count_id": document_nos, "quantity": quantities}, {}),
    "sell": (
        {"counterparty": entity_ids},
        _optional(
            contract_no=document_nos,
            permit_no=document_nos,
            police_filing_no=document_nos,
            individual_buyer=hashes,
        ),
    ),
    "buy": (
        {"counterparty": entity_ids},
        _optional(
            contract_no=document_nos,
            permit_no=document_nos,
            police_filing_no=document_nos,
            individual_buyer=hashes,
        ),
    ),
    "ship": (
        {"carrier": entity_ids, "consignee": entity_ids, "consignee_site": entity_ids},
        _optional(
            vehicle=texts,
            driver=hashes,
            escort=hashes,
            waybill_no=document_nos,
            expected_arrival=utc_times(),
            route=st.fixed_dictionaries(
                {"points": st.lists(geos, min_size=2, max_size=4)},
                optional={"corridor_m": decimals},
            ),
        ),
    ),
    "waypoint": ({"ship": hashes}, {}),
    "receive": ({"ship": hashes}, _optional(quantity=quantities)),
    "use": ({"quantity": quantities}, _optional(purpose=texts)),
    "return": ({"to_org": entity_ids}, _optional(quantity=quantities)),
    "fill": (
        {"quantity": quantities, "lot": document_nos},
        _optional(
            inspection_due=st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
        ),
    ),
    "inspect": (
        {"outcome": st.sampled_from(["pass", "fail", "observation"]), "inspector": hashes},
        _optional(remarks=texts),
    ),
    "dispose": (
        {"disposer": entity_ids, "method": texts},
        _optional(manifest_no=document_nos, quantity=quantities),
    ),
    "destroy": ({"method": texts}, _optional(witness=hashes)),
    "report_loss": (
        {"kind": st.sampled_from(["loss", "theft"])},
        _optional(police_report_no=document_nos, quantity=quantities),
    ),
    "recover": ({"report": hashes}, _optional(quantity=quantities)),
    "correct": (
        {
            "corrects": hashes,
            "reason": texts,
            "changes": st.dictionaries(
                st.from_regex(r"[a-z_][a-z0-9_.]{0,20}", fullmatch=True),
                st.text(max_size=20),
                min_size=1,
                max_size=4,
            ),
        },
        {},
    ),
}


@st.composite
def bodies(draw: st.DrawFn, event_type: EventType) -> dict[str, Any]:
    """A raw body of ``event_type`` that :func:`ledger.events.parse_body` accepts."""
    distinct = draw(st.lists(codes, min_size=2, max_size=8, unique=True))
    data: dict[str, Any]
    if event_type == "transform":
        cut = draw(st.integers(1, len(distinct) - 1))
        inputs, outputs = distinct[:cut], distinct[cut:]
        roles = [(c, "input") for c in inputs] + [(c, "output") for c in outputs]
        data = {
            "kind": draw(st.sampled_from(["decant", "blend", "repack", "dilute"])),
            "inputs": [{"code": c, "quantity": draw(quantities)} for c in inputs],
            "outputs": [{"code": c, "quantity": draw(quantities)} for c in outputs],
        }
    elif event_type in ("aggregate", "disaggregate"):
        parent, children = distinct[0], distinct[1:]
        roles = [(parent, "parent")] + [(c, "child") for c in children]
        data = {"parent": parent, "children": children}
    else:
        count = 1 if event_type in ("commission", "fill") else draw(st.integers(1, len(distinct)))
        roles = [(c, "subject") for c in distinct[:count]]
        required, optional = DATA[event_type]
        data = draw(st.fixed_dictionaries(required, optional=optional))
    raw: dict[str, Any] = {
        "v": 2,
        "type": event_type,
        "time": draw(utc_times()),
        "org": draw(entity_ids),
        "device_key": draw(st.text(HEX, min_size=32, max_size=32)),
        "actor": draw(hashes),
        "items": draw(links(event_type, roles)),
        "catalog_version": draw(st.from_regex(r"[0-9A-Za-z._-]{1,12}", fullmatch=True)),
        "data": data,
    }
    for key, strategy in (("co_actor", hashes), ("site", entity_ids), ("geo", geos)):
        if draw(st.booleans()):
            raw[key] = draw(strategy)
    if event_type == "waypoint":
        raw["geo"] = draw(geos)
    return raw
