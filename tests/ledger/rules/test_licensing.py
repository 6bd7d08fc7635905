"""licence.missing: the actor (the carrier, for a shipment) holds a licence for the
activity and chemical at the event's time, as the log stood when the event was logged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.ledger.rules.scenario import City, delivered


def test_a_shipment_by_a_carrier_whose_licence_was_revoked_is_found() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50", packaging="drum")
    city.revoke("carrier")
    shipped = city.ship(["DRUM-1"])

    found = city.only("licence.missing")
    assert found.evidence == (shipped,)
    assert (found.org, found.site, found.item, found.chemical) == (
        "carrier",
        "plant",
        "DRUM-1",
        "25",
    )
    assert found.key == f"{shipped}:carrier"


def test_a_licence_for_the_class_covers_the_chemical() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")  # sodium cyanide, class 6.1
    city.revoke("carrier")
    city.licence("carrier", ["ship"], ["class:6.1"], kind="transport")
    city.ship(["DRUM-1"])
    city.clean()


def test_a_licence_for_another_class_or_chemical_does_not() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.revoke("carrier")
    city.licence("carrier", ["ship"], ["class:3", "33"], kind="transport")
    city.ship(["DRUM-1"])
    assert city.rules() == ["licence.missing"]


def test_a_licence_logged_after_the_event_does_not_excuse_it() -> None:
    city = City()
    city.revoke("maker")
    made = city.commission("DRUM-1")
    city.licence("maker", ["produce"], valid_from="2026-01-01T00:00:00Z")  # backdated
    city.commission("DRUM-2")

    found = city.only("licence.missing")
    assert found.evidence == (made,)
    assert (found.org, found.item) == ("maker", "DRUM-1")


def test_an_expired_licence_is_found() -> None:
    city = City()
    city.revoke("maker")
    city.licence("maker", ["produce"], valid_until="2026-03-02T09:00:00Z")
    city.commission("DRUM-1", at=city.at(minutes=30))
    city.commission("DRUM-2", at=city.at(hours=1))
    assert [f.item for f in city.of("licence.missing")] == ["DRUM-2"]
    assert city.rules() == ["licence.missing"]


def test_a_suspended_organisation_is_found_even_with_a_licence() -> None:
    city = City()
    city.record("org", "maker", name="Maker", type="producer", district="chaoyang",
                status="suspended")  # fmt: skip
    city.commission("DRUM-1")
    found = city.only("licence.missing")
    assert "suspended" in found.message


def test_a_laboratory_needs_no_storage_licence_but_a_warehouse_does() -> None:
    city = City()
    city.commission("DRUM-1")
    city.commission("DRUM-2")
    city.deliver(["DRUM-1"])
    city.deliver(["DRUM-2"], to="store", to_site="depot")
    city.event("store_in", "user", ["DRUM-1"], {}, site="lab")
    city.clean()
    city.revoke("store")
    stored = city.event("store_in", "store", ["DRUM-2"], {}, site="depot")
    found = city.only("licence.missing")
    assert found.evidence == (stored,)
    assert (found.org, found.site) == ("store", "depot")


def test_a_regulator_is_exempt() -> None:
    city = City()
    city.record("org", "inspectorate", name="Inspectorate", type="regulator", district="chaoyang")
    city.commission("DRUM-1", org="inspectorate", site="plant")  # a seized drum, labelled
    city.clean()


# -- holders: receive and use of regulated goods (issue 13, class 6) ---------------------------


def _unlicensed_holder(chemical: str) -> tuple[City, str]:
    """``chemical`` delivered to the laboratory ``user``, whose licence was revoked; no sale."""
    city = City()
    city.commission("DRUM-1", chemical=chemical, value="20")
    city.revoke("user")
    received = city.deliver(["DRUM-1"]).receive
    return city, received


@pytest.mark.parametrize(
    "chemical",
    ["25.1", "28.1", "34.1", "33.1"],  # 剧毒 NaCN, 易制爆 NH4NO3, 易制毒 cat. 2 and cat. 3
)
def test_a_receive_and_a_use_by_an_unlicensed_holder_are_found(chemical: str) -> None:
    city, received = _unlicensed_holder(chemical)
    found = city.only("licence.missing")
    assert found.evidence == (received,)
    assert (found.org, found.site, found.item) == ("user", "lab", "DRUM-1")
    assert found.chemical == chemical.split(".")[0]
    assert found.key == f"{received}:user"
    used = city.use("DRUM-1", "1")
    assert [f.evidence for f in city.of("licence.missing")] == [(received,), (used,)]
    assert "use: user holds no licence or permit" in city.found[-1].message


def test_an_unregulated_chemical_needs_no_holder_licence() -> None:
    city, _ = _unlicensed_holder("6.1")  # methanol: key-supervised, not 剧毒/易制爆/易制毒
    city.use("DRUM-1", "1")
    city.clean()


@pytest.mark.parametrize(
    ("chemical", "kind", "flagged"),
    [
        ("25.1", "purchase_permit", False),  # 剧毒化学品购买许可证
        ("25.1", "police_filing", True),  # a filing is not a 剧毒 purchase permit
        ("28.1", "police_filing", False),  # 易制爆: the purchase's police record
        ("28.1", "precursor_filing", True),
        ("34.1", "precursor_filing", False),  # 易制毒 cat. 2: the purchase filing
        ("34.1", "police_filing", True),
        ("30.1", "precursor_filing", True),  # KMnO4 is 易制毒 cat. 3 and 易制爆: needs both
        ("30.1", "police_filing", True),
        ("30.1", "purchase_permit", False),
    ],
)
def test_a_permit_record_of_the_category_s_kind_lets_a_holder_hold(
    chemical: str, kind: str, flagged: bool
) -> None:
    city = City()
    city.revoke("user")
    city.permit("p-user", kind=kind, org="user", chemicals=[chemical.split(".")[0]])
    city.commission("DRUM-1", chemical=chemical, value="20")
    city.deliver(["DRUM-1"])
    city.use("DRUM-1", "1")
    assert city.rules() == (["licence.missing"] * 2 if flagged else []), city.describe()


def test_kmno4_with_both_filings_is_held_lawfully() -> None:
    city = City()
    city.revoke("user")
    city.permit("p-1", kind="precursor_filing", org="user", chemicals=["30"])
    city.permit("p-2", kind="police_filing", org="user", chemicals=["30"])
    city.commission("DRUM-1", chemical="30.1", value="20")
    city.deliver(["DRUM-1"])
    city.clean()


def test_a_licence_or_permit_for_another_chemical_does_not_let_it_hold() -> None:
    city = City()
    city.revoke("user")
    city.licence("user", ["use"], ["33"])
    city.permit("p-user", kind="purchase_permit", org="user", chemicals=["28"])
    city.commission("DRUM-1", chemical="25.1", value="20")
    city.deliver(["DRUM-1"])
    assert city.rules() == ["licence.missing"]


def test_a_revoked_permit_does_not_count_and_a_suspended_holder_is_found() -> None:
    city = City()
    city.revoke("user")
    city.permit("p-user", kind="purchase_permit", org="user", chemicals=["25"], status="revoked")
    city.commission("DRUM-1", chemical="25.1", value="20")
    city.deliver(["DRUM-1"])
    assert city.rules() == ["licence.missing"]
    licensed = City()
    licensed.record("org", "user", name="User", type="laboratory", district="chaoyang",
                    status="suspended")  # fmt: skip
    licensed.commission("DRUM-1", chemical="25.1", value="20")
    licensed.deliver(["DRUM-1"])
    assert "user is suspended" in licensed.only("licence.missing").message


@pytest.mark.parametrize(("offset_s", "flagged"), [(-1, False), (0, True), (1, True)])
@pytest.mark.parametrize("until", ["2026-03-02T16:00:00Z", "2026-03-03T03:00:00Z"])
def test_a_use_at_the_licence_s_end_is_uncovered(until: str, offset_s: int, flagged: bool) -> None:
    """The window is [valid_from, valid_until): at its end the licence no longer covers.
    16:00Z is 00:00 Beijing; 03:00Z is 11:00 Beijing (no Beijing-date arithmetic either way)."""
    city, _ = delivered(chemical="25.1", value="20")
    city.revoke("user")
    city.licence("user", ["use"], ["25"], valid_until=until)
    end = datetime.fromisoformat(until.replace("Z", "+00:00"))
    city.use("DRUM-1", "1", at=end + timedelta(seconds=offset_s))
    assert city.rules() == (["licence.missing"] if flagged else []), city.describe()


def test_a_licensed_holder_and_a_regulator_are_quiet() -> None:
    city, _ = delivered(chemical="25.1", value="20")  # the lab's licence covers "use" of all
    city.use("DRUM-1", "1")
    city.record("org", "inspectorate", name="Inspectorate", type="regulator", district="chaoyang")
    city.use("DRUM-1", "1", org="inspectorate")
    assert "licence.missing" not in city.rules(), city.describe()


def test_goods_received_under_a_purchase_permit_may_be_used_after_it_lapsed() -> None:
    city = City()
    city.revoke("user")
    city.permit("p-user", kind="purchase_permit", org="user", chemicals=["25"],
                valid_until="2026-03-03T00:00:00Z")  # fmt: skip
    city.commission("DRUM-1", chemical="25.1", value="20")
    city.commission("DRUM-2", chemical="25.1", value="20")
    city.deliver(["DRUM-1"])
    city.use("DRUM-1", "1", at=datetime(2026, 3, 10, 8, tzinfo=UTC))  # the permit has lapsed
    city.clean()
    # what it receives after the permit lapsed is not held under it
    city.clock = datetime(2026, 3, 11, 8, tzinfo=UTC)
    received = city.deliver(["DRUM-2"]).receive
    assert [f.evidence for f in city.of("licence.missing")] == [(received,)]
    # and an organisation suspended since may not use even what it received lawfully
    city.record("org", "user", name="User", type="laboratory", district="chaoyang",
                status="suspended")  # fmt: skip
    city.use("DRUM-1", "1")
    assert "user is suspended" in city.of("licence.missing")[-1].message


@pytest.mark.parametrize(("activities", "flagged"), [(["buy", "store"], True),
                                                     (["buy", "store", "use"], False)])  # fmt: skip
def test_a_licence_to_store_lets_a_holder_hold_regulated_goods_not_use_them(
    activities: list[str], flagged: bool
) -> None:
    # NH4NO3 (易制爆): the laboratory's licence is replaced by one to buy and store only
    city = City()
    city.revoke("user")
    city.licence("user", activities, ["28"])
    city.commission("DRUM-1", chemical="28.1", value="20")
    city.deliver(["DRUM-1"])
    city.clean()  # holding it is covered
    used = city.use("DRUM-1", "1")
    assert [f.evidence for f in city.of("licence.missing")] == ([(used,)] if flagged else [])
