"""dormancy.idle: an item with no event for far longer than usual for its state."""

from __future__ import annotations

from tests.ledger.rules.scenario import MANIFEST, delivered


def test_an_item_idle_181_days_is_found_with_no_further_event() -> None:
    city, received = delivered()
    city.advance(days=180, minutes=1)

    found = city.only("dormancy.idle")
    assert found.evidence == (received,)
    assert (found.org, found.site, found.item, found.chemical) == ("user", "lab", "DRUM-1", "33.1")
    assert found.severity == "low"


def test_an_item_idle_179_days_is_fine() -> None:
    city, _ = delivered()
    city.advance(days=179)
    city.clean()


def test_each_event_restarts_the_clock() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "1", at=city.at(days=170))
    city.advance(days=170)
    city.clean()
    city.advance(days=11)
    assert city.rules() == ["dormancy.idle"]


def test_a_disposed_item_is_never_idle() -> None:
    city, _ = delivered()
    city.event("dispose", "user", ["DRUM-1"], {"disposer": "disposer", "manifest_no": MANIFEST,
               "method": "burn"},
               site="lab")  # fmt: skip
    city.advance(days=400)
    city.clean()


def test_an_item_idle_again_after_a_finding_is_found_again() -> None:
    city, _ = delivered()
    city.advance(days=181)
    moved = city.use("DRUM-1", "1")
    city.advance(days=181)
    assert city.rules() == ["dormancy.idle"] * 2
    assert city.found[1].evidence == (moved,)
