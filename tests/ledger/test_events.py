"""Strict event bodies: one minimal valid body per lifecycle type, and everything that must fail.

Expected error fields are written out by hand (never derived from the models), so
a model that silently drops a required field or starts coercing types fails here.
``parse_body`` reports pydantic paths as ``<type tag>.<json path>`` (e.g.
``use.data.quantity``) and NFC failures as ``$.<json path>``.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from ledger.errors import InvalidInputError, MalformedEventError
from ledger.events import EventType, body_to_json, parse_body

HASH_A = "sha256:" + "a1" * 32
HASH_B = "sha256:" + "b2" * 32
ACTOR = "sha256:" + "c3" * 32
INSPECTOR = "sha256:" + "d4" * 32
DEVICE_KEY = "0123456789abcdef" * 2
QTY = {"value": "25", "unit": "kg"}
GEO = {"lat": "39.9042", "lon": "116.4074"}


def link(code: str, seq: int = 1, role: str = "subject") -> dict[str, Any]:
    """An item link; genesis links (seq 0) have prev null, others point at HASH_A."""
    return {"code": code, "seq": seq, "prev": None if seq == 0 else HASH_A, "role": role}


# type -> (items, data, extra top-level fields) for the smallest body each type accepts.
MINIMAL: dict[str, tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]] = {
    "commission": (
        [link("DRUM-0001", 0)],
        {"chemical": "2.3", "quantity": QTY, "lot": "LOT-1", "packaging": "drum"},
        {},
    ),
    "transform": (
        [link("DRUM-0001", 1, "input"), link("DRUM-0002", 0, "output")],
        {
            "kind": "decant",
            "inputs": [{"code": "DRUM-0001", "quantity": QTY}],
            "outputs": [{"code": "DRUM-0002", "quantity": QTY}],
        },
        {},
    ),
    "aggregate": (
        [link("PLT-0001", 0, "parent"), link("DRUM-0001", 3, "child")],
        {"parent": "PLT-0001", "children": ["DRUM-0001"]},
        {},
    ),
    "disaggregate": (
        [link("PLT-0001", 1, "parent"), link("DRUM-0001", 4, "child")],
        {"parent": "PLT-0001", "children": ["DRUM-0001"]},
        {},
    ),
    "store_in": ([link("DRUM-0001")], {}, {}),
    "store_out": ([link("DRUM-0001")], {}, {}),
    "stock_count": ([link("DRUM-0001")], {"count_id": "SC-2026-01", "quantity": QTY}, {}),
    "sell": ([link("DRUM-0001")], {"counterparty": "buyer-co"}, {}),
    "buy": ([link("DRUM-0001")], {"counterparty": "seller-co"}, {}),
    "ship": (
        [link("DRUM-0001")],
        {"carrier": "carrier-co", "consignee": "buyer-co", "consignee_site": "plant-2"},
        {},
    ),
    "waypoint": ([link("DRUM-0001")], {"ship": HASH_B}, {"geo": GEO}),
    "receive": ([link("DRUM-0001")], {"ship": HASH_B}, {}),
    "use": ([link("DRUM-0001")], {"quantity": QTY}, {}),
    "return": ([link("DRUM-0001")], {"to_org": "seller-co"}, {}),
    "fill": ([link("CYL-0001")], {"quantity": QTY, "lot": "LOT-2"}, {}),
    "inspect": ([link("CYL-0001")], {"outcome": "pass", "inspector": INSPECTOR}, {}),
    "dispose": ([link("DRUM-0001")], {"disposer": "waste-co", "method": "incineration"}, {}),
    "destroy": ([link("DRUM-0001")], {"method": "crushed"}, {}),
    "report_loss": ([link("DRUM-0001")], {"kind": "theft"}, {}),
    "recover": ([link("DRUM-0001")], {"report": HASH_B}, {}),
    "correct": (
        [link("DRUM-0001")],
        {"corrects": HASH_B, "reason": "typo in lot", "changes": {"data.lot": "LOT-3"}},
        {},
    ),
}

ALL_TYPES = sorted(MINIMAL)


def body(event_type: str) -> dict[str, Any]:
    """A fresh minimal valid body of ``event_type`` (no shared sub-objects)."""
    items, data, extra = MINIMAL[event_type]
    raw: dict[str, Any] = {
        "v": 1,
        "type": event_type,
        "time": "2026-01-31T08:00:00Z",
        "org": "acme-chem",
        "device_key": DEVICE_KEY,
        "actor": ACTOR,
        "items": items,
        "catalog_version": "2026.1",
        "data": data,
        **extra,
    }
    fresh: dict[str, Any] = json.loads(json.dumps(raw))
    return fresh


def rejects(raw: dict[str, Any]) -> MalformedEventError:
    """Parse ``raw`` and return the MalformedEventError it must raise."""
    with pytest.raises(MalformedEventError) as info:
        parse_body(raw)
    assert info.value.code == "malformed_event"
    return info.value


def field_of(raw: dict[str, Any]) -> str:
    field = rejects(raw).context["field"]
    assert isinstance(field, str)
    return field


# --- the table itself -----------------------------------------------------------------


def test_table_covers_every_event_type_exactly() -> None:
    assert set(MINIMAL) == set(get_args(EventType))
    assert len(MINIMAL) == 21


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_minimal_body_parses(event_type: str) -> None:
    raw = body(event_type)
    parsed = parse_body(raw)
    assert parsed.type == event_type
    assert [link.code for link in parsed.items] == [item["code"] for item in raw["items"]]
    assert [link.role for link in parsed.items] == [item["role"] for item in raw["items"]]
    assert parsed.org == "acme-chem"
    assert parsed.device_key == DEVICE_KEY


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_optional_common_fields_are_accepted(event_type: str) -> None:
    raw = body(event_type)
    raw.update(co_actor=INSPECTOR, site="warehouse-3", geo=GEO)
    parsed = parse_body(raw)
    assert parsed.site == "warehouse-3"
    assert parsed.co_actor == INSPECTOR
    assert parsed.geo is not None and parsed.geo.lat == "39.9042"


def test_subject_role_is_the_default() -> None:
    raw = body("use")
    del raw["items"][0]["role"]
    assert parse_body(raw).items[0].role == "subject"


def test_fully_populated_ship_parses() -> None:
    raw = body("ship")
    raw["data"].update(
        vehicle="京A12345",
        driver=ACTOR,
        escort=INSPECTOR,
        waybill_no="WB/2026/001",
        expected_arrival="2026-02-01T09:30:00.5Z",
    )
    parsed = parse_body(raw)
    assert parsed.type == "ship"
    assert parsed.data.expected_arrival == "2026-02-01T09:30:00.5Z"


# --- required fields ------------------------------------------------------------------

COMMON_REQUIRED = ["v", "time", "org", "device_key", "actor", "items", "catalog_version", "data"]
LINK_REQUIRED = ["code", "seq", "prev"]
QUANTITY_REQUIRED = ["value", "unit"]

# Paths inside ``data`` that each type requires (quantity sub-fields included).
DATA_REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "commission": [
        ("chemical",),
        ("quantity",),
        ("quantity", "value"),
        ("quantity", "unit"),
        ("lot",),
        ("packaging",),
    ],
    "transform": [
        ("kind",),
        ("inputs",),
        ("outputs",),
        ("inputs", 0, "code"),
        ("inputs", 0, "quantity"),
        ("outputs", 0, "quantity", "unit"),
    ],
    "aggregate": [("parent",), ("children",)],
    "disaggregate": [("parent",), ("children",)],
    "store_in": [],
    "store_out": [],
    "stock_count": [("count_id",), ("quantity",), ("quantity", "value")],
    "sell": [("counterparty",)],
    "buy": [("counterparty",)],
    "ship": [("carrier",), ("consignee",), ("consignee_site",)],
    "waypoint": [("ship",)],
    "receive": [("ship",)],
    "use": [("quantity",), ("quantity", "unit")],
    "return": [("to_org",)],
    "fill": [("quantity",), ("lot",)],
    "inspect": [("outcome",), ("inspector",)],
    "dispose": [("disposer",), ("method",)],
    "destroy": [("method",)],
    "report_loss": [("kind",)],
    "recover": [("report",)],
    "correct": [("corrects",), ("reason",), ("changes",)],
}

REQUIRED_CASES = [
    *[(t, (name,)) for t in ALL_TYPES for name in COMMON_REQUIRED],
    *[(t, ("items", 0, name)) for t in ALL_TYPES for name in LINK_REQUIRED],
    *[(t, ("data", *path)) for t in ALL_TYPES for path in DATA_REQUIRED[t]],
    ("waypoint", ("geo", "lat")),
    ("waypoint", ("geo", "lon")),
]


def _remove(raw: dict[str, Any], path: tuple[str | int, ...]) -> None:
    node: Any = raw
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


@pytest.mark.parametrize(
    ("event_type", "path"),
    REQUIRED_CASES,
    ids=[f"{t}-{'.'.join(map(str, p))}" for t, p in REQUIRED_CASES],
)
def test_missing_required_field_is_named(event_type: str, path: tuple[str | int, ...]) -> None:
    raw = body(event_type)
    _remove(raw, path)
    error = rejects(raw)
    assert error.context["field"] == ".".join([event_type, *map(str, path)])
    assert error.message == "Field required"


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_missing_type_is_named(event_type: str) -> None:
    raw = body(event_type)
    del raw["type"]
    error = rejects(raw)
    assert error.context["field"] == "type"
    assert "discriminator 'type'" in error.message


@pytest.mark.parametrize("bad_type", ["teleport", "USE", "", 5, None])
def test_unknown_type_is_rejected(bad_type: object) -> None:
    raw = body("use")
    raw["type"] = bad_type
    error = rejects(raw)
    assert "does not match any of the expected tags" in error.message


@pytest.mark.parametrize("bad_type", ["teleport", 5, None])
def test_unknown_type_is_named(bad_type: object) -> None:
    raw = body("use")
    raw["type"] = bad_type
    assert field_of(raw) == "type"


def test_waypoint_without_geo_is_rejected() -> None:
    raw = body("waypoint")
    del raw["geo"]
    error = rejects(raw)
    assert error.context["field"] == "waypoint"
    assert "geo" in error.message


def test_empty_items_is_rejected() -> None:
    raw = body("use")
    raw["items"] = []
    assert field_of(raw) == "use.items"


# --- strict types: no coercion --------------------------------------------------------


def _set(path: tuple[str | int, ...], value: object) -> Any:
    def apply(raw: dict[str, Any]) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return apply


STRICT_CASES: list[tuple[str, str, tuple[str | int, ...], object, str]] = [
    # (case id, event type, path, bad value, expected field after the type tag)
    ("float-quantity", "use", ("data", "quantity", "value"), 1.5, "data.quantity.value"),
    ("int-quantity", "use", ("data", "quantity", "value"), 25, "data.quantity.value"),
    ("exponent-quantity", "use", ("data", "quantity", "value"), "1e3", "data.quantity.value"),
    ("leading-zero-quantity", "use", ("data", "quantity", "value"), "025", "data.quantity.value"),
    ("negative-quantity", "use", ("data", "quantity", "value"), "-1", "data.quantity.value"),
    ("unknown-unit", "use", ("data", "quantity", "unit"), "lb", "data.quantity.unit"),
    ("float-v", "use", ("v",), 1.0, "v"),
    ("string-v", "use", ("v",), "1", "v"),
    ("bool-v", "use", ("v",), True, "v"),
    ("false-string-v", "use", ("v",), "false", "v"),
    ("v-3", "use", ("v",), 3, "v"),  # v2 is the newest body version (ship.data.route)
    ("v-0", "use", ("v",), 0, "v"),
    ("string-seq", "use", ("items", 0, "seq"), "1", "items.0.seq"),
    ("bool-seq", "use", ("items", 0, "seq"), True, "items.0.seq"),
    ("false-seq", "commission", ("items", 0, "seq"), False, "items.0.seq"),
    ("false-string-seq", "use", ("items", 0, "seq"), "false", "items.0.seq"),
    ("float-seq", "use", ("items", 0, "seq"), 1.0, "items.0.seq"),
    ("negative-seq", "use", ("items", 0, "seq"), -1, "items.0.seq"),
    ("huge-seq", "use", ("items", 0, "seq"), 2**53 + 1, "items.0.seq"),
    ("false-prev", "commission", ("items", 0, "prev"), False, "items.0.prev"),
    ("false-string-prev", "use", ("items", 0, "prev"), "false", "items.0.prev"),
    ("uppercase-prev", "use", ("items", 0, "prev"), HASH_A.upper(), "items.0.prev"),
    ("unknown-role", "use", ("items", 0, "role"), "owner", "items.0.role"),
    ("lowercase-code", "use", ("items", 0, "code"), "drum-0001", "items.0.code"),
    ("short-code", "use", ("items", 0, "code"), "DR", "items.0.code"),
    ("int-time", "use", ("time",), 1769846400, "time"),
    ("uppercase-org", "use", ("org",), "ACME", "org"),
    ("short-device-key", "use", ("device_key",), "abc", "device_key"),
    ("plaintext-actor", "use", ("actor",), "Zhang San", "actor"),
    ("float-lat", "waypoint", ("geo", "lat"), 39.9, "geo.lat"),
    ("bool-string-outcome", "inspect", ("data", "outcome"), "false", "data.outcome"),
    ("bool-outcome", "inspect", ("data", "outcome"), False, "data.outcome"),
    ("items-as-object", "use", ("items",), {"code": "DRUM-0001"}, "items"),
    ("data-as-list", "use", ("data",), [], "data"),
    ("non-string-change", "correct", ("data", "changes", "data.lot"), 3, "data.changes.data.lot"),
]


@pytest.mark.parametrize(
    ("event_type", "path", "value", "expected"),
    [case[1:] for case in STRICT_CASES],
    ids=[case[0] for case in STRICT_CASES],
)
def test_no_coercion(
    event_type: str, path: tuple[str | int, ...], value: object, expected: str
) -> None:
    raw = body(event_type)
    _set(path, value)(raw)
    assert field_of(raw) == f"{event_type}.{expected}"


EXTRA_FIELD_CASES: list[tuple[str, tuple[str | int, ...], str]] = [
    ("use", (), "use.note"),
    ("use", ("data",), "use.data.note"),
    ("use", ("data", "quantity"), "use.data.quantity.note"),
    ("use", ("items", 0), "use.items.0.note"),
    ("waypoint", ("geo",), "waypoint.geo.note"),
    ("store_in", ("data",), "store_in.data.note"),
    ("transform", ("data", "inputs", 0), "transform.data.inputs.0.note"),
]


@pytest.mark.parametrize(("event_type", "where", "expected"), EXTRA_FIELD_CASES)
def test_extra_fields_are_rejected(
    event_type: str, where: tuple[str | int, ...], expected: str
) -> None:
    raw = body(event_type)
    node: Any = raw
    for part in where:
        node = node[part]
    node["note"] = "x"
    error = rejects(raw)
    assert error.context["field"] == expected
    assert "Extra inputs are not permitted" in error.message


# --- times ----------------------------------------------------------------------------

BAD_TIMES = [
    "2026-01-31T16:00:00+08:00",
    "2026-01-31T08:00:00+00:00",
    "2026-01-31T08:00:00-00:00",
    "2026-01-31T08:00:00",
    "2026-01-31T08:00:00z",
    "2026-01-31 08:00:00Z",
    "2026-01-31t08:00:00Z",
    "2026-01-31",
    "2026-1-31T08:00:00Z",
    "2026-01-31T08:00Z",
    "2026-01-31T08:00:00.Z",
    "2026-01-31T08:00:00.1234567Z",
    "2026-01-31T08:00:00,5Z",
    " 2026-01-31T08:00:00Z",
    "2026-01-31T08:00:00Z\n",
    "+2026-01-31T08:00:00Z",
    "",
]

IMPOSSIBLE_TIMES = [
    "2026-02-30T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-31T24:00:00Z",
    "2026-01-31T23:60:00Z",
    "2016-12-31T23:59:60Z",
    "0000-01-01T00:00:00Z",
]


@pytest.mark.parametrize("text", BAD_TIMES)
def test_non_utc_or_malformed_time_is_rejected(text: str) -> None:
    raw = body("use")
    raw["time"] = text
    error = rejects(raw)
    assert error.context["field"] == "use.time"
    assert "RFC 3339 UTC" in error.message


@pytest.mark.parametrize("text", IMPOSSIBLE_TIMES)
def test_impossible_date_is_rejected(text: str) -> None:
    raw = body("use")
    raw["time"] = text
    error = rejects(raw)
    assert error.context["field"] == "use.time"
    assert "impossible date or time" in error.message


@pytest.mark.parametrize("text", ["2024-02-29T00:00:00Z", "2026-01-31T08:00:00.123456Z"])
def test_edge_of_valid_times_is_accepted(text: str) -> None:
    raw = body("use")
    raw["time"] = text
    assert parse_body(raw).time == text


def test_offset_time_inside_data_is_rejected() -> None:
    raw = body("ship")
    raw["data"]["expected_arrival"] = "2026-02-01T17:00:00+08:00"
    assert field_of(raw) == "ship.data.expected_arrival"


@pytest.mark.parametrize(
    "text", ["２０２６-01-31T08:00:00Z", "2026-01-31T08:00:00.\u0661Z", "\u0662026-01-31T08:00:00Z"]
)
def test_non_ascii_digits_in_time_are_rejected(text: str) -> None:
    # One instant, one spelling: only ASCII digits (regression: \d matched any Unicode digit).
    raw = body("use")
    raw["time"] = text
    error = rejects(raw)
    assert error.context["field"] == "use.time"
    assert "RFC 3339 UTC" in error.message


# --- Unicode normalisation ------------------------------------------------------------

NFC_CASES: list[tuple[str, tuple[str | int, ...], str]] = [
    ("use", ("data", "purpose"), "$.data.purpose"),
    ("store_in", ("data", "location"), "$.data.location"),
    ("ship", ("data", "vehicle"), "$.data.vehicle"),
    ("destroy", ("data", "method"), "$.data.method"),
    ("correct", ("data", "changes", "data.lot"), "$.data.changes.data.lot"),
    ("use", ("items", 0, "code"), "$.items[0].code"),
    ("use", ("org",), "$.org"),
]


@pytest.mark.parametrize(("event_type", "path", "expected"), NFC_CASES)
def test_non_nfc_string_is_rejected_with_its_path(
    event_type: str, path: tuple[str | int, ...], expected: str
) -> None:
    raw = body(event_type)
    _set(path, "caf" + "e\u0301")(raw)
    error = rejects(raw)
    assert error.context["field"] == expected
    assert "NFC" in error.message


def test_nfc_equivalent_precomposed_string_is_accepted() -> None:
    raw = body("use")
    raw["data"]["purpose"] = "caf\u00e9"
    assert parse_body(raw).data.purpose == "café"


def test_non_nfc_key_is_rejected() -> None:
    raw = body("correct")
    raw["data"]["changes"] = {"e\u0301": "x"}
    error = rejects(raw)
    assert error.context["field"] == "$.data.changes"
    assert "key" in error.message


def test_non_nfc_error_is_also_invalid_input() -> None:
    raw = body("use")
    raw["data"]["purpose"] = "e\u0301"
    with pytest.raises(InvalidInputError):
        parse_body(raw)


# --- chain links, items and roles -----------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "index", "seq", "prev"),
    [
        ("commission", 0, 0, HASH_A),  # genesis with a prev
        ("use", 0, 1, None),  # continuation without a prev
        ("use", 0, 7, None),
        ("transform", 1, 0, HASH_B),  # the output's genesis link
        ("transform", 0, 2, None),  # the input's continuation
    ],
)
def test_seq_and_prev_must_agree(event_type: str, index: int, seq: int, prev: str | None) -> None:
    raw = body(event_type)
    raw["items"][index].update(seq=seq, prev=prev)
    error = rejects(raw)
    assert error.context["field"] == f"{event_type}.items.{index}"
    assert "seq 0" in error.message


def test_duplicated_item_codes_are_rejected() -> None:
    raw = body("use")
    raw["items"].append(link("DRUM-0001", 1))
    error = rejects(raw)
    assert error.context["field"] == "use"
    assert "only once" in error.message


def test_duplicated_item_codes_with_different_roles_are_rejected() -> None:
    raw = body("transform")
    raw["items"] = [link("DRUM-0001", 1, "input"), link("DRUM-0001", 2, "output")]
    raw["data"]["outputs"] = [{"code": "DRUM-0001", "quantity": QTY}]
    error = rejects(raw)
    assert "only once" in error.message


def test_distinct_items_are_accepted() -> None:
    raw = body("use")
    raw["items"].append(link("DRUM-0002", 5))
    assert [item.code for item in parse_body(raw).items] == ["DRUM-0001", "DRUM-0002"]


ROLE_CASES = [
    ("use", "input"),
    ("use", "parent"),
    ("ship", "child"),
    ("commission", "output"),
    ("transform", "subject"),
    ("transform", "parent"),
    ("aggregate", "subject"),
    ("aggregate", "input"),
    ("disaggregate", "output"),
]


@pytest.mark.parametrize(("event_type", "role"), ROLE_CASES)
def test_role_not_allowed_for_type(event_type: str, role: str) -> None:
    raw = body(event_type)
    raw["items"][0]["role"] = role
    error = rejects(raw)
    assert error.context["field"] == event_type
    assert f"role {role!r} is not allowed" in error.message


NON_GENESIS_TYPES = [t for t in ALL_TYPES if t not in {"commission", "transform", "aggregate"}]


@pytest.mark.parametrize("event_type", NON_GENESIS_TYPES)
def test_non_genesis_role_cannot_start_a_chain(event_type: str) -> None:
    raw = body(event_type)
    raw["items"][0].update(seq=0, prev=None)
    error = rejects(raw)
    assert error.context["field"] == event_type
    assert "cannot start a chain" in error.message


@pytest.mark.parametrize(
    ("event_type", "index"), [("transform", 0), ("aggregate", 1), ("disaggregate", 0)]
)
def test_genesis_only_for_the_starting_role(event_type: str, index: int) -> None:
    raw = body(event_type)
    raw["items"][index].update(seq=0, prev=None)
    assert "cannot start a chain" in rejects(raw).message


def test_commission_takes_one_item() -> None:
    raw = body("commission")
    raw["items"].append(link("DRUM-0002", 0))
    error = rejects(raw)
    assert error.context["field"] == "commission"
    assert "at most 1" in error.message


def test_aggregate_parent_may_continue_an_existing_chain() -> None:
    raw = body("aggregate")
    raw["items"][0].update(seq=2, prev=HASH_B)
    assert parse_body(raw).items[0].seq == 2


MISMATCH_CASES: list[tuple[str, str, Any, str]] = [
    ("transform", "inputs", [{"code": "DRUM-0009", "quantity": QTY}], "inputs"),
    ("transform", "outputs", [{"code": "DRUM-0001", "quantity": QTY}], "outputs"),
    (
        "transform",
        "outputs",
        [{"code": "DRUM-0002", "quantity": QTY}, {"code": "DRUM-0003", "quantity": QTY}],
        "outputs",
    ),
    ("aggregate", "parent", "PLT-0009", "parent"),
    ("aggregate", "children", ["DRUM-0009"], "children"),
    ("aggregate", "children", ["DRUM-0001", "DRUM-0002"], "children"),
    ("disaggregate", "parent", "DRUM-0001", "parent"),
    ("disaggregate", "children", ["PLT-0001"], "children"),
]


@pytest.mark.parametrize(("event_type", "key", "value", "what"), MISMATCH_CASES)
def test_data_codes_must_match_items(event_type: str, key: str, value: Any, what: str) -> None:
    raw = body(event_type)
    raw["data"][key] = value
    error = rejects(raw)
    assert error.context["field"] == event_type
    assert f"data.{what} must name exactly the items" in error.message


def test_transform_with_several_inputs_and_outputs_parses() -> None:
    raw = body("transform")
    raw["items"] = [
        link("DRUM-0001", 1, "input"),
        link("DRUM-0005", 9, "input"),
        link("DRUM-0002", 0, "output"),
        link("DRUM-0003", 2, "output"),
    ]
    raw["data"]["inputs"] = [
        {"code": "DRUM-0005", "quantity": QTY},
        {"code": "DRUM-0001", "quantity": QTY},
    ]
    raw["data"]["outputs"] = [
        {"code": "DRUM-0003", "quantity": QTY},
        {"code": "DRUM-0002", "quantity": QTY},
    ]
    parsed = parse_body(raw)
    assert parsed.codes_with_role("input") == {"DRUM-0001", "DRUM-0005"}
    assert parsed.codes_with_role("output") == {"DRUM-0002", "DRUM-0003"}


def test_gs1_key_is_accepted() -> None:
    raw = body("commission")
    raw["data"]["gs1_key"] = "(01)09501101530003"
    assert parse_body(raw).data.gs1_key == "(01)09501101530003"


@pytest.mark.parametrize("gs1_key", ["01ABC <script>", "0112345" + "9" * 200, "01A\n02B"])
def test_gs1_key_with_trailing_garbage_is_rejected(gs1_key: str) -> None:
    raw = body("commission")
    raw["data"]["gs1_key"] = gs1_key
    assert field_of(raw) == "commission.data.gs1_key"


# --- body_to_json ---------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_body_to_json_round_trips(event_type: str) -> None:
    # Genesis links keep "prev": null (regression: exclude_none dropped it, breaking re-parse).
    raw = body(event_type)
    dumped = body_to_json(parse_body(raw))
    assert dumped == raw
    assert parse_body(dumped) == parse_body(raw)


def test_body_to_json_keeps_absent_optional_fields_absent() -> None:
    raw = body("use")
    del raw["items"][0]["role"]
    dumped = body_to_json(parse_body(raw))
    assert "role" not in dumped["items"][0]  # type: ignore[index,operator]
    assert "site" not in dumped and "geo" not in dumped


def test_only_commissions_decant_outputs_and_new_pallets_start_chains() -> None:
    from typing import get_args

    from ledger.events import EventType, may_start_chain

    starters = {(t, r) for t in get_args(EventType)
                for r in ("subject", "input", "output", "parent", "child") if may_start_chain(t, r)}  # fmt: skip
    assert starters == {("commission", "subject"), ("transform", "output"), ("aggregate", "parent")}
    assert not may_start_chain("no-such-type", "subject")
