"""The grade's licence state and inspection history, derived from registry facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from api.catalogs import load_rules
from ledger.licences import Licence
from ledger.risk import LicenceState, inspection_history, licence_state
from ledger.rules.world import ChemicalFacts, Chemistry
from tests.ledger.rules.scenario import CATALOG, CATALOGS

NOW = datetime(2026, 10, 1, tzinfo=UTC)
HOLDERS = load_rules().licence.holders


def _facts(code: str) -> ChemicalFacts:
    facts = Chemistry(CATALOGS).facts(CATALOG, code)
    assert facts is not None
    return facts


CYANIDE = _facts("25")  # 氰化钠: highly toxic
METHANOL = _facts("6")  # no holder category


def _licence(number: str, kind: str = "storage", **fields: Any) -> Licence:
    values: dict[str, Any] = {
        "licence_no": number, "org": "o1", "kind": kind, "activities": ("store",),
        "chemicals": ("all",), "valid_from": "2025-01-01T00:00:00Z",
        "valid_until": "2027-06-01T00:00:00Z", "status": "active", "issuer": "registry",
    }  # fmt: skip
    return Licence(**(values | fields))


def _state(
    licences: list[Licence],
    permits: Sequence[dict[str, Any]] = (),
    held: Sequence[ChemicalFacts] = (),
) -> LicenceState:
    return licence_state(licences, permits, held, HOLDERS, NOW, expiring_days=60)


def test_a_valid_licence_covering_what_is_held_leaves_nothing_to_say() -> None:
    state = _state([_licence("L-1")], held=[CYANIDE, METHANOL])
    assert (state.lapsed, state.expiring, state.unlicensed) == ((), (), ())


def test_an_expired_or_suspended_licence_lapses_unless_one_of_its_kind_is_valid() -> None:
    expired = _licence("L-old", valid_until="2026-09-01T00:00:00Z")
    suspended = _licence("L-prod", kind="production", status="suspended")
    assert _state([expired, suspended]).lapsed == (("L-old", "expired"), ("L-prod", "suspended"))
    assert _state([expired, _licence("L-new")]).lapsed == ()


def test_a_licence_not_yet_valid_has_not_lapsed() -> None:
    assert _state([_licence("L-next", valid_from="2027-01-01T00:00:00Z")]).lapsed == ()


def test_a_licence_ending_soon_is_expiring_unless_a_successor_covers_its_end() -> None:
    ending = _licence("L-1", valid_until="2026-11-15T00:00:00Z")
    assert _state([ending]).expiring == (("L-1", "2026-11-15T00:00:00Z"),)
    successor = _licence("L-2", valid_from="2026-11-01T00:00:00Z")
    assert _state([ending, successor]).expiring == ()
    assert _state([_licence("L-3", valid_until="2026-12-15T00:00:00Z")]).expiring == ()


def test_a_regulated_category_held_needs_a_licence_or_a_permit() -> None:
    assert _state([], held=[CYANIDE, METHANOL]).unlicensed == (("25", "highly_toxic"),)
    only_other = _licence("L-1", chemicals=("6",))
    assert _state([only_other], held=[CYANIDE]).unlicensed == (("25", "highly_toxic"),)
    permit = {"kind": "purchase_permit", "status": "active", "chemicals": ["25"],
              "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2025-02-01T00:00:00Z"}  # fmt: skip
    assert _state([], [permit], [CYANIDE]).unlicensed == ()  # lapsed: goods taken under it
    assert _state([], [permit | {"status": "revoked"}], [CYANIDE]).unlicensed != ()
    assert _state([], [permit | {"kind": "police_filing"}], [CYANIDE]).unlicensed != ()


def test_inspections_count_by_outcome_within_the_window() -> None:
    history = inspection_history(
        [("pass", "2026-09-01T00:00:00Z"), ("fail", "2026-03-01T00:00:00Z"),
         ("fail", "2025-09-01T00:00:00Z"), ("observation", "2026-09-30T10:00:00Z")],
        NOW, window_days=365,
    )  # fmt: skip
    assert history.outcomes == {"pass": 1, "fail": 1, "observation": 1}
    assert history.total == 3 and history.latest == "2026-09-30T10:00:00Z"
    assert inspection_history([], NOW, window_days=365).total == 0
