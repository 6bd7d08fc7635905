"""CBV 2.0 §8.9 normalisation rules, one at a time, each with the near miss that must differ."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.epcis.epc_uri import canonical_identifier, check_digit
from ledger.epcis.errors import EpcisFormatError
from ledger.epcis.hash_id import event_hash_id, pre_hash

BASE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-03-01T08:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": ["urn:epc:id:sgtin:6901234.012345.A1", "urn:epc:id:sgtin:6901234.012345.A2"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
}


def _with(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(BASE)
    event.update(changes)
    return event


def _time(value: str) -> str:
    text = pre_hash(_with(eventTime=value))
    return text.split("eventTime=")[1].split("eventTimeZoneOffset")[0]


def test_beijing_local_midnight_is_the_previous_utc_day() -> None:
    assert _time("2026-03-01T00:00:00+08:00") == "2026-02-28T16:00:00.000Z"
    assert _time("2026-03-01T07:59:59.999+08:00") == "2026-02-28T23:59:59.999Z"
    assert _time("2026-03-01T08:00:00+08:00") == "2026-03-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("2023-02-02T11:04:03.1414Z", "2023-02-02T11:04:03.141Z"),
        ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),  # exactly half: up
        ("2023-02-02T11:04:03.1416Z", "2023-02-02T11:04:03.142Z"),
        ("2023-12-31T23:59:59.9995Z", "2024-01-01T00:00:00.000Z"),  # rounds into a new year
        ("2023-12-31T23:59:59.9994Z", "2023-12-31T23:59:59.999Z"),
        ("2023-02-02T11:04:03Z", "2023-02-02T11:04:03.000Z"),
    ],
)
def test_timestamps_round_half_up_to_the_millisecond(written: str, normalised: str) -> None:
    assert _time(written) == normalised


def test_a_timestamp_without_a_zone_is_refused() -> None:
    with pytest.raises(EpcisFormatError) as raised:
        event_hash_id(_with(eventTime="2026-03-01T08:00:00"))
    assert raised.value.code == "epcis_malformed"


@pytest.mark.parametrize(
    ("quantity", "written"),
    [(452, "452"), (452.0, "452"), ("452.000", "452"), (0.5, "0.5"), ("1E+2", "100"), ("0.0", "0")],
)
def test_numbers_lose_insignificant_zeros(quantity: object, written: str) -> None:
    event = _with(
        quantityList=[
            {
                "epcClass": "urn:epc:class:lgtin:6901234.012345.L1",
                "quantity": quantity,
                "uom": "KGM",
            }
        ]
    )
    assert f"quantity={written}uom=KGM" in pre_hash(event)


def test_a_quantity_that_differs_in_the_last_digit_changes_the_hash() -> None:
    def q(value: str) -> str:
        return event_hash_id(
            _with(
                quantityList=[
                    {
                        "epcClass": "urn:epc:class:lgtin:6901234.012345.L1",
                        "quantity": value,
                        "uom": "KGM",
                    }
                ]
            )
        )

    assert q("25.0") == q("25")
    assert q("25.001") != q("25")


def test_list_order_does_not_matter_but_membership_does() -> None:
    swapped = _with(epcList=list(reversed(BASE["epcList"])))
    assert event_hash_id(swapped) == event_hash_id(BASE)
    fewer = _with(epcList=BASE["epcList"][:1])
    assert event_hash_id(fewer) != event_hash_id(BASE)


def test_recording_correcting_and_identifying_an_event_keep_its_hash() -> None:
    declared = _with(
        eventID="urn:uuid:0b8f0b1e-0000-4000-8000-000000000001",
        recordTime="2026-03-02T00:00:00Z",
        errorDeclaration={"declarationTime": "2026-03-02T00:00:00Z", "reason": "incorrect_data"},
        certificationInfo="https://example.org/cert/1",
    )
    assert event_hash_id(declared) == event_hash_id(BASE)


def test_one_bizstep_in_three_spellings_is_one_hash() -> None:
    urn = _with(bizStep="urn:epcglobal:cbv:bizstep:shipping")
    uri = _with(bizStep="https://ref.gs1.org/cbv/BizStep-shipping")
    assert event_hash_id(urn) == event_hash_id(uri) == event_hash_id(BASE)
    assert event_hash_id(_with(bizStep="receiving")) != event_hash_id(BASE)


def test_an_epc_urn_and_its_digital_link_are_one_identity() -> None:
    as_links = _with(
        epcList=[
            "https://id.gs1.org/01/06901234123456/21/A1",
            "https://resolver.example.cn/stem/01/06901234123456/21/A2?17=270101",
        ]
    )
    assert event_hash_id(as_links) == event_hash_id(BASE)


@pytest.mark.parametrize(
    ("urn", "link"),
    [
        ("urn:epc:id:sgtin:6901234.012345.A1", "https://id.gs1.org/01/06901234123456/21/A1"),
        ("urn:epc:id:sscc:6901234.0000000001", "https://id.gs1.org/00/069012340000000016"),
        ("urn:epc:id:sgln:6901234.00001.0", "https://id.gs1.org/414/6901234000016"),
        ("urn:epc:id:sgln:6901234.00001.7", "https://id.gs1.org/414/6901234000016/254/7"),
        ("urn:epc:id:grai:6901234.00002.CYL-9", "https://id.gs1.org/8003/06901234000023CYL-9"),
        ("urn:epc:id:pgln:6901234.00000", "https://id.gs1.org/417/6901234000009"),
        (
            "urn:epc:class:lgtin:6901234.012345.L%2F1",
            "https://id.gs1.org/01/06901234123456/10/L%2F1",
        ),
        ("urn:epc:id:gid:95100000.12345.400", "urn:epc:id:gid:95100000.12345.400"),
        ("urn:chemtrace:code:CT-7K3MQ-9XA2B-4FHCN", "urn:chemtrace:code:CT-7K3MQ-9XA2B-4FHCN"),
    ],
)
def test_gs1_urns_become_canonical_digital_links(urn: str, link: str) -> None:
    assert canonical_identifier(urn) == link


def test_the_gs1_check_digit() -> None:
    # GS1 General Specifications §7.9.1, checked against biip's implementation
    assert check_digit("0690123412345") == "6"
    assert check_digit("0690123412346") == "3"
    assert check_digit("0690123400002") == "3"


def test_extensions_are_namespaced_and_sorted() -> None:
    event = _with(**{"b:z": "1", "a:y": {"a:q": ["3", "1"]}})
    text = pre_hash(event, {"a": "https://a.example/", "b": "https://b.example/"})
    assert text.endswith(
        "{https://a.example/}y{https://a.example/}q=1{https://a.example/}q=3{https://b.example/}z=1"
    )


def test_an_unprefixed_unknown_property_names_itself() -> None:
    with pytest.raises(EpcisFormatError) as raised:
        event_hash_id(_with(temperature="20"))
    assert raised.value.context["field"] == "temperature"


def test_an_extension_inside_read_point_trails_under_its_name() -> None:
    event = _with(readPoint={"id": "urn:epc:id:sgln:6901234.00001.0", "x:dock": "7"})
    text = pre_hash(event, {"x": "https://x.example/"})
    assert text.endswith(
        "readPointid=https://id.gs1.org/414/6901234000016readPoint{https://x.example/}dock=7"
    )


def test_the_hash_id_form() -> None:
    hash_id = event_hash_id(BASE)
    assert hash_id.startswith("ni:///sha-256;") and hash_id.endswith("?ver=CBV2.0")
    assert len(hash_id) == len("ni:///sha-256;") + 64 + len("?ver=CBV2.0")


def test_a_null_extension_states_nothing() -> None:
    namespaces = {"x": "https://x.example/"}
    assert pre_hash(_with(**{"x:note": None}), namespaces) == pre_hash(BASE, namespaces)
    assert pre_hash(_with(**{"x:note": ""}), namespaces) != pre_hash(BASE, namespaces)
