"""storage.*: the major-hazard sum, segregation, two-person custody, cylinder inspection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.rules.world import distance_km
from tests.ledger.rules.scenario import ACTOR, CO_ACTOR, MANIFEST, City, site_point


def _tank(city: City, code: str, tonnes: str, to: str = "store", to_site: str = "depot") -> str:
    """Acetone (Q = 500 t) made at the plant and delivered."""
    city.commission(code, value=tonnes, unit="t", packaging="tank")
    return city.deliver([code], to=to, to_site=to_site).receive


# -- storage.major_hazard ----------------------------------------------------------------------


def test_a_depot_reaching_0_8_then_1_is_warned_then_alerted() -> None:
    city = City()
    _tank(city, "TANK-1", "395")  # Σq/Q = 0.79
    city.clean()
    warned = _tank(city, "TANK-2", "5")  # 0.80
    alerted = _tank(city, "TANK-3", "100")  # 1.00

    warn, alert = city.of("storage.major_hazard")
    assert city.rules() == ["storage.major_hazard"] * 2
    assert (warn.evidence, warn.severity, warn.org, warn.site) == (
        (warned,),
        "medium",
        "store",
        "depot",
    )
    assert (alert.evidence, alert.severity) == ((alerted,), "critical")
    assert "1.00" in alert.message


def test_a_depot_at_0_79_is_fine_and_a_registered_plant_is_never_flagged() -> None:
    city = City()
    _tank(city, "TANK-1", "395")
    city.commission("TANK-2", value="900", unit="t", packaging="tank")  # at the plant: Σ = 1.8
    city.clean()


def test_leaving_and_crossing_again_is_a_new_finding() -> None:
    city = City()
    _tank(city, "TANK-1", "400")
    assert city.rules() == ["storage.major_hazard"]
    city.licence("store", ["store", "use"])  # the depot may draw the tank down (use)
    city.use("TANK-1", "10", unit="t", org="store", site="depot")  # 0.78
    city.use("TANK-1", "1", unit="t", org="store", site="depot")  # 0.778, still below
    _tank(city, "TANK-2", "10")  # 0.798: not yet
    assert city.rules() == ["storage.major_hazard"]
    _tank(city, "TANK-3", "1")  # 0.80 again
    assert city.rules() == ["storage.major_hazard"] * 2


# -- storage.incompatible ----------------------------------------------------------------------


def test_acid_arriving_where_cyanide_is_kept_is_found() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.deliver(["DRUM-1"])
    city.commission("JUG-1", chemical="31.1", value="10", packaging="bottle")
    received = city.deliver(["JUG-1"]).receive

    found = city.only("storage.incompatible")
    assert found.evidence == (received,)
    assert (found.org, found.site, found.item, found.chemical) == ("user", "lab", "JUG-1", "31")
    assert found.key == "lab|highly_toxic+not_highly_toxic|25+31"
    # the strictest cell is named: sodium cyanide is 剧毒 (a separate store of its own)
    assert "chemical 25 (highly_toxic): separate room" in found.message


def test_acid_and_cyanide_made_and_delivered_together_are_found_at_both_sites() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.commission("JUG-1", chemical="31.1", value="10", packaging="bottle")
    received = city.deliver(["DRUM-1", "JUG-1"]).receive
    assert sorted(str(f.site) for f in city.of("storage.incompatible")) == ["lab", "plant"]
    at_lab = [f for f in city.of("storage.incompatible") if f.site == "lab"]
    assert [f.evidence for f in at_lab] == [(received,)]


def test_acid_kept_in_the_annex_is_fine() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.deliver(["DRUM-1"])
    city.commission("JUG-1", chemical="31.1", value="10", packaging="bottle")
    city.deliver(["JUG-1"], to_site="lab-annex")
    city.clean()


def test_an_oxidizer_after_the_flammables_were_used_up_and_disposed_is_fine() -> None:
    city = City()
    city.commission("DRUM-1")  # acetone, class 3
    city.deliver(["DRUM-1"])
    city.event("dispose", "user", ["DRUM-1"], {"disposer": "disposer", "manifest_no": MANIFEST,
               "method": "burn"},
               site="lab")  # fmt: skip
    city.commission("BAG-1", chemical="30.1", value="5", packaging="bag")  # KMnO4, 5.1
    city.deliver(["BAG-1"])
    city.clean()


# -- storage.two_person ------------------------------------------------------------------------


def _cyanide_at_depot() -> City:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.deliver(["DRUM-1"], to="store", to_site="depot")
    city.clean()
    return city


def test_cyanide_stored_by_one_signer_is_found() -> None:
    city = _cyanide_at_depot()
    stored = city.event("store_in", "store", ["DRUM-1"], {"location": "cage 1"}, site="depot")
    found = city.only("storage.two_person")
    assert found.evidence == (stored,)
    assert (found.org, found.site, found.item, found.chemical) == ("store", "depot", "DRUM-1", "25")


def test_the_same_person_signing_twice_is_one_signer() -> None:
    city = _cyanide_at_depot()
    city.event("store_out", "store", ["DRUM-1"], {}, site="depot", co_actor=ACTOR)
    assert city.rules() == ["storage.two_person"]


def test_cyanide_stored_by_two_signers_and_acetone_by_one_are_fine() -> None:
    city = _cyanide_at_depot()
    city.event("store_in", "store", ["DRUM-1"], {}, site="depot", co_actor=CO_ACTOR)
    city.event("store_out", "store", ["DRUM-1"], {}, site="depot", co_actor=CO_ACTOR)
    city.commission("DRUM-2")
    city.deliver(["DRUM-2"], to="store", to_site="depot")
    city.event("store_in", "store", ["DRUM-2"], {}, site="depot")
    # acetone beside the cyanide is a segregation finding (剧毒 need a store of their own),
    # but one signer for acetone is fine
    assert city.rules() == ["storage.incompatible"]


# -- storage.cylinder_overdue ------------------------------------------------------------------


def _cylinder(city: City, due: str) -> str:
    city.commission("CYL-1", chemical="16.1", value="0.5", packaging="cylinder")  # nitrogen
    return city.event("fill", "maker", ["CYL-1"], {"quantity": {"value": "9", "unit": "kg"},
                      "lot": "F1", "inspection_due": due}, site="plant")  # fmt: skip


def test_filling_a_cylinder_past_its_inspection_date_is_found() -> None:
    city = City()
    filled = _cylinder(city, "2026-03-01")  # the fill is on 2026-03-02
    found = city.only("storage.cylinder_overdue")
    assert found.evidence == (filled,)
    assert (found.org, found.site, found.item) == ("maker", "plant", "CYL-1")


def test_a_cylinder_used_on_its_inspection_date_is_fine_and_the_day_after_is_not() -> None:
    city = City()
    _cylinder(city, "2026-03-03")
    city.deliver(["CYL-1"])
    city.use("CYL-1", "1", at=city.at(hours=12))  # 2026-03-02T22:xx... still the 2nd
    city.use("CYL-1", "1", at=city.at(hours=12))  # the 3rd: its inspection date
    city.clean()
    late = city.use("CYL-1", "1", at=city.at(days=1))
    found = city.only("storage.cylinder_overdue")
    assert found.evidence == (late,)
    assert (found.org, found.site) == ("user", "lab")


def test_a_refill_with_a_new_inspection_date_clears_it() -> None:
    city = City()
    _cylinder(city, "2026-03-02")
    city.at(days=2)
    city.event("fill", "maker", ["CYL-1"], {"quantity": {"value": "9", "unit": "kg"},
               "lot": "F2", "inspection_due": "2029-03-01"}, site="plant")  # fmt: skip
    city.event("use", "maker", ["CYL-1"], {"quantity": {"value": "1", "unit": "kg"}}, site="plant")
    city.clean()


def _arrive_in_turn(first: str, second: str) -> City:
    city = City()
    for number, chemical in enumerate((first, second)):
        city.commission(f"CYL-{number}", chemical=chemical, value="20", packaging="cylinder")
        city.deliver([f"CYL-{number}"])
    return city


def test_incompatibility_does_not_depend_on_which_arrives_first() -> None:
    # chlorine is a toxic gas and an oxidizer; methanol is flammable
    for first, second in (("1.1", "6.1"), ("6.1", "1.1")):
        city = _arrive_in_turn(first, second)
        (found,) = city.of("storage.incompatible")
        assert (found.site, found.item) == ("lab", "CYL-1")


def test_groups_two_chemicals_share_do_not_clash() -> None:
    _arrive_in_turn("8.1", "8.1").clean()  # a chemical in two groups is not its own hazard
    _arrive_in_turn("8.1", "21.1").clean()  # ethylene oxide and H2S: both toxic and flammable
    _arrive_in_turn("8.1", "6.1").clean()  # ethylene oxide is flammable itself


# Beijing dates: 2026-03-10T15:59:59Z is 23:59:59 on the 10th, 16:00:00Z is 00:00 on the 11th.


def _cylinder_at_lab(due: str) -> City:
    city = City()
    _cylinder(city, due)
    city.deliver(["CYL-1"])
    city.clean()
    return city


@pytest.mark.parametrize(
    ("used", "overdue"),
    [
        ("2026-03-10T15:59:59Z", False),  # 23:59:59 Beijing on its inspection date
        ("2026-03-10T16:00:00Z", True),  # 00:00:00 Beijing on the 11th, UTC still the 10th
        ("2026-03-10T23:59:59Z", True),  # 07:59:59 Beijing on the 11th
        ("2026-03-11T00:00:00Z", True),
    ],
)
def test_a_cylinder_is_judged_on_the_beijing_date(used: str, overdue: bool) -> None:
    city = _cylinder_at_lab("2026-03-10")
    moment = datetime.fromisoformat(used.replace("Z", "+00:00"))
    city.use("CYL-1", "1", at=moment, log_at=moment + timedelta(seconds=5))
    assert city.rules() == (["storage.cylinder_overdue"] if overdue else []), city.describe()


def test_a_use_in_the_small_hours_is_on_the_beijing_day() -> None:
    city = _cylinder_at_lab("2026-03-09")
    moment = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # 01:00 Beijing on the 10th
    city.use("CYL-1", "1", at=moment)
    assert "on 2026-03-10" in city.only("storage.cylinder_overdue").message


def test_a_cylinder_use_synced_late_is_judged_on_its_signed_date() -> None:
    city = _cylinder_at_lab("2026-03-10")
    moment = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 23:00 Beijing on its date
    city.use("CYL-1", "1", at=moment, log_at=moment + timedelta(hours=72))
    city.clean()


def test_a_cylinder_use_backdated_beyond_the_trust_window_is_judged_at_its_edge() -> None:
    city = _cylinder_at_lab("2026-03-10")
    moment = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    city.use("CYL-1", "1", at=moment, log_at=moment + timedelta(hours=73))
    assert city.rules() == ["storage.cylinder_overdue", "device.late_sync"], city.describe()


# -- storage.incompatible: GHS classes through the GB 15603 matrix ----------------------------


def _gas_at_lab(city: City, code: str, form: str) -> str:
    city.commission(code, chemical=form, value="50", packaging="cylinder")
    return city.deliver([code]).receive


def _segregation(city: City) -> list[tuple[str, str | None, str | None]]:
    return sorted((f.key, f.site, f.chemical) for f in city.of("storage.incompatible"))


def test_chlorine_put_beside_ammonia_is_found_once_per_site_and_pair() -> None:
    city = City()
    _gas_at_lab(city, "NH3-1", "2.1")  # ammonia: Flam. Gas 2 (UN 2.3/8: no flammable class)
    received = _gas_at_lab(city, "CL2-1", "1.1")  # chlorine: Ox. Gas 1 (UN 2.3/5.1/8)
    _gas_at_lab(city, "CL2-2", "1.1")  # the same clash again: the same subject

    (found,) = city.of("storage.incompatible")
    assert (found.key, found.site, found.org, found.item, found.chemical, found.evidence) == (
        "lab|flammable+oxidizer|1+2", "lab", "user", "CL2-1", "1", (received,))  # fmt: skip
    assert "(chemical 1, oxidizer)" in found.message and "chemical 2 (flammable)" in found.message
    assert "segregated under gb15603-provisional" in found.message


def test_ammonia_put_beside_chlorine_is_the_same_sorted_pair() -> None:
    city = City()
    _gas_at_lab(city, "CL2-1", "1.1")
    _gas_at_lab(city, "NH3-1", "2.1")
    assert _segregation(city) == [("lab|flammable+oxidizer|1+2", "lab", "2")]


def test_oxygen_beside_ammonia_is_a_new_pair_but_beside_chlorine_is_fine() -> None:
    city = City()
    _gas_at_lab(city, "NH3-1", "2.1")
    _gas_at_lab(city, "CL2-1", "1.1")
    _gas_at_lab(city, "O2-1", "15.1")  # both oxidizing gases: no cell between them
    assert _segregation(city) == [
        ("lab|flammable+oxidizer|1+2", "lab", "1"),
        ("lab|flammable+oxidizer|2+15", "lab", "15"),
    ]


def test_hydrogen_beside_oxygen_is_found_and_beside_ammonia_is_fine() -> None:
    city = City()
    _gas_at_lab(city, "NH3-1", "2.1")
    _gas_at_lab(city, "H2-1", "4.1")  # flammable beside flammable
    assert _segregation(city) == []
    _gas_at_lab(city, "O2-1", "15.1")
    assert _segregation(city) == [
        ("lab|flammable+oxidizer|2+15", "lab", "15"),
        ("lab|flammable+oxidizer|4+15", "lab", "15"),
    ]


def test_nitrogen_beside_carbon_dioxide_and_oxygen_is_fine() -> None:
    city = City()
    _gas_at_lab(city, "N2-1", "16.1")  # Press. gas only
    _gas_at_lab(city, "CO2-1", "17.1")
    _gas_at_lab(city, "O2-1", "15.1")
    city.clean()


def test_a_highly_toxic_gas_beside_another_highly_toxic_chemical_needs_no_other_store() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")  # sodium cyanide, 剧毒
    city.deliver(["DRUM-1"])
    _gas_at_lab(city, "PH3-1", "24.1")  # phosphine, 剧毒 and flammable: no cell with NaCN
    assert _segregation(city) == []
    _gas_at_lab(city, "N2-1", "16.1")  # anything not 剧毒 beside them is
    assert _segregation(city) == [
        ("lab|highly_toxic+not_highly_toxic|16+24", "lab", "16"),
        ("lab|highly_toxic+not_highly_toxic|16+25", "lab", "16"),
    ]


def test_the_same_pair_at_two_sites_is_two_findings() -> None:
    city = City()
    for site in ("lab", "lab-annex"):
        for code, form in (("NH3", "2.1"), ("CL2", "1.1")):
            city.commission(f"{code}-{site.upper()}", chemical=form, value="50",
                           packaging="cylinder")  # fmt: skip
            city.deliver([f"{code}-{site.upper()}"], to_site=site)
    assert _segregation(city) == [
        ("lab-annex|flammable+oxidizer|1+2", "lab-annex", "1"),
        ("lab|flammable+oxidizer|1+2", "lab", "1"),
    ]


# -- storage.major_hazard: the GB 18218 unit of assessment ------------------------------------


def _site(city: City, site: str, lat: Decimal, lon: Decimal, *, org: str = "maker",
          major: bool = False) -> None:  # fmt: skip
    city.record("site", site, org=org, name=site, address="2 Road", district="fangshan",
                lat=str(lat), lon=str(lon), capacity_t="900", major_hazard=major)  # fmt: skip


WEST = (Decimal("39.7000"), Decimal("115.9000"))
"""An empty place about 9 km from the registered plant."""


def _north(lat: Decimal, metres: Decimal | int) -> Decimal:
    return lat + (Decimal(metres) / Decimal("111195.08")).quantize(Decimal("0.000001"))


def _at_threshold() -> Decimal:
    """The smallest latitude step (at 1e-6°) that puts a site 500 m or more north of WEST."""
    lat, lon = WEST
    step = _north(lat, 500) - lat
    while distance_km((float(lat), float(lon)), (float(lat + step), float(lon))) >= 0.5:
        step -= Decimal("0.000001")
    while distance_km((float(lat), float(lon)), (float(lat + step), float(lon))) < 0.5:
        step += Decimal("0.000001")
    return step


def _acetone(city: City, code: str, site: str, tonnes: str, unit: str = "t") -> str:
    """Acetone (Q = 500 t) made at ``site`` by its maker."""
    return city.commission(code, value=tonnes, unit=unit, site=site, packaging="tank")


def _hazards(city: City) -> list[tuple[str, str, str | None]]:
    found = city.of("storage.major_hazard")
    return [(f.key.rsplit(":", 1)[0], f.severity, f.site) for f in found]


def _two_sites(step: Decimal, *, org: str = "maker") -> City:
    city = City()
    lat, lon = WEST
    _site(city, "west-a", lat, lon)
    _site(city, "west-b", lat + step, lon, org=org)
    return city


def test_two_sites_of_one_enterprise_just_under_500_m_apart_are_one_unit() -> None:
    city = _two_sites(_at_threshold() - Decimal("0.000001"))
    _acetone(city, "TANK-A", "west-a", "250")  # 0.5
    made = _acetone(city, "TANK-B", "west-b", "250000", unit="kg")  # 0.5 more: Σ = 1.00
    (found,) = city.of("storage.major_hazard")
    assert _hazards(city) == [("maker|west-a+west-b:2", "critical", "west-b")]
    assert (found.org, found.evidence) == ("maker", (made,))
    assert "west-a, west-b (less than 500 m apart)" in found.message and "1.00" in found.message


def test_two_sites_exactly_500_m_apart_are_two_units() -> None:
    city = _two_sites(_at_threshold())
    _acetone(city, "TANK-A", "west-a", "250")
    _acetone(city, "TANK-B", "west-b", "250")
    assert city.of("storage.major_hazard") == []


def test_two_sites_just_over_500_m_apart_are_two_units() -> None:
    city = _two_sites(_at_threshold() + Decimal("0.000001"))
    _acetone(city, "TANK-A", "west-a", "399.5")  # 0.799
    _acetone(city, "TANK-B", "west-b", "399.5")
    assert city.of("storage.major_hazard") == []


def test_a_unit_sum_at_0_8_warns_and_just_under_does_not() -> None:
    city = _two_sites(Decimal("0.002"))  # about 222 m
    _acetone(city, "TANK-A", "west-a", "200")  # 0.4
    _acetone(city, "TANK-B", "west-b", "199.999")  # Σ = 0.799998
    assert city.of("storage.major_hazard") == []
    _acetone(city, "TANK-C", "west-b", "1", unit="kg")  # Σ = 0.8
    assert _hazards(city) == [("maker|west-a+west-b:1", "medium", "west-b")]


def test_a_neighbour_of_another_enterprise_is_not_part_of_the_unit() -> None:
    city = _two_sites(Decimal("0.001"), org="store")  # 111 m, but the store's site
    _acetone(city, "TANK-A", "west-a", "250")
    city.commission("TANK-B", value="250", unit="t", org="store", site="west-b",
                    packaging="tank")  # fmt: skip
    assert city.of("storage.major_hazard") == []


def test_sites_chained_under_500_m_are_one_unit_though_the_ends_are_800_m_apart() -> None:
    city = City()
    lat, lon = WEST
    for name, metres in (("west-a", 0), ("west-c", 800)):
        _site(city, name, _north(lat, metres), lon)
        _acetone(city, f"TANK-{name.upper()}", name, "200")  # 0.4 each, two units
    assert city.of("storage.major_hazard") == []
    _site(city, "west-b", _north(lat, 400), lon)  # 400 m from each: the link
    _acetone(city, "TANK-B", "west-b", "100")  # one unit, Σ = 1.0
    assert _hazards(city) == [("maker|west-a+west-b+west-c:2", "critical", "west-b")]


def test_a_site_registered_later_joins_its_neighbour_unit() -> None:
    city = City()
    lat, lon = WEST
    _site(city, "west-a", lat, lon)
    _acetone(city, "TANK-A", "west-a", "300")  # 0.6 alone
    _site(city, "west-b", _north(lat, 300), lon)
    _acetone(city, "TANK-B", "west-b", "200")  # Σ = 1.0 over the two
    assert _hazards(city) == [("maker|west-a+west-b:2", "critical", "west-b")]


def test_an_unregistered_site_beside_a_registered_source_is_named() -> None:
    city = City()
    lat, lon = site_point("plant")
    _site(city, "plant-east", lat, lon + Decimal("0.003"))  # about 257 m east of the plant
    _acetone(city, "TANK-P", "plant", "400")  # 0.8 at the registered plant: quiet alone
    assert city.of("storage.major_hazard") == []
    _site(city, "plant-west", lat, lon - Decimal("0.003"))  # an empty neighbour: still quiet
    assert city.of("storage.major_hazard") == []
    _acetone(city, "TANK-E", "plant-east", "100")  # the unit now reaches 1.0
    (found,) = city.of("storage.major_hazard")
    assert found.key.startswith("maker|plant+plant-east+plant-west:2:")
    assert "plant-east is not registered" in found.message


def test_a_site_with_no_registered_location_is_its_own_unit() -> None:
    city = City()
    _acetone(city, "TANK-A", "shed", "499")  # 0.998: a site with no registry record
    assert city.of("storage.major_hazard")[-1].severity == "medium"
    _acetone(city, "TANK-B", "shed", "1")  # Σ = 1.000
    alert = city.of("storage.major_hazard")[-1]
    assert (alert.key.rsplit(":", 1)[0], alert.org, alert.site) == ("maker|shed:2", "maker", "shed")
    assert "no registered location: assessed as its own unit" in alert.message


def test_a_site_with_no_registered_location_under_0_8_is_quiet() -> None:
    city = City()
    _acetone(city, "TANK-A", "shed", "399.999")
    assert city.of("storage.major_hazard") == []
