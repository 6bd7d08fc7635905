"""clone.*: signs that two labels carry one code, or that a label was forged."""

from __future__ import annotations

from datetime import timedelta

from tests.ledger.rules.scenario import INSPECTOR, MANIFEST, City, delivered, north_of

# -- clone.impossible_travel -----------------------------------------------------------------


def test_an_item_seen_in_shanghai_an_hour_after_beijing_is_found() -> None:
    city, received = delivered()
    far = city.use("DRUM-1", "1", site="shanghai", at=city.at(hours=1))

    found = city.only("clone.impossible_travel")
    assert found.evidence == (received, far)
    assert (found.org, found.site, found.item, found.chemical) == (
        "user",
        "shanghai",
        "DRUM-1",
        "33.1",
    )
    assert found.severity == "critical"


def test_two_sightings_at_the_same_moment_far_apart_are_found() -> None:
    city, received = delivered()
    same = city.event("inspect", "user", ["DRUM-1"], {"outcome": "pass", "inspector": INSPECTOR},
                      at=city.clock, geo=north_of("lab", 6))  # fmt: skip
    assert city.only("clone.impossible_travel").evidence == (received, same)


def test_a_plausible_journey_is_fine() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "1", site="shanghai", at=city.at(hours=8))  # 1080 km at 135 km/h
    assert city.rules() == ["custody.unshipped_move"]  # no clone, but no shipment either


def test_sightings_within_the_minimum_distance_are_fine() -> None:
    city, _ = delivered()
    city.event("inspect", "user", ["DRUM-1"], {"outcome": "pass", "inspector": INSPECTOR},
               at=city.clock, geo=north_of("lab", 4.9))  # fmt: skip
    city.use("DRUM-1", "1", site="lab-annex", at=city.clock + timedelta(seconds=1))
    city.clean()


def test_a_sale_recorded_at_the_office_is_not_a_sighting() -> None:
    city = City()
    city.commission("DRUM-1", chemical="6.1")
    city.sell(["DRUM-1"], to="user", site="office", at=city.at(minutes=1))
    city.clean()


# -- clone.after_destruction -------------------------------------------------------------------


def _destroyed() -> tuple[City, str]:
    city, _ = delivered(to="disposer", to_site="kiln")
    destroyed = city.event("destroy", "disposer", ["DRUM-1"], {"method": "incineration"},
                           site="kiln")  # fmt: skip
    city.clean()
    return city, destroyed


def test_a_scan_of_a_destroyed_item_is_found() -> None:
    city, destroyed = _destroyed()
    scan = city.use("DRUM-1", "1", at=city.at(days=3))

    found = city.only("clone.after_destruction")
    assert found.evidence == (destroyed, scan)
    assert (found.org, found.site, found.item) == ("user", "lab", "DRUM-1")


def test_even_an_inspection_of_a_destroyed_item_is_found() -> None:
    city, destroyed = _destroyed()
    scan = city.event("inspect", "disposer", ["DRUM-1"],
                      {"outcome": "pass", "inspector": INSPECTOR}, site="kiln")  # fmt: skip
    assert city.only("clone.after_destruction").evidence == (destroyed, scan)


def test_an_inspection_of_a_disposed_item_is_not_a_clone() -> None:
    city = City()
    city.commission("DRUM-1")
    city.deliver(["DRUM-1"], to="disposer", to_site="kiln")
    city.event("dispose", "disposer", ["DRUM-1"],
               {"disposer": "disposer", "manifest_no": MANIFEST, "method": "burn"},
               site="kiln")  # fmt: skip
    city.event("inspect", "disposer", ["DRUM-1"], {"outcome": "pass", "inspector": INSPECTOR},
               site="kiln")  # fmt: skip
    city.clean()


# -- clone.unissued_code -----------------------------------------------------------------------


def test_a_refused_unissued_code_is_found_once_per_code_and_org() -> None:
    city = City()
    city.journal("unknown_code", "FAKE-1", "trader")
    city.journal("unknown_code", "FAKE-1", "trader")
    city.journal("forged_label", "FAKE-1", "trader")

    found = city.of("clone.unissued_code")
    assert city.rules() == ["clone.unissued_code"] * 2
    first, forged = (f.evidence for f in found)
    assert first[0].startswith("journal:") and forged[0].startswith("journal:")
    assert first != forged
    assert (found[0].org, found[0].item, found[0].severity) == ("trader", "FAKE-1", "critical")


def test_other_refusals_are_not_clone_signs() -> None:
    city = City()
    city.journal("stale_head", "DRUM-1", "maker")
    city.journal("bad_signature", "DRUM-1", "maker")
    city.clean()
