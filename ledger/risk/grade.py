"""The enterprise risk grade: points from five inputs, graded by versioned weights. Pure.

Every contribution is a :class:`Reason` with its points and the facts it rests on, so a
grade explains itself and a reader can redo the sum (docs/console.md, "Risk grade").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.risk.inputs import InspectionHistory, LicenceState
from ledger.risk.weights import RiskWeights
from ledger.rules.findings import SEVERITIES


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution: a stable ``code``, the facts it names, and its points."""

    code: str
    points: int
    facts: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What is known of one enterprise when it is graded."""

    open_findings: Mapping[str, int] = field(default_factory=dict)
    """Open findings about the organisation, by severity."""
    largest_ratio: float = 0.0
    """The largest Σq/Q (GB 18218) among its sites."""
    largest_site: str | None = None
    licences: LicenceState = field(default_factory=LicenceState)
    categories: frozenset[str] = frozenset()
    """Catalog categories of the chemicals it holds."""
    inspections: InspectionHistory | None = None
    """``None``: no inspection record was read (the grade says so)."""


@dataclass(frozen=True, slots=True)
class RiskGrade:
    grade: str
    points: int
    weights: str
    """The version of the weights it was graded with."""
    reasons: tuple[Reason, ...]


def risk_grade(inputs: RiskInputs, weights: RiskWeights) -> RiskGrade:
    """Grade one enterprise: the sum of every reason's points, against the grade ladder."""
    reasons = [
        *_findings(inputs, weights),
        *_ratio(inputs, weights),
        *_licences(inputs.licences, weights),
        *_categories(inputs.categories, weights),
        *_inspections(inputs.inspections, weights),
    ]
    total = max(0, sum(reason.points for reason in reasons))
    grade = next((s.grade for s in weights.grades if total < s.below), weights.last_grade)
    return RiskGrade(grade, total, weights.version, tuple(reasons))


def _findings(inputs: RiskInputs, weights: RiskWeights) -> list[Reason]:
    out = []
    for severity in reversed(SEVERITIES):
        count = inputs.open_findings.get(severity, 0)
        each = weights.findings[severity]
        if count and each:
            out.append(
                Reason(
                    "finding", count * each, {"severity": severity, "count": count, "each": each}
                )
            )
    return out


def _ratio(inputs: RiskInputs, weights: RiskWeights) -> list[Reason]:
    ratio = Decimal(repr(inputs.largest_ratio))
    for step in weights.hazard_ratio:
        if ratio >= step.at_least:
            facts: dict[str, str | int] = {
                "ratio": f"{inputs.largest_ratio:.2f}", "at_least": str(step.at_least),
                "site": inputs.largest_site or "—",
            }  # fmt: skip
            return [Reason("hazard_ratio", step.points, facts)] if step.points else []
    return []


def _licences(state: LicenceState, weights: RiskWeights) -> list[Reason]:
    w = weights.licence
    out = []
    if state.organisation_status != "active" and w.organisation_inactive:
        out.append(
            Reason("organisation_inactive", w.organisation_inactive,
                   {"status": state.organisation_status})
        )  # fmt: skip
    for seq, category in state.unlicensed:
        if w.held_unlicensed:
            out.append(
                Reason(
                    "held_unlicensed", w.held_unlicensed, {"chemical": seq, "category": category}
                )
            )
    for number, why in state.lapsed:
        if w.lapsed:
            out.append(Reason("licence_lapsed", w.lapsed, {"licence": number, "why": why}))
    for number, until in state.expiring:
        if w.expiring:
            out.append(
                Reason("licence_expiring", w.expiring,
                       {"licence": number, "until": until, "days": w.expiring_days})
            )  # fmt: skip
    return out


def _categories(categories: frozenset[str], weights: RiskWeights) -> list[Reason]:
    table = weights.categories.points
    out = [
        Reason("category", table[c], {"category": c})
        for c in sorted(categories, key=lambda c: (-table.get(c, 0), c))
        if table.get(c, 0)
    ]
    over = sum(r.points for r in out) - weights.categories.cap
    if over > 0:
        out.append(Reason("category_cap", -over, {"cap": weights.categories.cap}))
    return out


def _inspections(history: InspectionHistory | None, weights: RiskWeights) -> list[Reason]:
    """Every outcome recorded is a reason, even one that weighs nothing: the history shown."""
    w = weights.inspection
    if history is None:
        return []
    if history.total == 0:
        return [Reason("inspection_none", 0, {"days": history.window_days})]
    each = {"fail": w.fail, "observation": w.observation, "pass": w.passed}
    return [
        Reason("inspection", count * each[outcome],
               {"outcome": outcome, "count": count, "each": each[outcome],
                "days": history.window_days})
        for outcome, count in sorted(history.outcomes.items())
        if outcome in each and count
    ]  # fmt: skip
