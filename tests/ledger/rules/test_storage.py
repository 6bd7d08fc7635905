"""storage.*: the major-hazard sum, segregation, two-person custody, cylinder inspection."""

from __future__ import annotations

from tests.ledger.rules.scenario import ACTOR, CO_ACTOR, City


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
    assert found.key == "lab|25+31"
    # the strictest cell is named: sodium cyanide is 剧毒 (a separate store of its own)
    assert "chemical 25 (highly_toxic): separate room" in found.message


def test_acid_and_cyanide_made_and_delivered_together_are_found_at_both_sites() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.commission("JUG-1", chemical="31.1", value="10", packaging="bottle")
    received = city.deliver(["DRUM-1", "JUG-1"]).receive
    assert sorted(f.site for f in city.of("storage.incompatible")) == ["lab", "plant"]
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
    city.event("dispose", "user", ["DRUM-1"], {"disposer": "disposer", "method": "burn"},
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
