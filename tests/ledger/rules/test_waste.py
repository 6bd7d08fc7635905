"""waste.*: the named disposer holds a hazardous-waste licence for the waste, and each transfer
carries a well-formed manifest (转移联单) number of its own (R-WST-1, 危险废物转移管理办法)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.errors import InvalidInputError
from ledger.events import Dispose, parse_body
from tests.ledger.rules.scenario import ACTOR, MANIFEST, City, rules_config

PROVISIONAL = "^(19|20)[0-9]{2}[1-8][0-9]{5}[0-9]{4,12}$"
"""A numbering scheme a deployment could configure (year, GB/T 2260 division, serial): our
reading, unverified, so the shipped rules judge only the shape of an identifier."""


def _city(
    codes: tuple[str, ...] = ("DRUM-1",), chemical: str = "33.1", pattern: str | None = None
) -> City:
    city = City() if pattern is None else City(rules_config(waste={"manifest_pattern": pattern}))
    for code in codes:
        city.commission(code, chemical=chemical, value="20")
    city.deliver(list(codes))
    city.clean()
    return city


def _dispose(city: City, code: str = "DRUM-1", org: str = "user", site: str = "lab",
             at: datetime | None = None, **data: Any) -> str:  # fmt: skip
    payload = {"disposer": "disposer", "manifest_no": MANIFEST, "method": "burn", **data}
    return city.event("dispose", org, [code], {k: v for k, v in payload.items() if v is not None},
                      site=site, at=at)  # fmt: skip


# -- waste.disposer_unlicensed -------------------------------------------------------------------


def test_waste_handed_to_a_disposer_whose_licence_was_revoked_is_found() -> None:
    city = _city()
    city.revoke("disposer")
    disposed = _dispose(city)
    found = city.only("waste.disposer_unlicensed")
    assert found.evidence == (disposed,)
    assert (found.org, found.site, found.item, found.chemical) == ("user", "lab", "DRUM-1", "33")
    assert found.key == f"{disposed}:disposer"
    assert "disposer holds no hazardous-waste licence" in found.message


def test_a_licence_of_another_kind_or_for_other_waste_does_not_cover_it() -> None:
    for kind, chemicals in (("business", ["all"]), ("disposal", ["25", "class:8"])):
        city = _city()
        city.revoke("disposer")
        city.licence("disposer", ["dispose"], chemicals, kind=kind)
        _dispose(city)
        assert city.rules() == ["waste.disposer_unlicensed"], (kind, city.describe())


def test_a_disposal_licence_for_the_waste_s_class_covers_it() -> None:
    city = _city()
    city.revoke("disposer")
    city.licence("disposer", ["dispose"], ["class:3"], kind="disposal")  # acetone is class 3
    _dispose(city)
    city.clean()


def test_an_unknown_or_suspended_disposer_is_found() -> None:
    city = _city(("DRUM-1", "DRUM-2"))
    _dispose(city, disposer="backyard")
    assert (
        "backyard is not a registered organisation"
        in city.only("waste.disposer_unlicensed").message
    )
    city.record("org", "disposer", name="Disposer", type="disposer", district="chaoyang",
                status="suspended")  # fmt: skip
    _dispose(city, "DRUM-2", manifest_no="20261101050002")
    assert "disposer is suspended" in city.found[-1].message


@pytest.mark.parametrize(("offset_s", "flagged"), [(-1, False), (0, True), (1, True)])
def test_the_licence_covers_until_just_before_its_end(offset_s: int, flagged: bool) -> None:
    city = _city()
    city.revoke("disposer")
    end = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 Beijing on 3 March
    city.licence("disposer", ["dispose"], kind="disposal", valid_until="2026-03-02T16:00:00Z")
    _dispose(city, at=end + timedelta(seconds=offset_s))
    assert city.rules() == (["waste.disposer_unlicensed"] if flagged else []), city.describe()


def test_a_disposer_s_own_disposal_is_left_to_licence_missing() -> None:
    city = City()
    city.commission("DRUM-1", value="20")
    city.deliver(["DRUM-1"], to="disposer", to_site="kiln")
    city.revoke("disposer")
    _dispose(city, org="disposer", site="kiln")
    assert city.rules() == ["licence.missing"], city.describe()


# -- waste.manifest_missing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "why"),
    [
        (None, "no transfer manifest"),
        ("WB-1", "not of the manifest form"),
        ("2026110105001", "not of the manifest form"),  # a 3-digit serial: one short
        ("20261101050000000000001", "not of the manifest form"),  # 13-digit serial: one long
        ("18991101050001", "not of the manifest form"),  # no such year
        ("20260101050001", "not of the manifest form"),  # division codes start 1-8
    ],
)
def test_a_missing_or_malformed_manifest_number_is_found(number: str | None, why: str) -> None:
    city = _city(pattern=PROVISIONAL)
    disposed = _dispose(city, manifest_no=number)
    found = city.only("waste.manifest_missing")
    assert found.evidence == (disposed,)
    assert (found.org, found.site, found.item) == ("user", "lab", "DRUM-1")
    assert why in found.message


@pytest.mark.parametrize(
    ("number", "flagged"),
    [
        ("HW000000001", False),
        ("2026-110105/0001", False),
        ("ABC123", False),
        ("A" * 64, False),
        ("ABC12", True),
        ("A12", True),
    ],
)
def test_the_shipped_rules_judge_only_an_identifier_s_shape(number: str, flagged: bool) -> None:
    # the 2021 measures' numbering scheme was not retrieved (domain-rules R-WST-1 [unverified])
    city = _city()
    _dispose(city, manifest_no=number)
    assert city.rules() == (["waste.manifest_missing"] if flagged else [])


@pytest.mark.parametrize(
    "number", ["20261101050001", "202611010500000000001", "19991101050001", "20268101050001"]
)
def test_well_formed_manifest_numbers_are_quiet(number: str) -> None:
    city = _city(pattern=PROVISIONAL)
    _dispose(city, manifest_no=number)  # serials of 4 and 12 digits, the edges of the form
    city.clean()


def test_a_number_reused_by_another_transferor_is_found() -> None:
    city = City()
    city.commission("DRUM-1", value="20")
    city.commission("DRUM-2", value="20")
    city.deliver(["DRUM-1"])
    first = _dispose(city)
    second = _dispose(city, "DRUM-2", org="maker", site="plant")
    found = city.only("waste.manifest_missing")
    assert found.evidence == (first, second)
    assert found.org == "maker"
    assert "already used for another transfer" in found.message


@pytest.mark.parametrize(
    ("first_at", "second_at", "flagged"),
    [
        # 23:00 and 00:00 Beijing: one UTC date, two Beijing days, so two trips
        ("2026-03-02T15:00:00Z", "2026-03-02T16:00:00Z", True),
        # 00:00 and 23:59 Beijing on 3 March: two UTC dates, one Beijing day, one trip
        ("2026-03-02T16:00:00Z", "2026-03-03T15:59:59Z", False),
        ("2026-03-02T16:00:00Z", "2026-03-03T16:00:00Z", True),
    ],
)
def test_one_number_serves_one_trip_a_beijing_day(
    first_at: str, second_at: str, flagged: bool
) -> None:
    city = _city(("DRUM-1", "DRUM-2"))
    _dispose(city, at=datetime.fromisoformat(first_at.replace("Z", "+00:00")))
    _dispose(city, "DRUM-2", at=datetime.fromisoformat(second_at.replace("Z", "+00:00")))
    assert city.rules() == (["waste.manifest_missing"] if flagged else []), city.describe()


def test_a_disposer_disposing_of_waste_shipped_to_it_without_a_manifest_is_found() -> None:
    # the transfer (maker → disposer) is what the manifest travels with, though the
    # disposal itself names no other organisation
    city = City()
    city.commission("DRUM-1", value="20")
    city.deliver(["DRUM-1"], to="disposer", to_site="kiln")
    disposed = _dispose(city, org="disposer", site="kiln", manifest_no=None)
    found = city.only("waste.manifest_missing")
    assert found.evidence == (disposed,) and found.org == "disposer"
    assert "disposer disposed of waste shipped to it by maker" in found.message


def test_a_disposer_citing_the_transfer_s_manifest_is_quiet() -> None:
    city = City()
    city.commission("DRUM-1", value="20")
    city.deliver(["DRUM-1"], to="disposer", to_site="kiln")
    _dispose(city, org="disposer", site="kiln")
    city.clean()


def test_a_v1_dispose_without_a_manifest_field_still_parses() -> None:
    body = parse_body({
        "v": 1, "type": "dispose", "time": "2026-03-02T08:00:00Z", "org": "user",
        "device_key": "0" * 32, "actor": ACTOR, "catalog_version": "2026-draft.1",
        "items": [{"code": "DRUM-1", "seq": 3, "prev": "sha256:" + "c" * 64, "role": "subject"}],
        "data": {"disposer": "disposer", "method": "burn"},
    })  # fmt: skip
    assert isinstance(body, Dispose) and body.data.manifest_no is None


def test_a_manifest_pattern_that_is_not_a_regex_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError) as caught:
        rules_config(waste={"manifest_pattern": "([0-9]"})
    assert caught.value.context["field"] == "waste.manifest_pattern"


def _filed(city: City, number: str = MANIFEST, **attrs: Any) -> None:
    fields = {"kind": "waste_manifest", "org": "user", "counterparty": "disposer",
              "chemicals": ["33"], "number": number, **attrs}  # fmt: skip
    city.permit(f"m-{number}".lower(), **fields)


def test_a_transferor_that_files_manifests_must_cite_its_own() -> None:
    city = _city(("DRUM-1", "DRUM-2"))
    _filed(city)
    _dispose(city)
    city.clean()
    unfiled = _dispose(city, "DRUM-2", manifest_no="20261101050009")
    found = city.only("waste.manifest_missing")
    assert found.evidence == (unfiled,)
    assert "matches no filed manifest of user" in found.message


@pytest.mark.parametrize(
    "attrs",
    [
        {"counterparty": "kiln-co"},
        {"chemicals": ["25"]},
        {"status": "revoked"},
        {"valid_until": "2026-03-02T09:00:00Z"},
    ],
)
def test_a_filed_manifest_for_other_parties_waste_or_times_does_not_match(
    attrs: dict[str, Any],
) -> None:
    city = _city()
    _filed(city, **attrs)
    _dispose(city)
    assert city.rules() == ["waste.manifest_missing"], city.describe()


def test_a_transferor_that_files_no_manifests_is_judged_on_the_number_alone() -> None:
    city = _city()
    _filed(city, org="maker")  # another organisation's filing
    _dispose(city)
    city.clean()
