"""The enterprise risk grade: its boundaries, each of its five inputs, and its reasons."""

from __future__ import annotations

import pytest

from api.catalogs import load_risk_weights
from ledger.risk import InspectionHistory, LicenceState, RiskInputs, risk_grade

WEIGHTS = load_risk_weights()
NOTHING = RiskInputs()


def _grade(inputs: RiskInputs) -> str:
    graded = risk_grade(inputs, WEIGHTS)
    assert graded.points == sum(r.points for r in graded.reasons)  # the reasons add up
    return graded.grade


def test_an_enterprise_with_nothing_against_it_is_a_and_names_its_weights() -> None:
    graded = risk_grade(NOTHING, WEIGHTS)
    assert (graded.grade, graded.points, graded.reasons) == ("A", 0, ())
    assert graded.weights == "risk-2026.1"


@pytest.mark.parametrize(
    ("low", "grade"), [(0, "A"), (9, "A"), (10, "B"), (29, "B"), (30, "C"), (59, "C"), (60, "D")]
)
def test_the_grade_boundaries(low: int, grade: str) -> None:
    """One point per open low finding: A below 10, B below 30, C below 60, D from 60."""
    assert _grade(RiskInputs(open_findings={"low": low})) == grade


MOVES = {
    "open findings": (RiskInputs(open_findings={"high": 1, "medium": 2}), 25, "B"),
    "a critical finding": (RiskInputs(open_findings={"critical": 1}), 40, "C"),
    "Σq/Q at a major hazard source": (RiskInputs(largest_ratio=1.2, largest_site="s1"), 40, "C"),
    "Σq/Q at half the threshold": (RiskInputs(largest_ratio=0.5), 15, "B"),
    "a regulated category held without authority": (
        RiskInputs(licences=LicenceState(unlicensed=(("25", "highly_toxic"),))), 30, "C"
    ),
    "a lapsed licence": (
        RiskInputs(licences=LicenceState(lapsed=(("L-1", "expired"),))), 15, "B"
    ),
    "two licences ending unrenewed": (
        RiskInputs(licences=LicenceState(expiring=(("L-1", "2027-01-01T00:00:00Z"),
                                                   ("L-2", "2027-01-02T00:00:00Z")))),
        10, "B",
    ),
    "a suspended organisation": (
        RiskInputs(licences=LicenceState(organisation_status="suspended")), 40, "C"
    ),
    "categories held": (RiskInputs(categories=frozenset({"highly_toxic", "toxic_gas"})), 25, "B"),
    "a failed inspection": (
        RiskInputs(inspections=InspectionHistory(365, {"fail": 1, "pass": 3})), 20, "B"
    ),
    "two observations": (RiskInputs(inspections=InspectionHistory(365, {"observation": 2})), 10, "B"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MOVES))
def test_each_input_moves_the_grade(case: str) -> None:
    inputs, points, grade = MOVES[case]
    graded = risk_grade(inputs, WEIGHTS)
    assert (graded.points, graded.grade) == (points, grade)
    assert graded.grade != risk_grade(NOTHING, WEIGHTS).grade


def test_the_reasons_name_their_facts() -> None:
    inputs = RiskInputs(
        open_findings={"high": 1, "medium": 2},
        largest_ratio=0.62,
        largest_site="depot",
        licences=LicenceState(unlicensed=(("25", "highly_toxic"),)),
        categories=frozenset({"highly_toxic", "flammable_liquid"}),
    )
    reasons = risk_grade(inputs, WEIGHTS).reasons
    assert [(r.code, r.points) for r in reasons] == [
        ("finding", 15), ("finding", 10), ("hazard_ratio", 15), ("held_unlicensed", 30),
        ("category", 15),
    ]  # fmt: skip
    assert reasons[1].facts == {"severity": "medium", "count": 2, "each": 5}
    assert reasons[2].facts == {"ratio": "0.62", "at_least": "0.5", "site": "depot"}
    assert reasons[3].facts == {"chemical": "25", "category": "highly_toxic"}


@pytest.mark.parametrize(
    ("ratio", "points"), [(0.0, 0), (0.099, 0), (0.1, 5), (0.99, 15), (1.0, 40)]
)
def test_only_the_highest_ratio_step_reached_counts(ratio: float, points: int) -> None:
    assert risk_grade(RiskInputs(largest_ratio=ratio), WEIGHTS).points == points


def test_the_categories_held_count_at_most_their_cap() -> None:
    every = frozenset(WEIGHTS.categories.points)
    graded = risk_grade(RiskInputs(categories=every), WEIGHTS)
    assert graded.points == WEIGHTS.categories.cap == 25 and graded.grade == "B"
    assert graded.reasons[-1].code == "category_cap" and graded.reasons[-1].points < 0


def test_no_inspection_on_record_is_said_and_weighs_nothing() -> None:
    graded = risk_grade(RiskInputs(inspections=InspectionHistory(365, {})), WEIGHTS)
    assert [(r.code, r.points, dict(r.facts)) for r in graded.reasons] == [
        ("inspection_none", 0, {"days": 365})
    ]
    passed = risk_grade(RiskInputs(inspections=InspectionHistory(365, {"pass": 2})), WEIGHTS)
    assert passed.points == 0 and [
        (r.code, r.points, r.facts["count"]) for r in passed.reasons
    ] == [("inspection", 0, 2)]  # shown, though a pass weighs nothing


def test_other_weights_grade_the_same_facts_differently() -> None:
    stricter = WEIGHTS.model_copy(update={"findings": {**WEIGHTS.findings, "low": 10}})
    graded = risk_grade(RiskInputs(open_findings={"low": 3}), stricter)
    assert (graded.points, graded.grade) == (30, "C")
